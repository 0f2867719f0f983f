"""The vector stores behind the index: FAISS (exact or HNSW by size) and Milvus through Milvus Lite."""

import json
import sys

import numpy as np
import pytest
from conftest import CORPUS, GROUND_TROOPS, add_change_and_remove
from test_cli import qa

from qa import store, vectors
from qa.assistant import Assistant
from qa.errors import UserError
from qa.ingest import ingest
from qa.settings import Settings
from qa.store import IndexProblem

QUESTIONS = [
    "What did the US rule out?",
    "How much did Norway contribute?",
    "Who is Keith Kellogg?",
    "security guarantees for Ukraine",
    "European troops after a ceasefire",
]


def open_(settings, encoder, vector_store=None):
    return store.open_index(settings.index_dir, encoder.name, encoder.dimension,
                            settings.index_fingerprint(encoder.name), vector_store)


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


def test_milvus_lite_ingest_ask_and_same_results_as_faiss(tmp_path, corpus_copy, sample_index, encoder):
    settings = Settings(index_dir=tmp_path / "index", vector_store=str(tmp_path / "vectors.db"))
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert (report.documents, report.sentences) == (2, 35)
    index = open_(settings, encoder, settings.vector_store)
    assert index.manifest["store"] == str((tmp_path / "vectors.db").resolve())
    assert index.manifest["collection"].startswith("groundqa_") and index.manifest["index_type"] == "flat"
    assert (index.path / "vectors.npy").is_file() and not (index.path / "faiss.index").exists()

    faiss_index = open_(Settings(index_dir=sample_index), encoder)
    assert [s.id for s in index.sentences] == [s.id for s in faiss_index.sentences]
    assert_same_search(index, faiss_index.dense, encoder)

    answer = Assistant(settings).ask("What did the US rule out?")
    assert "ground troops" in answer.answer
    assert set(GROUND_TROOPS.items()) <= {(c.doc_id, c.sentence_index) for c in answer.citations}
    # eval's distractor setting: search only some documents.
    restricted = Assistant(settings).ask("What did the US rule out?", doc_ids=["000_03cab0ef675863a0.txt"])
    assert {h.sentence.doc_id for h in restricted.hits} == {"000_03cab0ef675863a0.txt"}


def test_milvus_incremental_update_replaces_drops_and_cleans_up(tmp_path, corpus_copy, encoder):
    # ann_from=30: 35 sentences start on HNSW; the update leaves 18, so it crosses back to exact.
    settings = Settings(index_dir=tmp_path / "index", vector_store=str(tmp_path / "vectors.db"), ann_from=30)
    ingest([corpus_copy], settings, encoder=encoder)
    old = open_(settings, encoder)
    assert old.manifest["index_type"].startswith("hnsw(")
    client = vectors.from_setting(settings.vector_store)._client()
    query = encoder.encode(["What did the US rule out?"])[0]

    def orphans(collection):
        """What a killed ingest leaves: vectors no generation knows, right where the query looks."""
        client.upsert(collection, [{"id": f"orphan{i}", "born": "0", "vector": query} for i in range(20)])

    orphans(old.manifest["collection"])
    rows, _ = old.dense(query, 5)
    assert set(rows.tolist()) == set(exact(old, query, 5)[0].tolist())

    again = ingest([corpus_copy], settings, encoder=encoder)
    assert again.embedded == 0 and again.count("unchanged") == 2

    add_change_and_remove(corpus_copy)
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert report.removed == 1 and report.documents == 2 and report.embedded == 16 + 2
    index = open_(settings, encoder)
    collection = index.manifest["collection"]
    assert index.manifest["index_type"] == "flat" and collection != old.manifest["collection"]
    assert client.get_collection_stats(collection)["row_count"] == len(index.sentences) == 18
    assert_same_search(index, lambda q, k: exact(index, q, k), encoder)
    rows, _ = old.dense(query, 10)  # a reader still on the old generation gets only rows it knows
    assert len(rows) == 10 and rows.max() < len(old.sentences)

    # Now the collection is reused: new sentences go in, replaced ones and orphans go out.
    orphans(collection)
    (corpus_copy / "notes.md").write_text("# Notes\nThe zebra migration starts in August.\n")
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert report.embedded == 2 and report.sentences == 18
    newest = open_(settings, encoder)
    assert newest.manifest["collection"] == collection
    assert client.get_collection_stats(collection)["row_count"] == 18
    assert old.manifest["collection"] not in client.list_collections()  # no kept generation uses it
    assistant = Assistant(settings)
    answer = assistant.ask("When does the zebra migration start?")
    assert "August" in answer.answer and answer.citations[0].doc_id == "notes.md"
    assert not any("ground troops" in h.sentence.text for h in assistant.ask("What did the US rule out?").hits)


def test_rebuild_moves_an_index_to_milvus_without_embedding_again(index_copy, corpus_copy, encoder):
    lite = str(index_copy.parent / "vectors.db")
    with pytest.raises(IndexProblem, match=r"keeps its vectors in faiss, not .*vectors\.db.*--rebuild"):
        ingest([corpus_copy], Settings(index_dir=index_copy, vector_store=lite), encoder=encoder)
    with pytest.raises(IndexProblem, match="keeps its vectors in faiss"):
        open_(Settings(index_dir=index_copy), encoder, lite)

    report = ingest([corpus_copy], Settings(index_dir=index_copy, vector_store=lite), encoder=encoder, rebuild=True)
    assert report.embedded == 0 and report.sentences == 35
    index = open_(Settings(index_dir=index_copy), encoder, lite)
    assert index.manifest["store"].endswith("vectors.db")
    with pytest.raises(IndexProblem, match=r"keeps its vectors in .*vectors\.db, not faiss"):
        open_(Settings(index_dir=index_copy), encoder, "faiss")
    answer = Assistant(Settings(index_dir=index_copy, vector_store=lite)).ask("What did the US rule out?")
    assert "ground troops" in answer.answer


def test_store_settings_are_parsed_and_bad_ones_refused():
    cluster = vectors.from_setting("milvus://reader:s%40cret@milvus.internal")
    assert (cluster.uri, cluster.name, cluster.token) == (
        "http://milvus.internal:19530", "milvus://milvus.internal:19530", "reader:s@cret")
    assert "s@cret" not in repr(cluster)
    assert vectors.same_store("milvus://milvus.internal:19530", cluster.name)
    assert vectors.from_setting("https://zilliz.example:443").uri == "https://zilliz.example:443"
    assert vectors.from_setting("faiss").name == "faiss"
    with pytest.raises(vectors.VectorStoreError, match="Unknown vector store"):
        vectors.from_setting("elasticsearch")


def test_milvus_without_pymilvus_gives_the_install_hint(tmp_path, corpus_copy, encoder, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # makes `import pymilvus` fail
    monkeypatch.setattr(vectors, "_CLIENTS", {})
    settings = Settings(index_dir=tmp_path / "index", vector_store=str(tmp_path / "vectors.db"))
    with pytest.raises(UserError, match=r"pip install 'groundqa\[milvus\]'.*previous index is unchanged"):
        ingest([corpus_copy], settings, encoder=encoder)
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_cli_store_flag_builds_and_asks_milvus_and_refuses_a_mismatch(tmp_path):
    index, lite = tmp_path / "index", tmp_path / "vectors.db"
    done = qa("ingest", CORPUS, "--index", index, "--store", lite, "--quiet")
    assert done.returncode == 0, done.stderr
    done = qa("ask", "What did the US rule out?", "--index", index, "--store", lite, "--json")
    assert done.returncode == 0, done.stderr
    assert "ground troops" in json.loads(done.stdout)["answer"]
    for command in (("ingest", CORPUS), ("ask", "What did the US rule out?")):  # the default store is faiss
        done = qa(*command, "--index", index, "--quiet" if command[0] == "ingest" else "--json")
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert f"keeps its vectors in {lite}, not faiss" in done.stderr and "--rebuild" in done.stderr
