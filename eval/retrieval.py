"""Retrieval recall@k of gold supporting sentences: dense, BM25 and hybrid side by side, with 95% intervals.

    .venv/bin/python eval/retrieval.py ../shared/benchmarks/hotpotqa/questions.jsonl \\
        --index index/bench-hotpotqa --split dev
    .venv/bin/python eval/retrieval.py ../shared/benchmarks/hotpotqa/questions.jsonl \\
        --store index/bench-hotpotqa.db --split dev      # the index wholly in Milvus (Lite here)

Each mode searches as the answering path would for that store (qa.location.retriever_for): FAISS
and bm25s fused here, or Milvus's own hybrid search.

A tuning tool (it chose the retrieval mode and the embedded text): it reads train or dev only.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tuning import tuning_parser, tuning_settings

from qa import location
from qa.assistant import Assistant
from qa.metrics import bootstrap, retrieval_found
from qa.settings import Settings

MODES = ("dense", "bm25", "hybrid")


class _Timed:
    """A retriever that counts the time spent in its searches (question embedding included), so
    that reading the gold documents (a query each in Milvus) is not counted as retrieval."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever
        self.seconds = 0.0

    def search(self, *args, **kwargs):
        began = time.perf_counter()
        try:
            return self.retriever.search(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - began


def recall(gold_path: Path, settings: Settings, split: str, distractor: bool, k: int, limit: int) -> dict:
    """Pooled recall@k of each mode (qa eval's retrieval_recall_at_10 for k=10) and its interval."""
    import numpy as np

    assistant = Assistant(settings)
    index = assistant.index
    questions = [json.loads(line) for line in gold_path.open()]
    questions = [q for q in questions if q.get("split") == split and q.get("answerable", True)][: limit or None]
    out = {}
    for mode in MODES:
        retriever = _Timed(location.retriever_for(index, assistant.encoder, settings.with_(retrieval=mode)))
        if questions:  # untimed: the first search pays for loading (the encoder's session, a collection)
            retriever.retriever.search(questions[0]["question"], k=k)
        found = np.array(retrieval_found(index, retriever, questions, k, distractor), dtype=float).reshape(-1, 2)
        ms = retriever.seconds * 1000 / max(1, len(questions))
        part, whole = found[:, 0], found[:, 1]
        interval = bootstrap(len(found), {"r": lambda rows: part[rows].sum(axis=1) / whole[rows].sum(axis=1)})["r"]
        out[mode] = {"recall": round(part.sum() / max(1, whole.sum()), 4), "ci95": interval, "ms_per_query": round(ms, 1)}
    return {"questions": len(questions), "k": k, "distractor": distractor, "window": settings.window,
            "store": index.manifest.get("store", "faiss"), "index_type": index.manifest.get("index_type"), **out}


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(recall(args.gold, tuning_settings(parser, args), args.split, args.distractor, args.k, args.limit)))


if __name__ == "__main__":
    main()
