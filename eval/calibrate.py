"""Calibrate resemblance (support without the reader: `--set reader=`) and the abstention threshold
on it, on train/dev gold sets. With the reader, eval/calibrate_reader.py chooses the thresholds.

Retrieval and support features are computed once per question; every candidate setting is then
replayed through the real answerer and scored by qa.metrics, so the figures are those `qa eval`
would give (its headline keys, one JSON line per setting). Test splits are refused.

    .venv/bin/python eval/calibrate.py eval/sample_gold.jsonl --index index/default --split dev
    .venv/bin/python eval/calibrate.py ../shared/benchmarks/squad2/questions.jsonl --index index/bench-squad2 \\
        --split dev --limit 800 --weight 0.7 --threshold 0.4 0.45 0.5 --margin 0.03 --claims 2
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Sequence

from tuning import tuning_parser, tuning_settings

from qa import metrics
from qa.answer import Extractive
from qa.assistant import Assistant
from qa.evaluate import GoldQuestion, read_gold, select
from qa.settings import Settings
from qa.support import Evidence, blend

GRID = {"weight": [0.3, 0.4, 0.5, 0.6, 0.7], "threshold": [0.3, 0.35, 0.4, 0.45, 0.5, 0.55],
        "margin": [0.0, 0.03, 0.05, 0.1], "claims": [1, 2, 3]}


def features(questions: list[GoldQuestion], assistant: Assistant, distractor: bool) -> list[tuple]:
    """Per question: its evidence (retrieval, support and its parts) and located gold sentences,
    computed once to be replayed under many settings."""
    texts = {d: s.document.text for d, s in assistant.index.documents.items()}
    rows = []
    for q in questions:
        doc_ids = list(q.candidate_doc_ids) if distractor and q.candidate_doc_ids else None
        evidence = assistant.evidence(q.question, list(q.history), doc_ids).evidence
        gold = [metrics.locate(item, texts) for item in q.supporting] if q.answerable else []
        rows.append((q, evidence, gold))
    return rows


def replay(index, rows, settings: Settings, support: Callable[[list[Evidence]], Sequence[float]],
           figures: Callable[[list[metrics.Scores]], dict] = metrics.aggregate) -> dict:
    """qa eval's headline figures for `settings`, the recorded evidence rescored by `support` and
    answered by the real answerer."""
    answerer = Extractive(settings)
    scores = []
    for q, evidence, gold in rows:
        rescored = sorted((e.rescored(float(value)) for e, value in zip(evidence, support(evidence))),
                          key=lambda e: e.support, reverse=True)
        draft = answerer.answer(q.question, rescored, index)
        cited = [metrics.Span(c.doc_id, c.start, c.end) for c in draft.citations]
        scores.append(metrics.score(draft.text, draft.abstained, list(q.answers), q.answerable,
                                    metrics.match(cited, [], gold), 0.0,
                                    max((c.score for c in draft.citations), default=None)))
    return figures(scores)


def main() -> None:
    parser = tuning_parser(__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="a seeded random sample of N questions, as qa eval --limit")
    for name, values in GRID.items():
        parser.add_argument(f"--{name}", type=type(values[0]), nargs="+", default=values, help=f"default {values}")
    args = parser.parse_args()
    base = tuning_settings(parser, args)
    assistant = Assistant(base.with_(reader=""))  # resemblance alone is what is calibrated here
    rows = features(select(read_gold(args.gold), args.split, args.limit), assistant, args.distractor)
    print(f"{len(rows)} questions", file=sys.stderr)
    # Retrieval does not depend on these settings, and latency is not measured in a replay.
    shown = [k for k in metrics.HIGHER_IS_BETTER if k not in metrics.LATENCY and k != "retrieval_recall_at_10"]
    for w, threshold, margin, claims in itertools.product(args.weight, args.threshold, args.margin, args.claims):
        s = base.with_(support_dense_weight=w, abstain_below=threshold, answer_margin=margin, max_claims=claims)
        m = replay(assistant.index, rows, s,
                   lambda evidence, w=w: [e.fit * blend(e.cosine, e.overlap, w) for e in evidence])
        print(json.dumps({"w": w, "t": threshold, "m": margin, "c": claims,
                          **{k: m[k] for k in shown}, "ci95": {k: m["ci95"][k] for k in shown}}))


if __name__ == "__main__":
    main()
