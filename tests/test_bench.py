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
