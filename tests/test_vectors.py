"""Dense search in an index folder: exact FAISS while small, HNSW from ann_from sentences on."""


import numpy as np

from qa import store
from qa.ingest import ingest
from qa.settings import Settings

QUESTIONS = [
    "What did the US rule out?",
    "How much did Norway contribute?",
    "Who is Keith Kellogg?",
    "security guarantees for Ukraine",
    "European troops after a ceasefire",
]


def open_(settings, encoder):
    return store.open_index(settings.index_dir, encoder.name, encoder.dimension, settings.index_fingerprint(encoder.name))


def exact(index, query, k):
    scores = index.vectors_at(slice(None)) @ query
    top = np.argsort(-scores)[:k]
    return top, scores[top]


def assert_same_search(index, reference, encoder, k=10):
    """Same rows by the same cosines as `reference`; ties may swap places, so compare as sets."""
    for query in encoder.encode(QUESTIONS):
        rows, scores = index.dense(query, k)
        want_rows, want_scores = reference(query, k)
        assert set(rows.tolist()) == set(want_rows.tolist())
        np.testing.assert_allclose(scores, want_scores, atol=1e-4)


def test_faiss_switches_to_hnsw_from_ann_from_sentences(tmp_path, corpus_copy, encoder):
    settings = Settings(index_dir=tmp_path / "index", ann_from=10)
    ingest([corpus_copy], settings, encoder=encoder)
    index = open_(settings, encoder)
    assert index.manifest["index_type"].startswith("hnsw(") and index.manifest["store"] == "faiss"
    assert (index.path / "faiss.index").is_file()
    assert_same_search(index, lambda q, k: exact(index, q, k), encoder)


def test_faiss_below_ann_from_is_exact_and_keeps_no_graph(sample_index, encoder):
    index = open_(Settings(index_dir=sample_index), encoder)
    assert index.manifest["index_type"] == "flat"
    assert not (index.path / "faiss.index").exists()
