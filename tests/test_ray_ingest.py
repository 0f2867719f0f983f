"""Splitting and embedding on Ray gives what qa.ingest.split_and_embed gives, in the same order."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa import ray_ingest
from qa.documents import discover, load
from qa.embedding import MODEL_NAME, default_encoder
from qa.errors import UserError
from qa.ingest import split_and_embed
from qa.ray_ingest import split_and_embed_on_ray
from qa.settings import Settings
from qa.types import Document


def test_missing_ray_says_how_to_install_it(monkeypatch, encoder):
    monkeypatch.setitem(sys.modules, "ray", None)
    docs = [Document("a", "A", "One sentence.", "a")]
    with pytest.raises(UserError, match=r"pip install 'groundqa\[ray\]'"):
        split_and_embed_on_ray(docs, Settings(), encoder.name, None)


def test_an_unknown_model_is_refused(encoder):
    with pytest.raises(UserError, match="Unknown embedding model"):
        split_and_embed_on_ray([Document("a", "A", "One sentence.", "a")], Settings(), "some other model", None)


def test_ray_client_addresses_are_refused_with_what_works_instead(encoder):
    with pytest.raises(UserError, match="GCS address"):
        split_and_embed_on_ray([Document("a", "A", "One sentence.", "a")], Settings(), encoder.name, "ray://head:10001")


def documents(corpus: Path, settings: Settings) -> list[Document]:
    """The corpus loaded as qa.ingest loads it, and the kinds of document it lacks: one with pages,
    one located by regions, one without a sentence, one whose title is its only sentence."""
    found, problems = discover([corpus])
    assert not problems
    docs = [doc for item in found for doc in load(item, settings.limits)[0]]
    assert len(docs) == 2
    pages = "The first page opens here.\nIt wraps onto a second line.\n\nPage two says more. Then it ends."
    return docs + [
        Document("paged.pdf", "Paged", pages, "paged.pdf", page_starts=(0, pages.index("Page two"))),
        Document("deck.pptx", "Deck", "Slide one speaks.\nSlide two answers.", "deck.pptx",
                 regions=((0, {"slide": 1}), (18, {"slide": 2}))),
        Document("rule.txt", "Rule", "----\n***\n", "rule.txt"),
        Document("note.md", "Only line", "Only line", "note.md"),
    ]


def run_both(docs, settings, encoder):
    """Both ways, with the sizes each reported to `embedded`."""
    local_sizes, ray_sizes = [], []
    local = list(split_and_embed(docs, settings, encoder, local_sizes.append))
    on_ray = list(split_and_embed_on_ray(docs, settings, encoder.name, None, ray_sizes.append))
    return local, on_ray, sum(local_sizes), sum(ray_sizes)


def assert_same(local, on_ray):
    assert len(on_ray) == len(local)
    for (want, want_vectors), (got, got_vectors) in zip(local, on_ray):
        assert [(s.id, s.doc_id, s.index, s.start, s.end, s.text, s.page, s.locator) for s in got] == \
               [(s.id, s.doc_id, s.index, s.start, s.end, s.text, s.page, s.locator) for s in want]
        assert got_vectors.dtype == np.float32 and got_vectors.shape == want_vectors.shape and got_vectors.flags.writeable
        np.testing.assert_allclose(got_vectors, want_vectors, atol=1e-5)


def test_starts_its_own_ray_and_full_precision_vectors_agree(corpus_copy):
    """Before the module's Ray starts (tests run in file order): with none running, the function
    starts a local one and ends it when the documents are done. At full precision the workers'
    batches differ from split_and_embed's, so vectors agree within tolerance, not bit for bit."""
    import ray

    assert not ray.is_initialized()
    settings = Settings(embedding="fp32")
    encoder = default_encoder("fp32")
    assert encoder.name == MODEL_NAME
    local, on_ray, _, _ = run_both(documents(corpus_copy, settings)[:2], settings, encoder)
    assert_same(local, on_ray)
    assert not ray.is_initialized()


@pytest.fixture(scope="module")
def ray_running():
    """A Ray the caller started itself, once for the module (a start takes seconds on 2 cores)."""
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_same_sentences_and_vectors_in_the_same_order(ray_running, corpus_copy, encoder, monkeypatch):
    monkeypatch.setattr(ray_ingest, "BLOCK_CHARS", 1)  # a block per document: six that could come back out of order
    settings = Settings(window=1)  # not the default: the workers must get the caller's settings
    docs = documents(corpus_copy, settings)
    local, on_ray, local_count, ray_count = run_both(docs, settings, encoder)
    assert_same(local, on_ray)
    assert [len(sentences) for sentences, _ in on_ray][2:] == [4, 2, 0, 1]
    assert on_ray[3][0][1].locator == {"slide": 2} and on_ray[2][0][-1].page == 2
    assert ray_count == local_count == sum(len(sentences) for sentences, _ in local) > 35
    assert ray_running.is_initialized()  # the caller's Ray: used, not shut down


def test_qa_ingest_on_ray_into_milvus_answers_the_sample_gold_set_as_a_local_ingest(ray_running, corpus_copy, sample_index,
                                                                                    tmp_path, encoder):
    """The issue's check end to end: `ingest(..., ray="")` (what `qa ingest --ray` calls), written
    to Milvus Lite, against the single-process ingest into a folder."""
    import json

    from qa import milvus
    from qa.assistant import Assistant
    from qa.ingest import ingest

    on_ray = Settings(index_dir=tmp_path / "unused", vector_store=str(tmp_path / "ray.db"))
    report = ingest([corpus_copy], on_ray, encoder=encoder, ray="")
    assert (report.documents, report.sentences, report.embedded) == (2, 35, 35)
    local = Settings(index_dir=sample_index)
    target = milvus.target_of(on_ray.vector_store)
    ray_index, local_index = milvus.load(target, milvus.live_collection(target), {}), Assistant(local).index
    assert [s.id for s in ray_index.sentences] == [s.id for s in local_index.sentences]
    np.testing.assert_allclose(ray_index.vectors_at(slice(None)), local_index.vectors_at(slice(None)), atol=1e-3)

    gold = [json.loads(line) for line in (Path(__file__).parent.parent / "eval" / "sample_gold.jsonl").open()]
    ray_assistant, local_assistant = Assistant(on_ray), Assistant(local)
    for question in gold:
        history = question.get("history") or []
        got, want = ray_assistant.ask(question["question"], history), local_assistant.ask(question["question"], history)
        assert got.answer == want.answer, question["id"]
        assert [c.id for c in got.citations] == [c.id for c in want.citations], question["id"]
