"""Two-fact questions: the answer joins facts from two documents linked by a title."""

import json

import numpy as np
import pytest

from qa.answer.multihop import names_subject
from qa.errors import UserError
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


def test_a_sentence_naming_no_subject_is_cited_with_the_one_introducing_it(encyclopedia):
    answer = encyclopedia.ask("In which city was the director of Marrow Creek born?")
    cited = [(c.doc_id, c.sentence_index) for c in answer.citations]
    # "She was born in Pécs" says who only through the entry's first sentence.
    assert ("Elsa Varga", 0) in cited


def test_a_single_fact_question_gets_no_second_document(encyclopedia):
    answer = encyclopedia.ask("What is the population of Dillon?")
    assert {c.doc_id for c in answer.citations} == {"Dillon, Montana"}


def test_names_subject_ignores_disambiguation_and_case():
    assert names_subject("Marrow Creek (film)", "a remake of marrow creek was planned")
    assert not names_subject("Marrow Creek (film)", "the creek ran dry")


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


def test_the_shipped_citer_weights_fit_the_features_the_answerer_computes():
    from pathlib import Path

    from qa.answer.citer import CITER_FEATURES, PAIR_FEATURES, Citer
    from qa.settings import Settings

    citer = Citer.load(Path(Settings().citer))
    assert citer.weights.shape == (len(CITER_FEATURES),) and 0 < citer.threshold < 1 and 0 <= citer.relative < 1
    assert citer.pair_weights.shape == (len(PAIR_FEATURES),)


def test_a_citer_fitted_on_other_features_is_refused(tmp_path):
    from qa.answer.citer import Citer

    stale = tmp_path / "citer.json"
    stale.write_text(json.dumps({"features": ["bias"], "weights": [0.0], "threshold": 0.3, "relative": 0.5,
                                     "per_document": 8}))
    with pytest.raises(UserError, match="train_citer"):
        Citer.load(stale)


def test_a_citer_without_the_pair_model_is_refused(tmp_path):
    from qa.answer.citer import CITER_FEATURES, Citer

    sentences_only = tmp_path / "citer.json"
    sentences_only.write_text(json.dumps({"features": list(CITER_FEATURES), "weights": [0.0] * len(CITER_FEATURES),
                                          "threshold": 0.3, "per_document": 8}))
    with pytest.raises(UserError, match="train_citer"):
        Citer.load(sentences_only)


def test_a_citer_from_before_the_relative_threshold_is_refused(tmp_path):
    from qa.answer.citer import Citer
    from qa.settings import Settings

    fitted = json.loads(open(Settings().citer).read())
    del fitted["relative"]
    older = tmp_path / "citer.json"
    older.write_text(json.dumps(fitted))
    with pytest.raises(UserError, match="train_citer"):
        Citer.load(older)


def test_a_missing_or_garbled_citer_is_refused_with_what_to_do(tmp_path):
    from qa.answer.citer import Citer

    with pytest.raises(UserError, match="missing or unreadable.*set `citer` empty"):
        Citer.load(tmp_path / "absent.json")
    garbled = tmp_path / "citer.json"
    garbled.write_text('{"features": ')
    with pytest.raises(UserError, match="missing or unreadable.*train_citer"):
        Citer.load(garbled)
    not_an_object = tmp_path / "list.json"
    not_an_object.write_text("[1, 2]")
    with pytest.raises(UserError, match="does not fit this version.*train_citer"):
        Citer.load(not_an_object)


def test_documents_are_linked_by_a_title_named_in_the_other_or_in_the_question(encyclopedia):
    from qa.answer.multihop import linked

    index = encyclopedia.index
    assert linked("Who directed it?", index, "Marrow Creek (film)", "Elsa Varga")  # the film names her
    assert linked("Is Pécs larger than Dillon?", index, "Pécs", "Dillon, Montana")  # a comparison
    assert not linked("Who directed it?", index, "Pécs", "Dillon, Montana")


def test_the_learned_citer_picks_the_two_linked_documents(encyclopedia):
    from qa.answer import Extractive

    question = "In which city was the director of Marrow Creek born?"
    index, evidence = _evidence(encyclopedia, question)
    pair = Extractive(encyclopedia.settings).citer.choose(question, evidence, index)
    assert pair is not None
    assert {s.doc_id for s, _ in pair} == {"Marrow Creek (film)", "Elsa Varga"}
    # Even without second_fact's pick: each entry's introduction, and where she was born.
    assert {(s.doc_id, s.index) for s, _ in pair} == {("Marrow Creek (film)", 0), ("Elsa Varga", 0), ("Elsa Varga", 1)}


def _evidence(assistant, question):
    read = assistant.evidence(question, [])
    return read.index, read.evidence


def test_only_linked_pairs_are_candidates_and_a_bridge_is_marked(encyclopedia):
    from qa.answer.citer import PAIR_FEATURES, citer_pairs

    question = "In which city was the director of Marrow Creek born?"
    index, evidence = _evidence(encyclopedia, question)
    pairs, rows = citer_pairs(question, evidence, index)
    features = {frozenset(pair): dict(zip(PAIR_FEATURES, row)) for pair, row in zip(pairs, rows)}
    # The question names the film, whose entry names its director: the bridge of this question.
    assert features[frozenset({"Marrow Creek (film)", "Elsa Varga"})]["bridge"] == 1.0
    assert all(f["bridge"] == 0.0 for pair, f in features.items() if pair != {"Marrow Creek (film)", "Elsa Varga"})
    assert frozenset({"Dillon, Montana", "Pécs"}) not in features  # neither names the other, nor the question them
    assert features[frozenset({"Elsa Varga", "Pécs"})]["one_in_question"] == 0.0
    # A question naming both documents asks about the two: no bridge, though one names the other.
    question = "Was Elsa Varga born in Pécs?"
    index, evidence = _evidence(encyclopedia, question)
    pairs, rows = citer_pairs(question, evidence, index)
    both = dict(zip(PAIR_FEATURES, rows[[set(p) for p in pairs].index({"Elsa Varga", "Pécs"})]))
    assert both["links"] == 1.0 and both["bridge"] == 0.0


def test_the_pair_is_chosen_by_its_own_score_not_by_its_documents_ranks():
    from qa.answer.citer import PAIR_FEATURES, pair_scores

    pairs = [("a", "b"), ("a", "c")]
    rows = np.zeros((2, len(PAIR_FEATURES)))
    rows[1, PAIR_FEATURES.index("bridge")] = 1.0
    best = {"a": 0.9, "b": 0.8, "c": 0.3}  # ranked one by one, a and b would win
    weights = np.zeros(len(PAIR_FEATURES))
    weights[PAIR_FEATURES.index("sum")] = 1.0
    assert np.argmax(pair_scores(pairs, rows, best, weights)) == 0
    weights[PAIR_FEATURES.index("bridge")] = 1.0
    assert np.argmax(pair_scores(pairs, rows, best, weights)) == 1
    assert not rows[:, PAIR_FEATURES.index("sum")].any()  # the caller's rows are left as they were


def test_a_sentence_naming_a_subject_the_question_leaves_unnamed_is_marked(encyclopedia):
    from qa.answer.citer import CITER_FEATURES, citer_candidates

    question = "In which city was the director of Marrow Creek born?"
    index, evidence = _evidence(encyclopedia, question)
    sentences, rows = citer_candidates(question, evidence, index, per_document=8)
    marked = {(s.doc_id, s.index) for s, row in zip(sentences, rows) if row[CITER_FEATURES.index("names_unasked")]}
    # The film's entry names its director and hers names her birthplace; the question names neither.
    assert ("Marrow Creek (film)", 0) in marked and ("Elsa Varga", 1) in marked
    assert ("Marrow Creek (film)", 1) not in marked  # "two brothers … Montana": no retrieved entry's title


def test_a_pair_linked_by_part_of_a_title_is_marked(encyclopedia):
    from qa.answer.citer import PAIR_FEATURES, citer_pairs

    question = "In which city was the director of Marrow Creek born?"
    index, evidence = _evidence(encyclopedia, question)
    pairs, rows = citer_pairs(question, evidence, index)
    share = {frozenset(pair): row[PAIR_FEATURES.index("title_terms")] for pair, row in zip(pairs, rows)}
    # The film's entry never names "Dillon, Montana" whole, but holds both of its words.
    assert share[frozenset({"Marrow Creek (film)", "Dillon, Montana"})] == 1.0
    assert share[frozenset({"Marrow Creek (film)", "Pécs"})] == 0.0


def test_a_document_cites_its_likely_sentences_near_its_best_or_its_best_alone():
    from qa.answer.citer import picked_of

    chance = np.array([0.9, 0.5, 0.4, 0.1])
    assert picked_of([0, 1, 2, 3], chance, threshold=0.3, relative=0.5) == [0, 1]  # 0.4 < half of 0.9
    assert picked_of([0, 1, 2, 3], chance, threshold=0.3, relative=0.0) == [0, 1, 2]
    assert picked_of([3, 2], chance, threshold=0.5, relative=0.5) == [2]  # none reaches 0.5: the best alone


def test_cited_sentences_hold_the_question_together(encyclopedia):
    from qa.answer.multihop import held_together

    question = "In which city was the director of Marrow Creek born?"
    index, evidence = _evidence(encyclopedia, question)
    film, born = index.document_sentences("Marrow Creek (film)")[0], index.document_sentences("Elsa Varga")[1]
    cattle = index.document_sentences("Marrow Creek (film)")[1]  # its title's terms, none of its own
    both = held_together(evidence, [film, born], index)
    assert 0 < held_together(evidence, [film], index) < both < 1  # "city" and "director" are in neither
    assert held_together(evidence, [cattle], index) == held_together(evidence, [film], index)
    assert held_together(evidence, [], index) == pytest.approx(0.0)
