"""Fit how support is computed from the reader and choose the answerer's thresholds, on held-out
dev questions.

    .venv/bin/python eval/calibrate_reader.py            # writes the calibration into qa/models/reader.json
    .venv/bin/python eval/calibrate_reader.py --dry-run  # prints the figures only

Reads only the questions eval/train_reader.py held out of training: HotpotQA dev, the SQuAD 2.0
dev articles and the CLAPNQ dev questions it kept aside (test splits are never read). Every
question is asked through `Assistant.ask`, the call every front end makes, in the distractor
setting (each question's own candidate documents), and scored with qa.metrics.

1. Support: a logistic regression over qa/support.py's FEATURES (the reader's logit and what
   retrieval knows of the sentence) for "this retrieved sentence is a gold one", then a logistic
   map of each question's best score to "the question is answerable" (each set weighing the
   same). Their composition is one set of weights, so support reads as the chance that the
   documents answer the question when this is their best sentence. The reader alone is
   calibrated the same way, for what has no retrieval signals (an LLM sentence's check).
2. `abstain_below`: the highest threshold at which no set's answerable questions are abstained
   on more than --max-false-abstention of the time.
3. `cite_floor` and `cite_relative` (at max_claims 3), then `max_claims`: the values with the best
   strict citation F1, averaged over the sets.

The chosen values are printed and stored with the calibration; qa/settings.py's defaults must
equal them (tests/test_reader.py checks).
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

from train_reader import BENCHMARKS, held_out  # noqa: E402

from qa.reader import Reader  # noqa: E402

SETS = ("hotpotqa", "squad2", "clapnq")
FLOORS = (0.2, 0.3, 0.4, 0.5)
RELATIVE = (0.3, 0.5, 0.7)
CLAIMS = (2, 3, 4)


class RememberingReader(Reader):
    """The shipped reader with a memory of the logits it computed (every grid point asks the same
    (question, passage) pairs, so each is read once) and the calibration being fitted."""

    def __init__(self) -> None:
        super().__init__()
        self.memory: dict[tuple[str, str], float] = {}
        self.fitted: dict = {}

    def logits(self, question: str, passages: list[str]):
        import numpy as np

        missing = [p for p in dict.fromkeys(passages) if (question, p) not in self.memory]
        if missing:
            for p, value in zip(missing, super().logits(question, missing)):
                self.memory[(question, p)] = float(value)
        return np.array([self.memory[(question, p)] for p in passages], dtype=np.float32)

    def calibration(self) -> dict:
        self.warm_up()
        return self.fitted or {"a": 1.0, "b": 0.0}


def held_out_questions(name: str):
    from qa.evaluate import read_gold

    kept = set()
    with open(BENCHMARKS / name / "questions.jsonl") as f:
        for line in f:
            q = json.loads(line)
            if q["split"] in ("train", "dev") and held_out(name, q):
                kept.add(q["id"])
    return [q for q in read_gold(BENCHMARKS / name / "questions.jsonl") if q.id in kept]


def ask_set(assistant, questions, doc_texts):
    """Each question asked as qa eval asks it in the distractor setting; its answer and Scores."""
    from qa.evaluate import Asked, scored

    out = []
    for q in questions:
        answer = assistant.ask(q.question, list(q.history), doc_ids=list(q.candidate_doc_ids or []))
        out.append((answer, scored(q, Asked(answer, None), doc_texts)[1]))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-false-abstention", type=float, default=0.08)
    parser.add_argument("--limit", type=int, default=0, help="a seeded sample of this many questions per set (writes nothing)")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS), help="a part of the sets (writes nothing)")
    args = parser.parse_args(argv)

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from qa import metrics
    from qa.assistant import Assistant
    from qa.evaluate import select
    from qa.files import write_atomically
    from qa.reader import model_files, passage
    from qa.settings import Settings
    from qa.support import FEATURES, features_of

    reader = RememberingReader()
    base = Settings.load()
    loaded = {}
    for name in args.sets:
        settings = base.with_(index_dir=ROOT / "index" / f"bench-{name}")
        assistant = Assistant(settings.with_(abstain_below=0.0), reader=reader)
        texts = {d: s.document.text for d, s in assistant.index.documents.items()}
        loaded[name] = (assistant, select(held_out_questions(name), None, args.limit), texts)
        print(f"{name}: {len(loaded[name][1])} held-out questions", file=sys.stderr, flush=True)

    # 1. support: per sentence, then per question
    rows, labels, weights, owners = [], [], [], []
    answerable = []
    for name, (assistant, questions, texts) in loaded.items():
        index = assistant.index
        for number, (q, (answer, _)) in enumerate(zip(questions, ask_set(assistant, questions, texts))):
            hits = answer.hits
            if not hits:
                continue
            passages = [passage(index.documents[h.sentence.doc_id].document.title, h.sentence.text) for h in hits]
            gold = metrics.gold_spans(list(q.supporting) if q.answerable else [], texts)
            rows.append(features_of(reader.logits(answer.retrieval_query, passages), hits))
            labels += [any(metrics.Span(h.sentence.doc_id, h.sentence.start, h.sentence.end).same_sentence(g)
                           for g in gold) for h in hits]
            weights += [1.0 / len(questions) / len(hits)] * len(hits)
            owners += [len(answerable)] * len(hits)
            answerable.append((q.answerable, name))
    features = np.vstack(rows)
    owners = np.array(owners)
    sentence = LogisticRegression(C=10.0, max_iter=1000).fit(features, np.array(labels), sample_weight=np.array(weights))
    z = features @ sentence.coef_[0] + sentence.intercept_[0]
    best = np.array([z[owners == i].max() for i in range(len(answerable))])
    per_set = {name: sum(1 for _, n in answerable if n == name) for name in args.sets}
    question = LogisticRegression(C=100.0).fit(best[:, None], [a for a, _ in answerable],
                                               sample_weight=[1.0 / per_set[n] for _, n in answerable])
    a, c = float(question.coef_[0][0]), float(question.intercept_[0])
    support = {"features": list(FEATURES), "weights": [a * w for w in sentence.coef_[0]],
               "bias": a * float(sentence.intercept_[0]) + c}
    reader_logit_best = np.array([features[owners == i, 0].max() for i in range(len(answerable))])
    alone = LogisticRegression(C=100.0).fit(reader_logit_best[:, None], [x for x, _ in answerable],
                                            sample_weight=[1.0 / per_set[n] for _, n in answerable])
    reader.fitted = {"a": float(alone.coef_[0][0]), "b": float(alone.intercept_[0]), "support": support}
    auc = {}
    for name in args.sets:
        mine = [i for i, (_, n) in enumerate(answerable) if n == name]
        pos = [best[i] for i in mine if answerable[i][0]]
        neg = [best[i] for i in mine if not answerable[i][0]]
        alone_pos = [reader_logit_best[i] for i in mine if answerable[i][0]]
        alone_neg = [reader_logit_best[i] for i in mine if not answerable[i][0]]
        if pos and neg:
            auc[name] = {"support": round(float(np.mean([p > n for p in pos for n in neg])), 4),
                         "reader_alone": round(float(np.mean([p > n for p in alone_pos for n in alone_neg])), 4)}
    print(f"support weights over {FEATURES}: {support}; answerable AUC of the best sentence's support: {auc}",
          file=sys.stderr, flush=True)

    # 2. abstention threshold; 3. citation thresholds
    answered = {name: ask_set(assistant, questions, texts) for name, (assistant, questions, texts) in loaded.items()}
    curve = []
    for threshold in np.arange(0.05, 0.96, 0.05):
        row = {"threshold": round(float(threshold), 2)}
        for name, results in answered.items():
            kept = [(s.answerable, (a.reader_score or 0.0) < threshold) for a, s in results]
            on_answerable = [abstained for is_answerable, abstained in kept if is_answerable]
            on_unanswerable = [abstained for is_answerable, abstained in kept if not is_answerable]
            row[name] = (round(float(np.mean(on_answerable)), 3) if on_answerable else None,
                         round(float(np.mean(on_unanswerable)), 3) if on_unanswerable else None)
        curve.append(row)
        print("abstain below {threshold}: ".format(**row) + "; ".join(
            f"{n} false abstention {row[n][0]}, unanswerable abstained {row[n][1]}" for n in answered), file=sys.stderr)
    allowed = [r["threshold"] for r in curve
               if all(r[n][0] is None or r[n][0] <= args.max_false_abstention for n in answered)]
    abstain_below = max(allowed) if allowed else curve[0]["threshold"]

    grid = []

    def point(floor: float, relative: float, claims: int) -> dict:
        f1 = {}
        for name, (assistant, questions, texts) in loaded.items():
            chosen = assistant.settings.with_(abstain_below=abstain_below, cite_floor=floor, cite_relative=relative,
                                              max_claims=claims)
            results = ask_set(Assistant(chosen, encoder=assistant.encoder, reader=reader), questions, texts)
            f1[name] = metrics.aggregate([s for _, s in results])["citation_f1_strict"]
        mean = float(np.mean([v for v in f1.values() if v is not None]))
        grid.append({"cite_floor": floor, "cite_relative": relative, "max_claims": claims, "citation_f1_strict": f1,
                     "mean": round(mean, 4)})
        print(f"cite_floor {floor} cite_relative {relative} max_claims {claims}: strict citation F1 "
              + ", ".join(f"{n} {v}" for n, v in f1.items()) + f"; mean {mean:.4f}", file=sys.stderr, flush=True)
        return grid[-1]

    best_point = max((point(f, r, 3) for f, r in itertools.product(FLOORS, RELATIVE)), key=lambda g: g["mean"])
    best_point = max([best_point] + [point(best_point["cite_floor"], best_point["cite_relative"], n)
                                     for n in CLAIMS if n != 3], key=lambda g: g["mean"])
    chosen = {"abstain_below": abstain_below, "cite_floor": best_point["cite_floor"],
              "cite_relative": best_point["cite_relative"], "max_claims": best_point["max_claims"]}
    print(json.dumps({"calibration": reader.fitted, "chosen": chosen, "answerable_auc": auc,
                      "held_out_citation_f1_strict": best_point["citation_f1_strict"]}, indent=1))
    if args.dry_run or args.limit or len(args.sets) < len(SETS):
        return 0
    _, meta_file = model_files()
    meta = json.loads(meta_file.read_text())
    meta["calibration"] = {**reader.fitted, "fitted_on": "held-out dev questions (see eval/train_reader.py)",
                           "chosen": chosen, "max_false_abstention": args.max_false_abstention,
                           "answerable_auc": auc, "abstention_curve": curve,
                           "held_out_citation_f1_strict": best_point["citation_f1_strict"]}
    write_atomically(meta_file, json.dumps(meta, indent=1) + "\n")
    print(f"wrote the calibration into {meta_file}; set qa/settings.py's defaults to {chosen}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
