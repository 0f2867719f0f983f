"""Two-fact questions: the reader rates both facts, from two documents, worth citing."""

import json

import numpy as np
import pytest

from qa.support import SentenceVectors

# Encyclopedia-style entries, as in HotpotQA: each opens by naming its subject.
ENTRIES = {
    "Marrow Creek (film)": "Marrow Creek is a 1987 American western film directed by Elsa Varga. "
    "The film follows two brothers who drive cattle across Montana. It was shot near the town of Dillon.",
    "Elsa Varga": "Elsa Varga (1941 - 2019) was a Hungarian-American film director and screenwriter. "
    "She was born in Pécs and moved to Los Angeles in 1962. She taught film at UCLA for twenty years.",
    "Dillon, Montana": "Dillon is a city in Beaverhead County, Montana. Its population was 3,880 at the 2020 census.",
    "Pécs": "Pécs is the fifth largest city of Hungary. It lies on the slopes of the Mecsek mountains.",
}


@pytest.fixture(scope="module")
def encyclopedia(tmp_path_factory, encoder):
    from qa.assistant import Assistant
    from qa.ingest import ingest
    from qa.settings import Settings

    folder = tmp_path_factory.mktemp("entries")
    source = folder / "documents.jsonl"
    source.write_text("".join(json.dumps({"doc_id": t, "title": t, "text": x}) + "\n" for t, x in ENTRIES.items()))
    settings = Settings(index_dir=folder / "index")
    ingest([source], settings, encoder=encoder)
    return Assistant(settings)


def test_a_bridge_question_cites_both_linked_documents(encyclopedia):
    answer = encyclopedia.ask("In which city was the director of Marrow Creek born?")
    assert not answer.abstained
    assert "Pécs" in answer.answer
    cited = {(c.doc_id, c.sentence_index) for c in answer.citations}
    assert ("Elsa Varga", 1) in cited  # the fact: where she was born
    assert any(doc == "Marrow Creek (film)" for doc, _ in cited)  # the bridge: who directed it
    assert not any(doc in ("Dillon, Montana", "Pécs") for doc, _ in cited)


def test_a_single_fact_question_gets_no_second_document(encyclopedia):
    answer = encyclopedia.ask("What is the population of Dillon?")
    assert {c.doc_id for c in answer.citations} == {"Dillon, Montana"}


def test_sentence_vectors_are_the_sentences_own_and_encoded_once(encyclopedia, encoder):
    index = encyclopedia.index
    sentences = index.sentences[:3]
    calls = []

    class Counting:
        name, dimension = encoder.name, encoder.dimension

        def encode(self, texts, **kwargs):
            calls.append(list(texts))
            return encoder.encode(texts, **kwargs)

    cache = SentenceVectors(capacity=10)
    first = cache.of(sentences, Counting())
    again = cache.of(sentences, Counting())
    assert len(calls) == 1
    assert np.allclose(first, again)
    assert np.allclose(first, encoder.encode([s.text for s in sentences]), atol=1e-5)
