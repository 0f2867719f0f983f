"""Fit how support combines the reader with resemblance, and choose the answerer's thresholds on
that scale, on held-out dev questions.

    .venv/bin/python eval/calibrate_reader.py            # writes the calibration into qa/models/reader.json
                                                          # (with QA_READER=FILE, into the reader.json beside FILE)
    .venv/bin/python eval/calibrate_reader.py --dry-run  # prints the figures only
    .venv/bin/python eval/calibrate_reader.py --dry-run --scores /tmp/shipped.json   # and keeps each question's
                                                          # scores, for eval/compare_readers.py

Reads only dev questions that eval/train_reader.py held out of training (HotpotQA dev, the SQuAD
2.0 dev articles and the CLAPNQ dev questions it kept aside, each in the distractor setting), the
dev half of the BBC gold set over all 1,314 articles and the dev half of eval/sample_gold.jsonl.
Test splits and eval/gold/sample_paraphrase.jsonl are never read here. Each question goes through
`Assistant.evidence`, the stages `ask` answers from, once; every candidate setting is then
replayed through the real answerer and scored with qa.metrics.

1. Support: a logistic regression over qa/support.py's FEATURES (the reader's logit and
   resemblance) for "this retrieved sentence is a gold one", then a logistic map of each
   question's best score to "the question is answerable" (each set weighing the same). Their
   composition is one set of weights, so a best sentence's support reads as the chance that the
   documents answer the question.
2. The answerer's thresholds on that scale (abstain_below, multi_hop_leeway, then answer_margin
   and max_claims): of the settings under which no set abstains on more than
   --max-false-abstention of its answerable questions, the one with the best mean over sets of
   strict citation F1 plus the share of unanswerable questions abstained on.

The chosen values are printed and stored with the calibration; qa/settings.py's defaults must
equal them (tests/test_reader.py checks). The objective chooses one model's thresholds; whether
another reader should ship is eval/compare_readers.py's question, over the --scores of both.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from calibrate import features, replay  # noqa: E402
from train_reader import BENCHMARKS, figure_intervals, held_out, rank_auc  # noqa: E402

# name: (gold file, index, distractor setting)
SETS = {
    "hotpotqa": (BENCHMARKS / "hotpotqa" / "questions.jsonl", "bench-hotpotqa", True),
    "squad2": (BENCHMARKS / "squad2" / "questions.jsonl", "bench-squad2", True),
    "clapnq": (BENCHMARKS / "clapnq" / "questions.jsonl", "bench-clapnq", True),
    "bbc": (ROOT / "eval" / "gold" / "bbc_news.jsonl", "bench-bbc", False),
    "sample": (ROOT / "eval" / "sample_gold.jsonl", "bench-paraphrase", False),
}
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 19)]
LEEWAY = (0.0, 0.1, 0.2, 0.3)
MARGINS = (0.0, 0.03, 0.05, 0.1)
CLAIMS = (1, 2, 3)
# The figures printed for each setting and stored for the chosen one.
SHOWN = ("citation_f1_strict", "answer_str_em", "unanswerable_abstained", "false_abstention")


def dev_questions(name: str, gold: Path, limit: int):
    """The set's dev questions that training did not see (a seeded sample of `limit` if given)."""
    from qa.evaluate import read_gold, select

    questions = select(read_gold(gold), "dev", 0)
    if name in ("hotpotqa", "squad2", "clapnq"):
        raw = {}
        with open(gold) as f:
            for line in f:
                q = json.loads(line)
                raw[q["id"]] = q
        questions = [q for q in questions if held_out(name, raw[q.id])]
    return select(questions, None, limit) if limit else questions


def is_gold(evidence, gold) -> bool:
    from qa import metrics

    s = evidence.hit.sentence
    return any(g is not None and metrics.Span(s.doc_id, s.start, s.end).same_sentence(g) for g in gold)


def objective(figures: dict[str, dict]) -> float:
    import numpy as np

    f1 = [m["citation_f1_strict"] for m in figures.values() if m["citation_f1_strict"] is not None]
    abstained = [m["unanswerable_abstained"] for m in figures.values() if m["unanswerable_abstained"] is not None]
    return float(np.mean(f1) + np.mean(abstained))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-false-abstention", type=float, default=0.10)
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of this many questions per set (writes nothing)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing (but --scores)")
    parser.add_argument("--scores", type=Path, metavar="FILE",
                        help="write each held-out question's scores at the chosen setting, per set, for "
                             "eval/compare_readers.py")
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from qa import metrics
    from qa.assistant import Assistant
    from qa.evaluate import question_key
    from qa.files import write_atomically
    from qa.reader import combined
    from qa.settings import Settings
    from qa.support import FEATURES, features_of

    base = Settings.load()
    if not base.reader:
        sys.exit("calibrate_reader: the reader is off (QA_READER is empty); there is nothing to calibrate")
    loaded = {}
    for name, (gold, index, distractor) in SETS.items():
        assistant = Assistant(base.with_(index_dir=ROOT / "index" / index))
        questions = dev_questions(name, gold, args.limit)
        loaded[name] = (assistant, features(questions, assistant, distractor))
        print(f"{name}: {len(questions)} held-out dev questions read", file=sys.stderr, flush=True)

    # 1. support: per sentence, then per question
    matrix, labels, weights, owners, answerable = [], [], [], [], []
    for name, (_, rows) in loaded.items():
        for q, evidence, gold in rows:
            if not evidence:
                continue
            matrix.append(features_of(evidence))
            labels += [is_gold(e, gold) for e in evidence]
            weights += [1.0 / len(rows) / len(evidence)] * len(evidence)
            owners += [len(answerable)] * len(evidence)
            answerable.append((q.answerable, name))
    matrix, owners = np.vstack(matrix), np.array(owners)
    sentence = LogisticRegression(C=10.0, max_iter=1000).fit(matrix, labels, sample_weight=weights)
    z = matrix @ sentence.coef_[0] + sentence.intercept_[0]
    best = np.array([z[owners == i].max() for i in range(len(answerable))])
    per_set = {name: sum(1 for _, n in answerable if n == name) for name in loaded}
    question = LogisticRegression(C=100.0).fit(best[:, None], [a for a, _ in answerable],
                                               sample_weight=[1.0 / per_set[n] for _, n in answerable])
    a, c = float(question.coef_[0][0]), float(question.intercept_[0])
    combination = {"features": list(FEATURES), "weights": [a * float(w) for w in sentence.coef_[0]],
                   "bias": a * float(sentence.intercept_[0]) + c}
    # Per question, its best sentence by support and by each feature alone.
    column = {"support": best}
    for k, feature in enumerate(FEATURES):
        column[feature] = np.array([matrix[owners == i, k].max() for i in range(len(answerable))])
    auc = {}
    for name in loaded:
        mine = [i for i, (_, n) in enumerate(answerable) if n == name]
        if any(answerable[i][0] for i in mine) and not all(answerable[i][0] for i in mine):
            auc[name] = {}
            for key, values in column.items():
                rows = [(answerable[i][0], False, values[i]) for i in mine]  # figure_intervals' (answerable, gold, best)
                auc[name][key] = round(float(rank_auc([v for a, _, v in rows if a], [v for a, _, v in rows if not a])), 4)
                auc[name][f"{key}_ci95"] = figure_intervals(rows)["answerable_auc"]
    print(f"support over {FEATURES}: {combination}; answerable AUC of the best sentence: {auc}",
          file=sys.stderr, flush=True)

    # 2. thresholds on the new scale
    def support(evidence):
        return combined(features_of(evidence), combination) if evidence else []

    def figures_at(**chosen) -> dict[str, dict]:
        return {name: replay(assistant.index, rows, assistant.settings.with_(**chosen), support, metrics.point_figures)
                for name, (assistant, rows) in loaded.items()}

    def feasible(figures: dict[str, dict]) -> bool:
        return all(m["false_abstention"] is None or m["false_abstention"] <= args.max_false_abstention
                   for m in figures.values())

    def show(chosen: dict, figures: dict[str, dict]) -> None:
        print(json.dumps({**chosen, "objective": round(objective(figures), 4), **{
            name: {k: m[k] for k in SHOWN}
            for name, m in figures.items()}}), file=sys.stderr, flush=True)

    tried = []
    for threshold, leeway in itertools.product(THRESHOLDS, LEEWAY):
        chosen = {"abstain_below": threshold, "multi_hop_leeway": leeway}
        figures = figures_at(**chosen, answer_margin=base.answer_margin, max_claims=base.max_claims)
        show(chosen, figures)
        tried.append((feasible(figures), objective(figures), chosen))
    _, _, chosen = max(tried, key=lambda t: (t[0], t[1]))
    tried = []
    for margin, claims in itertools.product(MARGINS, CLAIMS):
        candidate = {**chosen, "answer_margin": margin, "max_claims": claims}
        figures = figures_at(**candidate)
        show(candidate, figures)
        tried.append((feasible(figures), objective(figures), candidate))
    _, _, chosen = max(tried, key=lambda t: (t[0], t[1]))
    # The chosen setting's figures again, with their 95% intervals (too slow for every candidate).
    held_out_figures, per_question = {}, {}
    for name, (assistant, rows) in loaded.items():
        scores = replay(assistant.index, rows, assistant.settings.with_(**chosen), support, figures=list)
        m = metrics.aggregate(scores)
        held_out_figures[name] = {k: m[k] for k in SHOWN} | {"ci95": {k: m["ci95"][k] for k in SHOWN}}
        per_question[name] = {question_key(q.id, q.question): s.to_json() for (q, _, _), s in zip(rows, scores)}
    print(json.dumps({"support": combination, "chosen": chosen, "answerable_auc": auc,
                      "held_out_figures": held_out_figures}, indent=1))
    if args.scores:
        write_atomically(args.scores, json.dumps({"reader": base.reader, "chosen": chosen,
                                                   "sets": per_question}) + "\n")
        print(f"wrote each question's scores into {args.scores}", file=sys.stderr)
    if args.dry_run or args.limit:
        return 0
    # The description beside the reader just calibrated (QA_READER names a trial's), never the
    # shipped one's when another model was read.
    meta_file = Path(base.reader).with_name("reader.json")
    meta = json.loads(meta_file.read_text())
    meta["calibration"] = {"support": combination, "fitted_on": "held-out dev questions (see eval/calibrate_reader.py)",
                           "chosen": chosen, "max_false_abstention": args.max_false_abstention,
                           "answerable_auc": auc, "held_out_figures": held_out_figures}
    write_atomically(meta_file, json.dumps(meta, indent=1) + "\n")
    print(f"wrote the calibration into {meta_file}; set qa/settings.py's defaults to {chosen}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
