"""What `qa eval` writes for people: report.md, its tables and its three plots."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from qa.metrics import LATENCY, Change, Scores, abstention_curve

MEANING = {
    "answer_str_em": "lenient: answerable questions whose answer contains a gold answer (SQuAD-normalized)",
    "answer_f1": "token F1 of the whole answer text against the best gold answer, answerable questions",
    "answer_em": "strict: SQuAD exact match of the short answer (the answer text when there is none)",
    "answer_token_f1": "SQuAD token F1 of the short answer (the answer text when there is none)",
    "citation_precision": "lenient: share of an answer's citations overlapping a gold sentence (mean per question)",
    "citation_recall": "lenient: share of the gold sentences some citation overlaps (mean per question)",
    "citation_f1": "lenient: per-question F1 of the two above, averaged",
    "citation_precision_strict": "strict: share of an answer's citations that are a gold sentence (mean per question)",
    "citation_recall_strict": "strict: share of the gold sentences cited as such (mean per question)",
    "citation_f1_strict": "strict: per-question F1 of the two above, averaged (HotpotQA's supporting-fact F1)",
    "citation_precision_all_questions": "lenient precision, with citations on unanswerable questions counted wrong",
    "citation_precision_micro": "lenient, pooled over all citations of answerable questions",
    "citation_recall_micro": "lenient, pooled over all gold sentences",
    "retrieval_recall_at_10": "gold sentences overlapped by the 10 retrieved sentences (pooled)",
    "unanswerable_abstained": "unanswerable questions where it said the documents don't say",
    "false_abstention": "answerable questions where it abstained (lower is better)",
    "overall_correct": "all questions handled right: gold answer given, or abstained when unanswerable",
    "short_answer_shown": "answered, answerable questions that led with a short answer",
    "short_answer_precision": "short answers shown whose token F1 against a gold answer is at least 0.5",
    "latency_p50_ms": "median time of one ask(), ms",
    "latency_p95_ms": "95th percentile time of one ask(), ms",
}
PLOTS = {"headline.png": "Headline metrics", "latency.png": "Latency per question",
         "abstention.png": "Precision and coverage against the abstention threshold"}
WORST = 10


def format_headline(metrics: dict) -> str:
    rows = ["| metric | value | 95% interval | meaning |", "|---|---|---|---|"]
    for name, meaning in MEANING.items():
        rows.append(f"| {name} | {_show(metrics.get(name))} | {interval(metrics, name)} | {meaning} |")
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in metrics["counts"].items())
    return "\n".join(rows) + f"\n\nIntervals: seeded bootstrap over the questions. Counts: {counts}."


def interval(metrics: dict, name: str) -> str:
    """A figure's 95% interval as text ("0.812-0.866"), or n/a."""
    found = (metrics.get("ci95") or {}).get(name)
    return "n/a" if found is None else f"{_show(found[0])}-{_show(found[1])}"


def format_changes(changes: list[Change], baseline: dict, metrics: dict, baseline_questions: int) -> str:
    rows = ["Scores are compared question by question over the questions both runs answered; a drop fails "
            "when it exceeds the allowed margin and its 95% interval (bootstrap of the paired differences) "
            "lies wholly on the worse side.", "",
            "| metric | baseline | now | change | 95% interval of the drop | allowed | |", "|---|---|---|---|---|---|---|"]
    for c in changes:
        if c.worse_by is None:
            delta, verdict = "", "not compared"
        else:
            unit = " (relative)" if c.metric in LATENCY else ""
            delta = f"{-c.worse_by:+.3f} better{unit}" if c.worse_by < 0 else f"{c.worse_by:.3f} worse{unit}"
            delta = "no change" if abs(c.worse_by) < 5e-5 else delta
            verdict = "**REGRESSED**" if c.failed else "ok"
        allowed = f"{c.allowed:.0%} slower" if c.metric in LATENCY else f"{c.allowed:.3f}"
        spread = "" if c.interval is None else f"{c.interval[0]:+.3f} to {c.interval[1]:+.3f}"
        rows.append(f"| {c.metric} | {_show(c.before)} | {_show(c.after)} | {delta} | {spread} | {allowed} | {verdict} |")
    was, now = baseline.get("run", {}), metrics["run"]
    if was.get("questions_sha256") != now["questions_sha256"]:
        rows.append(f"\nNote: the baseline was measured on another question set ({baseline_questions} questions; "
                    f"now {metrics['counts']['questions']}): only the questions both have are compared.")
    return "\n".join(rows)


def write_report(out: Path, metrics: dict, lines: list[dict], scores: list[Scores],
                 changes: list[Change] | None, baseline: dict | None, baseline_questions: int = 0) -> None:
    run = metrics["run"]
    thresholds = [step / 100 for step in range(101)]
    _plot_headline(out / "headline.png", metrics, baseline)
    _plot_latency(out / "latency.png", scores, metrics)
    _plot_abstention(out / "abstention.png", abstention_curve(scores, thresholds), run["abstain_below"])

    what = (f"`{run['gold']}`" + (f", split {run['split']}" if run["split"] else "") + f", {run['setting']} setting, "
            f"{run['answerer']} answerer, abstain below {run['abstain_below']}; index of {run['documents']} documents "
            f"({run['sentences']} sentences); {metrics['counts']['questions']} questions answered in "
            f"{run['seconds_answering']} s ({run['seconds_total']} s with indexing), {run['workers']} worker(s).")
    parts = ["# Evaluation report", what, "## Headline", format_headline(metrics)]
    if changes:
        parts += ["## Against the baseline", format_changes(changes, baseline, metrics, baseline_questions)]
    parts += ["## Choosing an abstention threshold", _curve_table(abstention_curve(scores, thresholds[::5]), run["abstain_below"]),
              "## Plots", "\n".join(f"- [{title}]({name})\n\n  ![{title}]({name})" for name, title in PLOTS.items()),
              f"## Worst failures (up to {WORST})", _failures(lines)]
    (out / "report.md").write_text("\n\n".join(parts) + "\n", encoding="utf-8")


def _curve_table(curve: list[dict], run_threshold: float) -> str:
    rows = ["A question's confidence is the support score of the best sentence it would cite (for an "
            "abstention, from asking it again with no threshold). Abstaining below a threshold t answers "
            "the questions whose confidence is at least t. precision: answered questions whose answer "
            "holds a gold answer (an answered unanswerable question is wrong); coverage: answerable "
            f"questions answered. This run abstained below {run_threshold:g} (setting `abstain_below`).", "",
            "| threshold | precision | coverage of answerable | unanswerable abstained |", "|---|---|---|---|"]
    for p in curve:
        rows.append(f"| {p['threshold']:.2f} | {_show(p['precision'])} | {_show(p['coverage'])} | "
                    f"{_show(p['unanswerable_abstained'])} |")
    return "\n".join(rows)


def quality(line: dict) -> float:
    """1 for a fully right answer; what the worst-failures list sorts by."""
    s = line["scores"]
    if not s["answerable"]:
        return 1.0 if s["abstained"] else 0.0
    parts = [float(s["found"])] + ([s["citation_f1"]] if "citation_f1" in s else [])
    return sum(parts) / len(parts)


def _failures(lines: list[dict]) -> str:
    failed = sorted((line for line in lines if quality(line) < 1),
                    key=lambda line: (quality(line), -(line["scores"]["confidence"] or 0)))
    if not failed:
        return "None: every answer was right."
    blocks = []
    for line in failed[:WORST]:
        s = line["scores"]
        kind = ("answered an unanswerable question" if not s["answerable"] else
                "false abstention" if s["abstained"] else
                "answer lacks the gold answer" if not s["found"] else "citations miss gold sentences")
        block = [f"### {line['id']}: {kind}", f"**Q:** {line['question']}"]
        if line["history"]:
            block.append("**Earlier turns:** " + " / ".join(line["history"]))
        block.append(f"**Gold:** {' | '.join(line['gold_answers']) or '(unanswerable)'}")
        block.append(f"**Answer** (confidence {_show(s['confidence'])}): {line['answer']}")
        if line["answer_without_threshold"]:
            block.append(f"**With no threshold it would say:** {line['answer_without_threshold']}")
        evidence = [f"- cited {'✓' if c['on_gold'] else '✗'} {c['doc_id']} #{c['sentence_index'] + 1}: “{c['text']}”"
                    for c in line["citations"]]
        for g in line["gold_sentences"]:
            state = "not in the index" if not g["located"] else ("cited" if g["cited"] else
                                                                 "retrieved, not cited" if g["retrieved"] else "not retrieved")
            evidence.append(f"- gold ({state}) {g['doc_id']}: “{g['sentence']}”")
        if evidence:
            block.append("\n".join(evidence))
        blocks.append("\n\n".join(block))
    return "\n\n".join(blocks)


def _show(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if isinstance(value, float) and value > 1 else f"{value:.3f}" if isinstance(value, float) else str(value)


# --- plots -----------------------------------------------------------------------------------
@contextmanager
def _figure(path: Path, size: tuple[float, float]):
    """Axes to draw on; the figure is laid out, written to `path` and closed after the block."""
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on servers or CI
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    yield ax
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_headline(path: Path, metrics: dict, baseline: dict | None) -> None:
    names = [n for n in MEANING if n not in LATENCY and metrics.get(n) is not None]
    with _figure(path, (9, 7)) as ax:
        values = [metrics[n] for n in names]
        spread = [metrics.get("ci95", {}).get(n) or [v, v] for n, v in zip(names, values)]
        errors = [[v - low for v, (low, _) in zip(values, spread)], [high - v for v, (_, high) in zip(values, spread)]]
        bars = ax.barh(names, values, xerr=errors, color="#4c72b0", error_kw={"ecolor": "#333333", "capsize": 2})
        ax.bar_label(bars, fmt="%.3f", padding=8)
        if baseline:
            shown = [(i, baseline[n]) for i, n in enumerate(names) if baseline.get(n) is not None]
            ax.scatter([v for _, v in shown], [i for i, _ in shown], color="black", marker="|", s=300, zorder=3, label="baseline")
            ax.legend(loc="lower right")
        ax.set_xlim(0, 1.12)
        ax.invert_yaxis()
        ax.set_title(f"Headline metrics ({metrics['counts']['questions']} questions; bars: 95% interval)")


def _plot_latency(path: Path, scores: list[Scores], metrics: dict) -> None:
    with _figure(path, (8, 4)) as ax:
        ax.hist([s.latency_ms for s in scores], bins=40, color="#55a868")
        for key, style in (("latency_p50_ms", "--"), ("latency_p95_ms", ":")):
            ax.axvline(metrics[key], color="black", linestyle=style, label=f"{key[8:11]} {metrics[key]:.0f} ms")
        ax.set_xlabel("ask() time per question, ms")
        ax.set_ylabel("questions")
        ax.legend()


def _plot_abstention(path: Path, curve: list[dict], run_threshold: float) -> None:
    with _figure(path, (8, 4.5)) as ax:
        x = [p["threshold"] for p in curve]
        for key, label, style in (("precision", "precision (answer holds a gold answer)", "-"),
                                  ("coverage", "coverage (answerable questions answered)", "-"),
                                  ("unanswerable_abstained", "unanswerable questions abstained", ":")):
            y = [p[key] for p in curve]
            if any(v is not None for v in y):
                ax.plot(x, [float("nan") if v is None else v for v in y], style, label=label, linewidth=2)
        ax.axvline(run_threshold, color="grey", linestyle="--", label=f"this run's threshold {run_threshold:g}")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("abstention threshold: answer only when the best sentence's support is at least this")
        ax.legend(fontsize=8, loc="lower left")
