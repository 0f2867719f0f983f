"""Calibrate the extractive answerer's support blend and abstention threshold on dev gold sets.

Retrieval and support features are computed once per question; every candidate setting is then
replayed through the real answerer, so the figures are those `ask()` would give.

    .venv/bin/python eval/calibrate.py eval/sample_gold.jsonl --index index/default --split dev
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

from qa.answer import Extractive
from qa.assistant import Assistant
from qa.metrics import Span, citation_scores, contains_answer, gold_spans
from qa.retrieve import resolve
from qa.settings import Settings
from qa.support import blend, score


def features(gold_path: Path, settings: Settings, splits: set[str], distractor: bool, limit: int):
    assistant = Assistant(settings)
    index, retriever, weights = assistant._current()
    global INDEX
    INDEX = index
    texts = {d: s.document.text for d, s in index.documents.items()}
    rows = []
    for line in gold_path.open():
        q = json.loads(line)
        if splits and q.get("split") not in splits:
            continue
        history = q.get("history") or []
        query = resolve(q["question"], history)
        doc_ids = q.get("candidate_doc_ids") if distractor else None
        hits = retriever.search(query, doc_ids=doc_ids)
        vector = assistant.encoder.encode([query])[0]
        evidence = score(q["question"], vector, history, hits, index, assistant.encoder, weights, 0.5)
        rows.append((q, evidence, gold_spans(q["supporting"], texts)))
        if limit and len(rows) >= limit:
            break
    return rows


def evaluate(rows, settings: Settings) -> dict:
    answerer = Extractive(settings)
    n_ans = n_unans = found = abstain_ok = abstain_bad = 0
    cited = precise = gold_total = recalled = 0
    for q, evidence, gold in rows:
        rescored = sorted(
            (e.rescored(e.fit * blend(e.cosine, e.overlap, settings.support_dense_weight)) for e in evidence),
            key=lambda e: e.support,
            reverse=True,
        )
        draft = answerer.answer(q["question"], rescored, INDEX)
        if q["answerable"]:
            n_ans += 1
            abstain_bad += draft.abstained
            found += (not draft.abstained) and contains_answer(draft.text, q["answers"])
            spans = [Span(c.doc_id, c.start, c.end) for c in draft.citations]
            p, r = citation_scores(spans, gold)
            cited += len(spans)
            precise += p
            gold_total += len(gold)
            recalled += r
        else:
            n_unans += 1
            abstain_ok += draft.abstained
    return {
        "answer_found": found / max(1, n_ans),
        "citation_precision": precise / max(1, cited),
        "citation_recall": recalled / max(1, gold_total),
        "unanswerable_abstained": abstain_ok / max(1, n_unans),
        "false_abstention": abstain_bad / max(1, n_ans),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("gold", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--split", action="append", default=[])
    parser.add_argument("--distractor", action="store_true")
    parser.add_argument("--limit", type=int, default=0)
    args = parser.parse_args()
    base = Settings(index_dir=args.index)
    rows = features(args.gold, base, set(args.split), args.distractor, args.limit)
    print(f"{len(rows)} questions", file=sys.stderr)
    grid = itertools.product([0.3, 0.4, 0.5, 0.6, 0.7], [0.3, 0.35, 0.4, 0.45, 0.5, 0.55], [0.0, 0.03, 0.05, 0.1], [1, 2, 3])
    for w, threshold, margin, claims in grid:
        s = base.with_(support_dense_weight=w, abstain_below=threshold, answer_margin=margin, max_claims=claims)
        m = evaluate(rows, s)
        print(json.dumps({"w": w, "t": threshold, "m": margin, "c": claims, **{k: round(v, 3) for k, v in m.items()}}))


if __name__ == "__main__":
    main()
