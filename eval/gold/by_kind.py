"""Figures per split and kind of a `qa eval` run over a gold set with `meta.kind`.

    python eval/gold/by_kind.py eval/gold/bbc_news.jsonl eval/out/bbc-dev/results.jsonl

Answer hit, false abstention and citation precision (lenient, as in metrics.json: an abstention
counts 0) over the answerable questions of each kind; abstentions over the unanswerable ones.
"""

import collections
import json
import sys


def main(gold_path: str, results_path: str) -> None:
    gold = {q["id"]: q for q in map(json.loads, open(gold_path, encoding="utf-8"))}
    groups = collections.defaultdict(list)
    for row in map(json.loads, open(results_path, encoding="utf-8")):
        scores = json.loads(row["scores"]) if isinstance(row["scores"], str) else row["scores"]
        question = gold[row["id"]]
        groups[(question["split"], question["meta"]["kind"])].append(scores)
        groups[(question["split"], "all")].append(scores)
    print("| split | kind | questions | answer hit | false abstention | citation precision | unanswerable abstained |")
    print("|---|---|---|---|---|---|---|")
    for (split, kind), rows in sorted(groups.items()):
        answerable = [s for s in rows if s["answerable"]]
        unanswerable = [s for s in rows if not s["answerable"]]
        precision = sum(
            s["citations_on_gold"] / s["citations"] if s["citations"] and not s["abstained"] else 0.0 for s in answerable
        )
        cells = [
            f"{sum(s['found'] for s in answerable)}/{len(answerable)}" if answerable else "",
            f"{sum(s['abstained'] for s in answerable)}/{len(answerable)}" if answerable else "",
            f"{precision / len(answerable):.3f}" if answerable else "",
            f"{sum(s['abstained'] for s in unanswerable)}/{len(unanswerable)}" if unanswerable else "",
        ]
        print(f"| {split} | {kind} | {len(rows)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(*sys.argv[1:3])
