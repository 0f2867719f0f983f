"""Fit the claim check (qa/answer/grounding.py) that an LLM answer's sentences pass, on held-out
dev claims, and write qa/models/claims.json.

    .venv/bin/python eval/calibrate_claims.py            # writes qa/models/claims.json
    .venv/bin/python eval/calibrate_claims.py --dry-run  # prints the figures only

Needs the benchmark indexes (index/bench-squad2, index/bench-clapnq: `make benchmarks` builds
them). Reads only dev questions that eval/train_reader.py held out of the reader's training, in
the distractor setting; test splits are never read. Claims, each with the evidence it cites
(`Assistant.evidence`, as an answer would have it):
- SQuAD 2.0: the clause of the gold sentence that holds the answer (stated), the same clause with
  another answer of the article swapped in (not stated: the near miss a model makes), and another
  question's gold sentence cited against this one (not stated: a wrong citation);
- CLAPNQ: each sentence of the annotators' answer, written from the passage in their own words,
  cited against the gold sentences (stated) and against as many of the passage's other
  sentences, the closest to it first (not stated: right topic, not the source).
Questions are split in two by a hash of their id: the combination (a logistic regression over
grounding.py's FEATURES, each set weighing the same) and its threshold (the highest that keeps
--keep of the stated claims of every set) are fitted on one half, and the figures written beside
them are measured on the other, against the lexical rule the check replaced (coverage >= 0.6 and
cosine >= 0.55) and against the same fit with the reader's logit (the claim read as the question)
as a fourth reading, which is why the check does without it. Most stated claims here share
nearly all their words with their sentences (CLAPNQ's annotators copied as much as they
reworded): the figures include the stated claims that do not (coverage < 0.95), the ones a
paraphrasing model writes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "eval"))

from train_reader import BENCHMARKS, held_out  # noqa: E402

SEED = 7
OLD_RULE = {"coverage": 0.6, "cosine": 0.55}


def halves(question_id: str) -> str:
    return "fit" if int(hashlib.sha256(question_id.encode()).hexdigest(), 16) % 2 == 0 else "report"


def gold_evidence(evidence, located) -> list:
    return [e for e in evidence
            if any(g is not None and g.doc_id == e.hit.sentence.doc_id and g.start < e.hit.sentence.end
                   and e.hit.sentence.start < g.end for g in located)]


def squad_claims(assistant, questions, rng):
    """(question id, kind, stated, claim, cited evidence) from held-out SQuAD 2.0 dev."""
    from qa import metrics

    texts = {d: s.document.text for d, s in assistant.index.documents.items()}
    by_article: dict[str, list] = {}
    for q in questions:
        by_article.setdefault(q["meta"]["article"], []).append(q)
    out = []
    for group in by_article.values():
        answers = [q["answers"][0] for q in group if q["answers"]]
        for q in group:
            sentence = q["supporting"][0]["sentence"]
            answer = next((a for a in q["answers"] if a in sentence), None)
            if answer is None:
                continue
            evidence = assistant.evidence(q["question"], [], list(q["candidate_doc_ids"])).evidence
            cited = gold_evidence(evidence, [metrics.locate(q["supporting"][0], texts)])
            if not cited:
                continue
            clause = next((c for c in re.split(r"(?<=[,;])\s+", sentence) if answer in c), sentence)
            if len(clause.split()) < 6:
                clause = sentence
            out.append((q["id"], "stated", 1, clause, cited))
            has_digit = bool(re.search(r"\d", answer))
            swaps = [a for a in answers if a != answer and a not in sentence and bool(re.search(r"\d", a)) == has_digit]
            if swaps:
                out.append((q["id"], "answer swapped", 0, clause.replace(answer, rng.choice(swaps)), cited))
            other = rng.choice(group)["supporting"][0]["sentence"]
            if other != sentence:
                out.append((q["id"], "wrong citation", 0, other, cited))
    return out


def clapnq_claims(assistant, questions):
    """(question id, kind, stated, claim, cited evidence) from held-out CLAPNQ dev."""
    from qa import metrics
    from qa.sentences import segmenter

    texts = {d: s.document.text for d, s in assistant.index.documents.items()}
    out = []
    for q in questions:
        evidence = assistant.evidence(q["question"], [], list(q["candidate_doc_ids"])).evidence
        gold = gold_evidence(evidence, [metrics.locate(s, texts) for s in q["supporting"]])
        others = [e for e in evidence if e not in gold]
        if not gold:
            continue
        for claim in segmenter().segment(q["answers"][0]):
            claim = claim.strip()
            if len(claim.split()) < 5:
                continue
            out.append((q["id"], "stated", 1, claim, gold))
            if others:
                vector = assistant.encoder.encode([claim])[0]
                closest = sorted(others, key=lambda e: -float(e.vector @ vector))[: len(gold)]
                out.append((q["id"], "other sentences of the passage", 0, claim, closest))
    return out


def dev_questions(name: str, limit: int) -> list[dict]:
    rows = []
    with open(BENCHMARKS / name / "questions.jsonl") as f:
        for line in f:
            q = json.loads(line)
            if q["split"] == "dev" and held_out(name, q) and q["answerable"] and q["supporting"]:
                rows.append(q)
    if 0 < limit < len(rows):
        rows = [rows[i] for i in sorted(random.Random(SEED).sample(range(len(rows)), limit))]
    return rows


def read_claims(args) -> list[tuple]:
    """(set, question id, kind, stated, FEATURES + the reader's logit) of every claim."""
    from qa.answer.grounding import readings
    from qa.reader import passage
    from qa.assistant import Assistant
    from qa.settings import Settings

    rng = random.Random(SEED)
    claims = []
    for name, build in (("squad2", lambda a, qs: squad_claims(a, qs, rng)), ("clapnq", clapnq_claims)):
        index_dir = args.index_root / f"bench-{name}"
        if not (index_dir / "CURRENT").exists():
            sys.exit(f"calibrate_claims: {index_dir} is missing; `make benchmarks` builds it")
        assistant = Assistant(Settings.load(index_dir=index_dir))
        made = build(assistant, dev_questions(name, args.limit if name == "squad2" else 0))
        weights = assistant.index.term_weights()
        print(f"{name}: {len(made)} claims ({', '.join(f'{k} {sum(1 for c in made if c[1] == k)}' for k in sorted({c[1] for c in made}))})",
              file=sys.stderr)
        for qid, kind, stated, claim, cited in made:
            found = readings(claim, cited, weights, assistant.encoder)
            titles = [assistant.index.documents[e.hit.sentence.doc_id].document.title for e in cited]
            reader = assistant.reader.logits(claim, [passage(t, e.hit.sentence.text) for t, e in zip(titles, cited)]).max()
            claims.append((name, qid, kind, stated, [float(v) for v in found] + [float(reader)]))
    return claims


def main() -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from qa.answer.grounding import FEATURES, calibration_file
    from qa.metrics import bootstrap
    from qa.files import write_atomically

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-root", type=Path, default=ROOT / "index")
    parser.add_argument("--limit", type=int, default=500, help="SQuAD 2.0 questions (a seeded sample)")
    parser.add_argument("--keep", type=float, default=0.95, help="share of stated claims the threshold keeps (fit half)")
    parser.add_argument("--readings", type=Path, default=ROOT / "eval" / "out" / "claim-readings.json",
                        help="the claims' readings, computed once (minutes) and reused while the fit changes; "
                             "delete it after the reader or the indexes change")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()

    if args.readings.exists():
        claims = [tuple(c) for c in json.loads(args.readings.read_text())]
        print(f"readings of {len(claims)} claims from {args.readings}", file=sys.stderr)
    else:
        claims = read_claims(args)
        args.readings.parent.mkdir(parents=True, exist_ok=True)
        args.readings.write_text(json.dumps(claims))

    half = np.array([halves(qid) for _, qid, *_ in claims])
    stated = np.array([c[3] for c in claims])
    sets = np.array([c[0] for c in claims])
    kinds = np.array([f"{c[0]}: {c[2]}" for c in claims])
    full = np.array([c[4] for c in claims])  # FEATURES, then the reader's logit
    coverage, cosine = full[:, FEATURES.index("coverage")], full[:, FEATURES.index("cosine")]
    reworded = (stated == 1) & (coverage < 0.95)
    groups = {kind: kinds == kind for kind in sorted(set(kinds))} | {"stated, reworded (coverage < 0.95)": reworded}
    balance = np.array([1.0 / (sets == name).sum() for name in sets])
    fit = half == "fit"

    def fitted(x):
        model = LogisticRegression(C=10.0, max_iter=1000).fit(x[fit], stated[fit], sample_weight=balance[fit])
        score = model.predict_proba(x)[:, 1]
        threshold = min(float(np.quantile(score[fit & (stated == 1) & (sets == name)], 1 - args.keep))
                        for name in sorted(set(sets)))
        return model, score >= threshold, threshold

    def passed(verdicts) -> dict:
        """Per group, the share passed on the report half and its 95% interval (the group's claims
        resampled with replacement, qa.metrics.bootstrap)."""
        out = {}
        for group, member in groups.items():
            shown = verdicts[member & ~fit].astype(float)
            interval = bootstrap(len(shown), {"passed": lambda rows, v=shown: v[rows].mean(axis=1)})["passed"]
            out[group] = {"share": round(float(shown.mean()), 3), "ci95": interval}
        return out

    model, check, threshold = fitted(full[:, : len(FEATURES)])
    figures = {"claims": {group: int((member & ~fit).sum()) for group, member in groups.items()},
               "passed": passed(check),
               "passed_by_the_lexical_rule": passed((coverage >= OLD_RULE["coverage"]) & (cosine >= OLD_RULE["cosine"])),
               "passed_with_the_reader_as_a_fourth_reading": passed(fitted(full)[1])}
    out = {"fit": {"features": list(FEATURES), "weights": [float(w) for w in model.coef_[0]],
                   "bias": float(model.intercept_[0]), "threshold": round(threshold, 4),
                   "keeps_stated_on_fit_half": args.keep},
           "data": "held-out dev claims (eval/calibrate_claims.py): SQuAD 2.0 answer clauses, answer swaps and wrong "
                   "citations; CLAPNQ answer sentences cited against their gold sentences and against the passage's other sentences",
           "fit_claims": int(fit.sum()),
           "report_half": figures}
    print(f"threshold {threshold:.3f}; share passed on the report half (claims):", file=sys.stderr)
    for group in groups:
        print(f"  {group:45s} {figures['claims'][group]:4d}: check {shown(figures['passed'][group])}, lexical rule "
              f"{shown(figures['passed_by_the_lexical_rule'][group])}, with the reader "
              f"{shown(figures['passed_with_the_reader_as_a_fourth_reading'][group])}", file=sys.stderr)
    if not args.dry_run:
        from benchmarks import README, write_sections  # eval/benchmarks.py, beside this script

        write_atomically(calibration_file(), json.dumps(out, indent=1) + "\n")
        write_sections(README, {"claims": readme_table(figures)})
        print(f"wrote {calibration_file()} and its table in {README}", file=sys.stderr)


def shown(figure: dict) -> str:
    low, high = figure["ci95"]
    return f"{figure['share']:.3f} ({low:.2f}-{high:.2f})"


def readme_table(figures: dict) -> str:
    """The report half's figures as the README shows them, with 95% intervals."""
    rows = ["| claims | check | lexical rule it replaced (coverage >= 0.6, cosine >= 0.55) | with the reader as a fourth reading |",
            "|---|---|---|---|"]
    for group, claims in figures["claims"].items():
        rows.append(f"| {group} ({claims}) | {shown(figures['passed'][group])} | {shown(figures['passed_by_the_lexical_rule'][group])} "
                    f"| {shown(figures['passed_with_the_reader_as_a_fourth_reading'][group])} |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
