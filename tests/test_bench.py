"""`qa bench` runs end to end on a tiny configuration and ends with the promised JSON figures."""

from __future__ import annotations

import json

import pytest

from qa.cli import main

from conftest import BENCHMARKS

KEYS = {
    "ingest_sentences_per_s", "llamaindex_ingest_sentences_per_s", "ingest_speedup_vs_llamaindex",
    "embed_only_sentences_per_s", "pipeline_efficiency", "index_sentences", "query_p50_ms", "query_p95_ms",
    "ann_recall_at_10", "peak_rss_mb", "bytes_per_sentence", "cold_start_s", "hotpotqa_dev_recall_at_10",
}


@pytest.mark.slow  # about a minute: it loads llama-index and torch for the reference pipeline
@pytest.mark.skipif(not (BENCHMARKS / "hotpotqa").is_dir(), reason="needs ../shared/benchmarks")
def test_bench_prints_every_figure_last(tmp_path, capsys, encoder):
    code = main(["bench", "--tiny", "--data", str(BENCHMARKS), "--work", str(tmp_path / "work"),
                 "--cache", str(tmp_path / "cache")])
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(lines[-1])
    assert KEYS <= set(figures)
    assert figures["index_sentences"] >= 500
    assert 0 < figures["ann_recall_at_10"] <= 1 and 0 < figures["hotpotqa_dev_recall_at_10"] <= 1
    assert figures["ingest_sentences_per_s"] > 0 and figures["cold_start_s"] > 0
    # A second run answers from the cached embeddings: nothing of the large index is embedded again.
    main(["bench", "--tiny", "--data", str(BENCHMARKS), "--work", str(tmp_path / "work2"),
          "--cache", str(tmp_path / "cache")])
    assert "0 embedded now" in capsys.readouterr().out


def test_bench_without_data_says_where_it_looked(tmp_path, capsys):
    assert main(["bench", "--tiny", "--data", str(tmp_path), "--work", str(tmp_path / "w")]) == 1
    assert "No benchmark data" in capsys.readouterr().err


SCALE_KEYS = {
    "sentences", "faiss_query_p50_ms", "faiss_query_p95_ms", "faiss_ann_recall_at_10", "milvus_query_p50_ms",
    "milvus_query_p95_ms", "milvus_recall_at_10", "faiss_answer_rss_mb", "milvus_answer_rss_mb",
    "milvus_answer_rss_mb_at_100k", "faiss_answer_rss_mb_at_100k", "faiss_build_s", "milvus_build_s",
    "perturbed_copies", "reference_sentences",
}


@pytest.mark.slow  # about a minute: two runs, each answering from 4 new processes and 2 Milvus Lite servers
@pytest.mark.skipif(not (BENCHMARKS / "hotpotqa").is_dir(), reason="needs ../shared/benchmarks")
def test_scale_bench_compares_faiss_and_milvus_on_perturbed_copies(tmp_path, capsys):
    from qa import store
    from qa.bench import SCALE_TINY
    from qa.embedding import DIMENSION
    from qa.sentences import split
    from qa.settings import Settings

    pytest.importorskip("milvus_lite")
    work = tmp_path / "work"
    argv = ["bench", "--scale", "1200", "--tiny", "--data", str(BENCHMARKS), "--work", str(work),
            "--cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    figures = json.loads(out.strip().splitlines()[-1])
    assert SCALE_KEYS <= set(figures)
    assert figures["perturbed_copies"] is True and figures["copies"] >= 1 and "perturbed" in out
    assert figures["sentences"] >= 1200 and figures["reference_sentences"] >= SCALE_TINY.reference
    for key in ("faiss_ann_recall_at_10", "milvus_recall_at_10", "milvus_recall_at_10_at_100k"):
        assert 0 < figures[key] <= 1
    assert figures["faiss_answer_rss_mb"] > 0 and figures["milvus_answer_rss_mb"] > 0
    assert figures["milvus_query_p50_ms"] > 0 and figures["faiss_build_s"] >= 0

    # The index as written: unique sentence ids, a copy's ids derived as an ingest of the copy would
    # derive them, and its vectors near its original's without being the same.
    folder = next(work.glob("scale-1200-*-faiss"))
    model = json.loads((folder / (folder / "CURRENT").read_text().strip() / "manifest.json").read_text())["model"]
    index = store.open_index(folder, model, DIMENSION, Settings().index_fingerprint(model))
    assert len({s.id for s in index.sentences}) == len(index.sentences) == figures["sentences"]
    copy = next(doc_id for doc_id in index.documents if doc_id.endswith("~1"))
    original = copy.removesuffix("~1")
    assert [s.id for s in split(index.documents[copy].document)] == [s.id for s in index.document_sentences(copy)]
    a, b = (index.vectors_at(index.rows_of([d])) for d in (original, copy))
    cosines = (a * b).sum(axis=1)
    assert (cosines > 0.9).all() and (cosines < 0.9999).all()

    # A second run answers from the indexes it kept: nothing is built or embedded again.
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "kept from an earlier run" in out and "embedded now" not in out
    assert json.loads(out.strip().splitlines()[-1])["builds_cached"] is True
