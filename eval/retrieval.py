"""Retrieval recall@k of gold supporting sentences: dense, BM25 and hybrid side by side.

    .venv/bin/python eval/retrieval.py ../shared/benchmarks/hotpotqa/questions.jsonl \\
        --index index/bench-hotpotqa --split dev
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qa.assistant import Assistant
from qa.metrics import retrieval_recall
from qa.retrieve import Retriever
from qa.settings import Settings


def recall(gold_path: Path, settings: Settings, split: str, distractor: bool, k: int, limit: int) -> dict:
    assistant = Assistant(settings)
    index = assistant.index
    questions = [json.loads(line) for line in gold_path.open()]
    questions = [q for q in questions if q.get("split") == split and q.get("answerable", True)][: limit or None]
    out = {}
    for mode in ("dense", "bm25", "hybrid"):
        retriever = Retriever(index, assistant.encoder, settings.with_(retrieval=mode))
        began = time.perf_counter()
        found = retrieval_recall(index, retriever, questions, k, distractor)
        out[mode] = {"recall": round(found, 4), "ms_per_query": round((time.perf_counter() - began) * 1000 / max(1, len(questions)), 1)}
    return {"questions": len(questions), "k": k, "distractor": distractor, "window": settings.window, **out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--distractor", action="store_true")
    parser.add_argument("--window", type=int, default=Settings.window)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    settings = Settings(index_dir=args.index, window=args.window)
    print(json.dumps(recall(args.gold, settings, args.split, args.distractor, args.k, args.limit)))


if __name__ == "__main__":
    main()
