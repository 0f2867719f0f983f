"""How much of exact search an index folder's HNSW graph finds, at each efSearch: the figures
qa/vectors.py's HNSW_EF_SEARCH was chosen by.

    .venv/bin/python eval/hnsw_ef.py index/bench/scale-1000000-int8-faiss

Queries are the first 70 dev questions of each benchmark (HotpotQA, SQuAD 2.0, CLAPNQ), embedded
as the assistant embeds questions; recall@10 is the share of the exact top 10 (brute force over
the folder's vectors) the graph returns, with its 95% bootstrap interval over the questions. The
graph is the one `qa ingest` saved (any index of at least `ann_from` sentences); one thread, so
the times compare across efSearch values, not with a whole answer's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
PER_SET = 70
EF_SEARCH = (128, 256, 512, 1024)


def dev_questions() -> list[str]:
    out = []
    for name in ("hotpotqa", "squad2", "clapnq"):
        with open(BENCHMARKS / name / "questions.jsonl", encoding="utf-8") as f:
            out += [q["question"] for q in map(json.loads, f) if q.get("split") == "dev"][:PER_SET]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index", type=Path, help="an index folder whose graph to measure")
    args = parser.parse_args()

    import faiss
    import numpy as np

    from qa.bench import exact_top, put_recall
    from qa.embedding import default_encoder, offline

    offline()
    generation = args.index / (args.index / "CURRENT").read_text().strip()
    graph_file = generation / "faiss.index"
    if not graph_file.is_file():
        sys.exit(f"hnsw_ef: {generation} has no HNSW graph (an index below ann_from is searched exactly)")
    questions = dev_questions()
    queries = default_encoder("fp32").encode(questions)
    exact = exact_top(np.load(generation / "vectors.npy", mmap_mode="r"), queries, 10)
    graph = faiss.read_index(str(graph_file))
    faiss.omp_set_num_threads(1)
    print(f"{len(questions)} dev questions, {graph.ntotal} vectors in {generation}")
    print("| efSearch | recall@10 against exact search | ms a search (one thread) |\n|---|---|---|")
    for ef in EF_SEARCH:
        graph.hnsw.efSearch = ef
        began = time.perf_counter()
        _, found = graph.search(queries, 10)
        ms = (time.perf_counter() - began) / len(questions) * 1000
        figures: dict = {}
        put_recall(figures, "recall", [set(f) for f in found], [set(e) for e in exact])
        low, high = figures["recall_ci95"]
        print(f"| {ef} | {figures['recall']:.4f} ({low:.4f}-{high:.4f}) | {ms:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
