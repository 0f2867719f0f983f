"""Whether a candidate reader should replace the shipped one, judged on the held-out dev questions
eval/calibrate_reader.py reads.

    .venv/bin/python eval/calibrate_reader.py --dry-run --scores /tmp/shipped.json
    QA_READER=/tmp/reader-x/reader-int8.onnx .venv/bin/python eval/calibrate_reader.py --dry-run --scores /tmp/x.json
    .venv/bin/python eval/compare_readers.py /tmp/shipped.json /tmp/x.json

Each model answers at the setting calibrate_reader chose for it. Per set, every headline figure is
compared question by question with qa.metrics.compare, the rule `qa eval --baseline` gates with:
a figure regressed when it got worse by more than --max-drop and the 95% bootstrap interval of the
paired difference lies wholly on the worse side; it improved when that interval lies wholly on
the better side.

The candidate replaces the shipped reader when no figure of any set regressed and at least one of
the figures calibrate_reader shows (strict citation F1, answer in text, unanswerable abstained,
false abstention) improved on some set.

calibrate_reader's objective (a mean over sets, each weighing the same) still chooses each
model's thresholds, but it does not choose between models: between two readers its difference is
mostly one or two questions of the smallest sets (the sample dev half has 15 answerable questions,
BBC dev 8 unanswerable ones), which is noise, while SQuAD 2.0's 1,115 questions count for no
more. A paired test per set gives each set the weight of its evidence, and a loss on a small set
still blocks a candidate when it is beyond that set's noise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from calibrate_reader import SHOWN  # noqa: E402


def read(path: Path) -> dict:
    try:
        run = json.loads(path.read_text())
        return {"reader": run["reader"], "chosen": run["chosen"], "sets": run["sets"]}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"compare_readers: cannot read {path} ({exc}); write it with "
                 "eval/calibrate_reader.py --dry-run --scores FILE")


def verdict(shipped: dict, candidate: dict, max_drop: float) -> tuple[bool, list[str]]:
    """(replace?, report lines): per set, the figures that changed beyond their noise."""
    from qa import metrics

    lines, regressed, improved = [], [], []
    for name in shipped["sets"]:
        if name not in candidate["sets"]:
            sys.exit(f"compare_readers: the candidate's run has no set {name!r}; both runs must read the same sets")
        before = {k: metrics.Scores.from_json(v) for k, v in shipped["sets"][name].items()}
        after = {k: metrics.Scores.from_json(v) for k, v in candidate["sets"][name].items()}
        if before.keys() != after.keys():
            sys.exit(f"compare_readers: the two runs read different {name} questions; run both without --limit")
        for change in metrics.compare(before, after, {}, {}, max_drop, float("inf")):
            if change.worse_by is None or change.interval is None:
                continue
            better = change.interval[1] < 0
            if change.metric in SHOWN or change.failed or better:
                mark = "REGRESSED" if change.failed else "improved" if better else ""
                lines.append(f"{name:9} {change.metric:32} {change.before:.3f} -> {change.after:.3f}  "
                             f"worse by {change.worse_by:+.3f} ({change.interval[0]:+.3f} to {change.interval[1]:+.3f})"
                             f"  {mark}".rstrip())
            if change.failed:
                regressed.append(f"{name} {change.metric}")
            elif better and change.metric in SHOWN:
                improved.append(f"{name} {change.metric}")
    replace = not regressed and bool(improved)
    lines.append(f"regressed: {', '.join(regressed) or 'none'}; improved: {', '.join(improved) or 'none'}")
    lines.append("verdict: " + ("the candidate replaces the shipped reader" if replace else "keep the shipped reader"))
    return replace, lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("shipped", type=Path, help="calibrate_reader --scores file of the shipped reader")
    parser.add_argument("candidate", type=Path, help="the same for the candidate")
    parser.add_argument("--max-drop", type=float, default=0.02, help="as qa eval's gate (default 0.02)")
    args = parser.parse_args(argv)
    shipped, candidate = read(args.shipped), read(args.candidate)
    print(f"shipped:   {shipped['reader']} at {shipped['chosen']}")
    print(f"candidate: {candidate['reader']} at {candidate['chosen']}")
    _, lines = verdict(shipped, candidate, args.max_drop)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
