import os
import subprocess
import sys

import pytest
from conftest import GROUND_TROOPS, ROOT

from qa.assistant import Assistant, QuestionError


def test_us_ruled_out_ground_troops_citing_both_articles(assistant):
    answer = assistant.ask("What did the US rule out?")
    assert not answer.abstained
    assert "ground troops" in answer.answer
    cited = {(c.doc_id, c.sentence_index) for c in answer.citations}
    assert set(GROUND_TROOPS.items()) <= cited
    # Both ground-troops sentences back one claim: "reported by 2 sources".
    claims = {c.claim for c in answer.citations if (c.doc_id, c.sentence_index) in GROUND_TROOPS.items()}
    assert len(claims) == 1


def test_every_citation_resolves_to_the_document_text(assistant):
    index = assistant.index
    for question in ["What did the US rule out?", "How much did Norway contribute?", "Who described the negotiations as very complex?"]:
        answer = assistant.ask(question)
        assert answer.citations
        for number, c in enumerate(answer.citations, start=1):
            text = index.documents[c.doc_id].document.text
            assert text[c.start : c.end] == c.text
            assert index.document_sentences(c.doc_id)[c.sentence_index].text == c.text
            assert f"[{number}]" in answer.answer


@pytest.mark.parametrize(
    "question",
    ["What is the capital of Peru?", "Who won the 2022 World Cup?", "What is the recipe for borscht?"],
)
def test_abstains_when_the_documents_do_not_say(assistant, question):
    answer = assistant.ask(question)
    assert answer.abstained and not answer.citations
    assert answer.answer.startswith("The documents don't say")


def test_follow_up_uses_the_previous_turn(assistant):
    first = "Who leads the Coalition of the Willing?"
    assert "United Kingdom and France" in assistant.ask(first).answer
    follow_up = assistant.ask("How many countries are ready to send personnel to it?", history=[first])
    assert "10 countries" in follow_up.answer
    assert first in follow_up.retrieval_query
    alone = assistant.ask("How many countries are ready to send personnel to it?")
    assert alone.retrieval_query == "How many countries are ready to send personnel to it?"


def test_a_specific_fact_is_answered_from_the_right_sentence(assistant):
    answer = assistant.ask("How much did Norway contribute?")
    assert "$685 million" in answer.answer
    assert answer.citations[0].doc_id == "001_7b5fe780b854878b.txt"


@pytest.mark.parametrize("question", ["", "   \n\t", None])
def test_empty_question_is_refused_clearly(assistant, question):
    with pytest.raises(QuestionError, match="empty"):
        assistant.ask(question)


def test_restricting_to_documents(assistant):
    answer = assistant.ask("What did the US rule out?", doc_ids=["001_7b5fe780b854878b.txt"])
    assert {c.doc_id for c in answer.citations} == {"001_7b5fe780b854878b.txt"}
    assert assistant.ask("What did the US rule out?", doc_ids=["unknown"]).abstained


def test_timings_are_reported(assistant):
    timings = assistant.ask("Who leads the Coalition of the Willing?").timings_ms
    assert {"retrieve", "support", "answer", "total"} <= set(timings)
    assert timings["total"] >= timings["retrieve"] > 0


def test_a_confident_short_answer_leads_and_lies_in_its_citation(assistant):
    answer = assistant.ask("How many countries are ready to send personnel?")
    short = answer.short_answer
    assert short is not None and "10" in short.text
    assert answer.citations[short.citation - 1].text[short.start : short.end] == short.text
    record = answer.to_json()
    assert record["short_answer"] == short.text
    assert record["short_answer_at"] == {"citation": short.citation, "start": short.start, "end": short.end}
    assert "short_answer" in answer.timings_ms


def test_no_short_answer_without_an_answer_or_confidence(assistant):
    assert assistant.ask("What is the capital of Peru?").short_answer is None
    # The best span of the cited sentence is too unsure to lead with: the sentence alone answers.
    assert assistant.ask("What did the US rule out?").short_answer is None


def test_warm_up_loads_every_model_before_the_first_question(sample_index):
    # In a fresh process: the models are shared within one, and other tests here have loaded them.
    probe = f"""
from qa.assistant import Assistant
from qa.settings import Settings
assistant = Assistant(Settings.load(index_dir={str(sample_index)!r}))
assistant.warm_up()
print(assistant.encoder._loaded._value is not None, assistant.sentence_encoder._loaded._value is not None,
      assistant.reader._session is not None, assistant.short_answers._session is not None,
      sorted(assistant._answerers))
"""
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"})
    assert done.stdout.split() == ["True", "True", "True", "True", "['extractive']"], done.stderr


def test_warm_up_refuses_a_missing_index_with_its_message(tmp_path):
    from qa.errors import UserError
    from qa.settings import Settings

    with pytest.raises(UserError, match="index"):
        Assistant(Settings.load(index_dir=tmp_path / "nothing")).warm_up()
