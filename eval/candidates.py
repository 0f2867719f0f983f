"""How many fused candidates the reader should read in the open setting (Settings.top_k),
measured on dev questions.

    .venv/bin/python eval/candidates.py                      # counts 5 10 15 20 30
    .venv/bin/python eval/candidates.py --counts 10 20 --limit 100

For each count and set: the share of answerable questions with a gold sentence among the
candidates read (`gold_read`), the share whose best-supported sentence is gold (`top1_gold`), the
AUC of the best support separating answerable from unanswerable questions, the answerer's
headline figures (strict citation F1, answer hit, unanswerable abstained, false abstention; the
recorded evidence replayed through the real answerer at today's thresholds, which were calibrated
at top_k 10), each with its 95% interval, and what reading cost: the reader's and resemblance's
milliseconds per candidate (medians).

Each question is retrieved and read once, at the largest count; a smaller count keeps the first
candidates in retrieval's order. That is what a smaller top_k would read: a sentence's support
does not depend on the other candidates. Reads only dev questions that eval/train_reader.py held
out of training (HotpotQA dev, the SQuAD 2.0 and CLAPNQ dev questions it kept aside), the dev half
of the BBC gold set over all 1,314 articles and the dev half of eval/sample_gold.jsonl; no test
split. The indexes are the benchmark ones (`make benchmarks` builds them in index/bench-*).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from calibrate import replay  # noqa: E402
from calibrate_reader import SETS, dev_questions, is_gold  # noqa: E402
from train_reader import figure_intervals, rank_auc  # noqa: E402

SHOWN = ("citation_f1_strict", "answer_str_em", "unanswerable_abstained", "false_abstention")


def read_once(name: str, count: int, limit: int) -> tuple[object, list[tuple]]:
    """The set's index and, per dev question, (question, candidates in retrieval order with their
    evidence, located gold sentences, reading ms per candidate)."""
    from qa import metrics
    from qa.assistant import Assistant
    from qa.settings import Settings

    gold_file, index_dir, _ = SETS[name]
    assistant = Assistant(Settings.load().with_(index_dir=ROOT / "index" / index_dir, top_k=count))
    texts = {d: s.document.text for d, s in assistant.index.documents.items()}
    rows = []
    for q in dev_questions(name, gold_file, limit):
        timings: dict[str, float] = {}
        reading = assistant.evidence(q.question, list(q.history), None, timings)
        by_id = {e.hit.sentence.id: e for e in reading.evidence}
        ordered = [by_id[h.sentence.id] for h in reading.hits if h.sentence.id in by_id]
        gold = [metrics.locate(item, texts) for item in q.supporting] if q.answerable else []
        cost = (timings.get("reader", 0.0) + timings["support"]) / max(1, len(ordered))
        rows.append((q, ordered, gold, cost))
    return assistant.index, rows


def figures(index, rows: list[tuple], count: int) -> dict:
    import numpy as np

    from qa.metrics import bootstrap
    from qa.settings import Settings

    kept = [(q, sorted(ordered[:count], key=lambda e: e.support, reverse=True), gold, cost)
            for q, ordered, gold, cost in rows]
    best = []  # figure_intervals' rows: (answerable, best is gold, best support)
    read = []
    for q, evidence, gold, _ in kept:
        best.append((q.answerable, bool(evidence) and is_gold(evidence[0], gold),
                     evidence[0].support if evidence else 0.0))
        if q.answerable:
            read.append(any(is_gold(e, gold) for e in evidence))
    answered = replay(index, [(q, evidence, gold) for q, evidence, gold, _ in kept], Settings.load(),
                      lambda evidence: [e.support for e in evidence])
    hit = np.array(read, dtype=float)
    intervals = figure_intervals(best) | bootstrap(len(hit), {"gold_read": lambda draws: hit[draws].mean(axis=1)})
    top1 = [g for a, g, _ in best if a]
    auc = rank_auc([s for a, _, s in best if a], [s for a, _, s in best if not a])
    return {
        "count": count,
        "gold_read": round(sum(read) / len(read), 4) if read else None,
        "top1_gold": round(sum(top1) / len(top1), 4) if top1 else None,
        "answerable_auc": None if auc is None else round(auc, 4),
        **{k: answered[k] for k in SHOWN},
        "ci95": {"gold_read": intervals["gold_read"], "top1_gold": intervals["top1_gold"], "answerable_auc": None if auc is None else intervals["answerable_auc"],
                 **{k: answered["ci95"][k] for k in SHOWN}},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5, 10, 15, 20, 30])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--limit", type=int, default=300, help="a seeded sample of this many questions per set (0: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "out" / "candidates.json")
    args = parser.parse_args(argv)

    import numpy as np

    from qa.files import write_atomically

    report = {}
    for name in args.sets:
        index, rows = read_once(name, max(args.counts), args.limit)
        cost = round(float(np.median([cost for *_, cost in rows])), 2)
        report[name] = {"questions": len(rows), "ms_per_candidate": cost,
                        "counts": [figures(index, rows, count) for count in sorted(args.counts)]}
        print(f"{name} ({len(rows)} dev questions, open setting; reading {cost} ms per candidate):", file=sys.stderr)
        for row in report[name]["counts"]:
            print("  " + json.dumps({k: v for k, v in row.items() if k != "ci95"}), file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out, json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    print(table(report))
    return 0


def table(report: dict) -> str:
    """The report as a markdown table (eval/benchmarks.md quotes it)."""

    def cell(row: dict, key: str) -> str:
        if row[key] is None:
            return "-"
        low, high = row["ci95"].get(key) or (None, None)
        return f"{row[key]:.3f}" if low is None else f"{row[key]:.3f} ({low:.2f}-{high:.2f})"

    keys = ("gold_read", "top1_gold", "answerable_auc", *SHOWN)
    lines = ["| set (dev questions, ms per candidate) | candidates | " + " | ".join(keys) + " |",
             "|---|---|" + "---|" * len(keys)]
    for name, measured in report.items():
        for row in measured["counts"]:
            lines.append(f"| {name} ({measured['questions']}, {measured['ms_per_candidate']}) | {row['count']} | "
                         + " | ".join(cell(row, k) for k in keys) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
