"""Run `qa eval` on the public benchmarks' test splits and write the table to eval/benchmarks.md.

    .venv/bin/python eval/benchmarks.py                       # what `make benchmarks` runs
    .venv/bin/python eval/benchmarks.py --only squad2 --limit 300

Reads ../shared/benchmarks/ (never copied into the repository). Indexes are kept in
index/bench-<set> and only rebuilt when the documents or the index settings change, so the first
run pays for the embedding (HotpotQA's 43,596 sentences: most of the time) and later runs do not. Every run's full
output (report.md, results.jsonl, plots) goes to eval/out/bench/<set>-<setting>/.
Test splits are for reporting only: nothing here tunes anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "benchmarks"
OUT = ROOT / "eval" / "out" / "bench"
TABLE = ROOT / "eval" / "benchmarks.md"
README = ROOT / "README.md"
# A full run rewrites what lies between these lines of the README.
README_BEGIN = "<!-- benchmarks: written by `make benchmarks` (eval/benchmarks.py) -->"
README_END = "<!-- /benchmarks -->"

# (set, setting): distractor hands each question its own candidate paragraphs (HotpotQA's ten,
# SQuAD's and CLAPNQ's one gold passage), as the published readers were given; open retrieves
# from the whole pool of the set's documents.
RUNS = [
    ("hotpotqa", "distractor"),
    ("hotpotqa", "open"),
    ("squad2", "distractor"),
    ("squad2", "open"),
    ("clapnq", "distractor"),
    ("clapnq", "open"),
]
COLUMNS = [
    ("answer_str_em", "answer in text"),
    ("answer_f1", "answer F1"),
    ("citation_precision", "citation P"),
    ("citation_recall", "citation R"),
    ("citation_f1", "citation F1"),
    ("retrieval_recall_at_10", "retrieval R@10"),
    ("unanswerable_abstained", "unanswerable abstained"),
    ("false_abstention", "false abstention"),
    ("overall_correct", "overall correct"),
    ("latency_p50_ms", "p50 ms"),
    ("latency_p95_ms", "p95 ms"),
]

NOTES = """\
Documents are embedded by the int8 document encoder and questions by fp32 (qa/embedding.py), as `qa ingest` does by default. In the distractor setting, retrieval keeps 40 sentences of the ten given paragraphs (`restricted_top_k`), and support scoring embeds each of them once, which is why those latencies are the highest. The learned citer (qa/citer.json, eval/train_citer.py) acts when the likeliest document is linked by a title to another retrieved one: a pair model chooses the two documents, a sentence model their sentences; below the abstention threshold it answers only when its sentences together hold as much of the question as the rules' own two-fact answer must (`pair_covers`). It was fitted on HotpotQA train and dev together, its features and thresholds chosen by cross-fitting train -> dev and dev -> train (out-of-sample distractor citation F1: dev 0.736, train 0.727; the rules alone 0.555 and 0.557). It also acts on CLAPNQ in the open setting, where passages of different articles name each other's titles: with it switched off, CLAPNQ open scores citation P 0.682, R 0.390, F1 0.463, unanswerable abstained 0.507; with it, 0.559, 0.414, 0.432 and 0.450 (0.387 before the coverage check). CLAPNQ has no dev split to tune that trade on, so it is reported, not tuned.
"""

# Figures in percent, as the papers give them.
PUBLISHED = """\
| ours (%) | published (`../shared/benchmarks/README.md`) | comparable? |
|---|---|---|
| HotpotQA distractor, citation F1 {hotpot_f1} (target: at least 70; {hotpot_target}) | supporting-fact F1 66.66 (HotpotQA paper's 2018 baseline, dev distractor) | Mostly. Same definition (per-question F1 of the cited sentences against the gold supporting sentences, over the ten given paragraphs) and our test split is a random sample of that same dev set. Differences: a citation counts when its character span overlaps a gold sentence rather than by exact (title, sentence id), and our 500 questions are a sample, not all 7,405. |
| HotpotQA, answer in text {hotpot_em}, answer F1 {hotpot_ans_f1} | answer EM 44.44 / F1 58.28 | No. Our answers are whole cited sentences, not extracted spans: "answer in text" (a gold answer appears in the answer) is far more lenient than EM, and token F1 is dragged down by the sentence around the answer. |
| SQuAD 2.0 distractor (the gold paragraph given): answer in text {squad_em} on answerable, unanswerable abstained {squad_abs}, overall correct {squad_all} | EM/F1 on all questions: roberta-base-squad2 79.93/82.95, tinyroberta 78.69/81.92, human 86.83/89.45 | No. Those are trained span readers scored by EM over both halves; we have no reader model (none ships on PyPI with weights) and answer with sentences. "Overall correct" counts both halves the same way as EM does (an unanswerable question is right only when abstained), but with containment instead of exact match. |
| retrieval recall@10 (sentences) {hotpot_open_r10} on HotpotQA open | BEIR nDCG@10 on HotpotQA's full 5M-passage corpus: BM25 60.3, MiniLM 46.5 | No: a different metric, sentence- rather than passage-level, over a pool of 10,787 paragraphs instead of 5 million. Compare retrieval only across our own runs (see eval/retrieval.py for dense vs BM25 vs hybrid on the same pool). |
| CLAPNQ citation F1 {clapnq_f1} | ALCE ASQA citation recall/precision 73.6/72.5 (ChatGPT) | No: a different dataset and a different (NLI-judged) citation metric; listed for scale only. CLAPNQ's gold answers are long-form, so "answer in text" is near zero by construction; answer F1 is the better answer figure there. |
"""


def prepare_index(name: str) -> tuple[Path, int]:
    """index/bench-<name> holding the set's documents; rebuilt when it no longer matches the
    current index settings (this folder is only a cache of ours, so rebuilding loses nothing)."""
    from qa.cli import format_report
    from qa.ingest import ingest
    from qa.settings import Settings
    from qa.store import IndexProblem

    settings = Settings.from_env(index_dir=ROOT / "index" / f"bench-{name}")
    documents = [SHARED / name / "documents.jsonl"]
    try:
        report = ingest(documents, settings, progress=True)
    except IndexProblem as exc:
        print(f"{exc}\nbenchmarks: rebuilding it", file=sys.stderr)
        report = ingest(documents, settings, rebuild=True, progress=True)
    print(format_report(report, settings.index_dir), file=sys.stderr)
    return settings.index_dir, report.embedded


def run_one(name: str, setting: str, index: Path, limit: int) -> tuple[dict, float]:
    from qa.cli import main

    out = OUT / f"{name}-{setting}"
    argv = ["eval", str(SHARED / name / "questions.jsonl"), "--index", str(index), "--split", "test",
            "--setting", setting, "--out", str(out)]
    if limit:
        argv += ["--limit", str(limit)]
    print(f"== {name} test, {setting} setting", file=sys.stderr)
    began = time.perf_counter()
    status = main(argv)
    if status:
        raise SystemExit(f"benchmarks: qa eval failed on {name} ({setting}) with status {status}")
    return json.loads((out / "metrics.json").read_text()), time.perf_counter() - began


def rows(results: dict[tuple[str, str], tuple[dict, float]]) -> list[str]:
    head = "| set (test split) | setting | questions | " + " | ".join(label for _, label in COLUMNS) + " | run time |"
    out = [head, "|" + "---|" * (len(COLUMNS) + 4)]
    for (name, setting), (metrics, seconds) in results.items():
        cells = [_cell(metrics.get(key), key) for key, _ in COLUMNS]
        out.append(f"| {name} | {setting} | {metrics['counts']['questions']} | " + " | ".join(cells) + f" | {seconds / 60:.1f} min |")
    return out


def table(results: dict[tuple[str, str], tuple[dict, float]], indexing: dict[str, tuple[float, int]], limit: int) -> str:
    sample = f" A seeded random sample of {limit} test questions per set (`--limit {limit}`)." if limit else ""
    return "\n".join([
        "# Benchmarks",
        "",
        "Written by `make benchmarks` (`eval/benchmarks.py`): `qa eval` on the test splits of "
        "`../shared/benchmarks/`, extractive answerer, default settings, on the machine that ran it."
        + sample + " Metric definitions: `eval/README.md`. Run time is the whole `qa eval` run (it "
        "opens the index and answers every question, the abstained ones twice: see the threshold "
        "curve); latencies are one `ask()` each. Support scoring keeps each retrieved sentence's "
        "own vector once computed (qa/support.py), and both settings of a set run in one process, so "
        "the open run's latencies are those of a warm cache; the distractor run's are mostly cold. "
        "Indexing (once per set, kept in `index/bench-<set>`): "
        + ", ".join(f"{name} {seconds / 60:.1f} min ({embedded:,} sentences embedded)" if embedded
                    else f"{name} reused as it was" for name, (seconds, embedded) in indexing.items()) + ".",
        "",
        *rows(results),
        "",
        NOTES,
        "## How these compare with published figures",
        "",
        "Figures in percent here, as the papers give them.",
        "",
        PUBLISHED.format(**_quoted(results)),
    ])


def readme_section(results: dict[tuple[str, str], tuple[dict, float]]) -> str:
    """The results and the published figures beside them, for the README."""
    return "\n".join([
        README_BEGIN,
        *rows(results),
        "",
        "Beside the figures others published (ours in percent here; notes on the runs in",
        "[eval/benchmarks.md](eval/benchmarks.md)):",
        "",
        PUBLISHED.format(**_quoted(results)).rstrip("\n"),
        README_END,
    ])


def write_into_readme(section: str) -> None:
    text = README.read_text(encoding="utf-8")
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        raise SystemExit(f"benchmarks: {README} lacks the lines {README_BEGIN} ... {README_END}")
    README.write_text(text[:begin] + section + text[end + len(README_END):], encoding="utf-8")


def _quoted(results: dict[tuple[str, str], tuple[dict, float]]) -> dict[str, str]:
    def value(name: str, setting: str, key: str) -> float | None:
        found = results.get((name, setting))
        return found[0].get(key) if found else None

    def figure(name: str, setting: str, key: str) -> str:
        found = value(name, setting, key)
        return "(not run)" if found is None else f"{found * 100:.1f}"

    hotpot = value("hotpotqa", "distractor", "citation_f1")
    return {
        "hotpot_target": "not run" if hotpot is None else "met" if hotpot >= 0.70 else "not met",
        "hotpot_f1": figure("hotpotqa", "distractor", "citation_f1"),
        "hotpot_em": figure("hotpotqa", "distractor", "answer_str_em"),
        "hotpot_ans_f1": figure("hotpotqa", "distractor", "answer_f1"),
        "hotpot_open_r10": figure("hotpotqa", "open", "retrieval_recall_at_10"),
        "squad_em": figure("squad2", "distractor", "answer_str_em"),
        "squad_abs": figure("squad2", "distractor", "unanswerable_abstained"),
        "squad_all": figure("squad2", "distractor", "overall_correct"),
        "clapnq_f1": figure("clapnq", "distractor", "citation_f1"),
    }


def _cell(value, key: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if key.startswith("latency") else f"{value:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted({name for name, _ in RUNS}), help="just this set (repeatable)")
    parser.add_argument("--limit", type=int, default=0, metavar="N", help="a seeded random sample of N test questions per set")
    args = parser.parse_args()
    if not SHARED.is_dir():
        raise SystemExit(f"benchmarks: {SHARED} is missing; it holds the converted public benchmarks.")
    results, indexing = {}, {}
    for name in dict.fromkeys(name for name, _ in RUNS):
        if args.only and name not in args.only:
            continue
        began = time.perf_counter()
        index, embedded = prepare_index(name)
        indexing[name] = (time.perf_counter() - began, embedded)
        for setting in (s for n, s in RUNS if n == name):
            results[(name, setting)] = run_one(name, setting, index, args.limit)
    TABLE.write_text(table(results, indexing, args.limit), encoding="utf-8")
    print(f"wrote {TABLE}", file=sys.stderr)
    if not (args.only or args.limit):  # the README shows complete runs only
        write_into_readme(readme_section(results))
        print(f"wrote the results table into {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
