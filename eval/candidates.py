"""How many fused candidates the reader should read in the open setting (Settings.top_k),
measured on dev questions.

    .venv/bin/python eval/candidates.py                      # counts 5 10 15 20 30
    .venv/bin/python eval/candidates.py --counts 10 20 --limit 100

For each count and set: the share of answerable questions with a gold sentence among the
candidates read (`gold_read`), the share whose best-supported sentence is gold (`top1_gold`), the
AUC of the best support separating answerable from unanswerable questions, and the answerer's
headline figures (strict citation F1, answer hit, unanswerable abstained, false abstention), each
with its 95% interval; for strict citation F1 and unanswerable abstained also the change from the
default count and its paired interval (the same questions at both counts). The answerer replays
the recorded evidence at today's thresholds. eval/calibrate_reader.py chose those on the BBC and
sample dev halves at the default count and on HotpotQA, SQuAD 2.0 and CLAPNQ in the distractor
setting, where a question's given paragraphs are read whole: no count here had thresholds of its
own. Per set, the median milliseconds the reader and resemblance took per candidate at the
largest count, own vectors cached across the run as a running process caches them.

Each question is retrieved and read once, at the largest count; a smaller count keeps the first
candidates in retrieval's order. That is what a smaller top_k would read: retrieval's top k is a
prefix of one ranking and each candidate's support is computed from it alone. Reads only dev
questions that eval/train_reader.py held out of training (HotpotQA dev, the SQuAD 2.0 and CLAPNQ
dev questions it kept aside), the dev half of the BBC gold set over all 1,314 articles and the dev
half of eval/sample_gold.jsonl; no test split. The indexes are the benchmark ones (`make
benchmarks` builds them in index/bench-*). eval/README.md quotes the table this prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from calibrate import replay  # noqa: E402
from calibrate_reader import SETS, SHOWN, dev_questions, is_gold  # noqa: E402
from train_reader import figure_intervals, rank_auc  # noqa: E402

if TYPE_CHECKING:
    from qa.metrics import Scores
    from qa.store import Index

PAIRED = ("citation_f1_strict", "unanswerable_abstained")


def read_once(name: str, count: int, limit: int) -> tuple[Index, list[tuple], list[float]]:
    """The set's index; per dev question, (question, its candidates' evidence in retrieval order,
    its located gold sentences); and per question the milliseconds reading took per candidate."""
    from qa import metrics
    from qa.assistant import Assistant
    from qa.settings import Settings

    gold_file, index_dir, _ = SETS[name]
    assistant = Assistant(Settings.load().with_(index_dir=ROOT / "index" / index_dir, top_k=count))
    texts = {d: s.document.text for d, s in assistant.index.documents.items()}
    rows, costs = [], []
    for q in dev_questions(name, gold_file, limit):
        timings: dict[str, float] = {}
        reading = assistant.evidence(q.question, list(q.history), None, timings)
        by_id = {e.hit.sentence.id: e for e in reading.evidence}  # one per hit, sorted by support
        ordered = [by_id[h.sentence.id] for h in reading.hits]
        gold = [metrics.locate(item, texts) for item in q.supporting] if q.answerable else []
        rows.append((q, ordered, gold))
        costs.append((timings.get("reader", 0.0) + timings["support"]) / max(1, len(ordered)))
    return assistant.index, rows, costs


def answered(index, rows: list[tuple], count: int) -> dict[str, tuple[list, Scores]]:
    """Per question id: its first `count` candidates, best supported first, and the Scores of
    the answer the answerer gives from them."""
    from qa.settings import Settings

    kept = [(q, sorted(ordered[:count], key=lambda e: e.support, reverse=True), gold) for q, ordered, gold in rows]
    scores = replay(index, kept, Settings.load(), lambda evidence: [e.support for e in evidence], lambda s: s)
    return {q.id: (evidence, score) for (q, evidence, _), score in zip(kept, scores)}


def figures(rows: list[tuple], at_count: dict, at_default: dict) -> dict:
    """One count's figures (see the module's docstring) from `answered` at it and at the default."""
    import numpy as np

    from qa import metrics

    best = []  # figure_intervals' rows: (answerable, best is gold, best support)
    read = []
    for q, _, gold in rows:
        evidence = at_count[q.id][0]
        best.append((q.answerable, bool(evidence) and is_gold(evidence[0], gold),
                     evidence[0].support if evidence else 0.0))
        if q.answerable:
            read.append(any(is_gold(e, gold) for e in evidence))
    scores = {key: score for key, (_, score) in at_count.items()}
    headline = metrics.aggregate(list(scores.values()))
    paired = {c.metric: c for c in metrics.compare({k: s for k, (_, s) in at_default.items()}, scores, {}, {}, 0.0,
                                                   float("inf")) if c.metric in PAIRED}
    hit = np.array(read, dtype=float)
    intervals = figure_intervals(best) | metrics.bootstrap(len(hit), {"gold_read": lambda draws: hit[draws].mean(axis=1)})
    top1 = [g for a, g, _ in best if a]
    auc = rank_auc([s for a, _, s in best if a], [s for a, _, s in best if not a])
    return {
        "gold_read": round(sum(read) / len(read), 4) if read else None,
        "top1_gold": round(sum(top1) / len(top1), 4) if top1 else None,
        "answerable_auc": None if auc is None else round(auc, 4),
        **{k: headline[k] for k in SHOWN},
        # compare's worse_by and its interval, turned into a change (this count minus the default)
        "change": {k: None if c.worse_by is None else {"by": 0.0 - c.worse_by, "ci95": [0.0 - c.interval[1], 0.0 - c.interval[0]]}
                   for k, c in paired.items()},
        "ci95": {"gold_read": intervals["gold_read"], "top1_gold": intervals["top1_gold"],
                 "answerable_auc": None if auc is None else intervals["answerable_auc"],
                 **{k: headline["ci95"][k] for k in SHOWN}},
    }


def main(argv: list[str] | None = None) -> int:
    from qa.settings import Settings

    default = Settings.load().top_k
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5, 10, 15, 20, 30],
                        help=f"the counts to measure (the default count, {default}, is always one)")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--limit", type=int, default=300, help="a seeded sample of this many questions per set (0: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "out" / "candidates.json")
    args = parser.parse_args(argv)

    import numpy as np

    from qa.files import write_atomically

    counts = sorted({*args.counts, default})
    report = {"default": default}
    for name in args.sets:
        index, rows, costs = read_once(name, counts[-1], args.limit)
        replies = {count: answered(index, rows, count) for count in counts}
        cost = round(float(np.median(costs)), 2)
        report[name] = {"questions": len(rows), "ms_per_candidate": cost,
                        "counts": [{"count": count, **figures(rows, replies[count], replies[default])} for count in counts]}
        print(f"{name} ({len(rows)} dev questions, open setting; reading {cost} ms per candidate):", file=sys.stderr)
        for row in report[name]["counts"]:
            print("  " + json.dumps({k: v for k, v in row.items() if k != "ci95"}), file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    print(table(report))
    return 0


def table(report: dict) -> str:
    """The report as a markdown table: each figure with its 95% interval, and the paired change
    from the default count."""

    def cell(row: dict, key: str) -> str:
        if row[key] is None:
            return "-"
        low, high = row["ci95"][key] or (None, None)
        return f"{row[key]:.3f}" if low is None else f"{row[key]:.3f} ({low:.2f}-{high:.2f})"

    def change(row: dict, key: str) -> str:
        moved = row["change"].get(key)
        if moved is None or row["count"] == report["default"]:
            return "-"
        # Rounded first, then + 0.0: a change of -0.0001 reads "+0.000", not "-0.000".
        by, low, high = round(moved["by"], 3) + 0.0, *(round(v, 2) + 0.0 for v in moved["ci95"])
        return f"{by:+.3f} ({low:+.2f} to {high:+.2f})"

    keys = ("gold_read", "top1_gold", "answerable_auc", *SHOWN)
    lines = ["| set (dev questions, ms per candidate) | candidates | " + " | ".join(keys) + " | "
             + " | ".join(f"{k}: change from {report['default']}" for k in PAIRED) + " |",
             "|---|---|" + "---|" * (len(keys) + len(PAIRED))]
    for name, measured in report.items():
        if name == "default":
            continue
        for row in measured["counts"]:
            lines.append(f"| {name} ({measured['questions']}, {measured['ms_per_candidate']}) | {row['count']} | "
                         + " | ".join([cell(row, k) for k in keys] + [change(row, k) for k in PAIRED]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
