"""Scoring answers and citations against gold, the same way for every gold set.

Citations are matched to gold supporting sentences by character spans inside the same document,
so the figures do not depend on whose sentence splitter produced the gold. Two matches are kept
side by side: lenient (any shared character) and strict (the same sentence: most of each span's
characters are shared, HotpotQA's supporting-fact definition once spans stand for sentence ids).

    >>> Span("a.txt", 0, 40).overlaps(Span("a.txt", 39, 80))
    True
    >>> Span("a.txt", 0, 40).same_sentence(Span("a.txt", 39, 80))
    False
    >>> round(token_f1("They ruled out ground troops [1].", ["ground troops"]), 3)  # p 2/5, r 2/2
    0.571

Every ratio figure is a sum over questions of a per-question part over a per-question whole
(`terms`), so the headline value, its bootstrap interval and the paired regression gate are
computed from one definition.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("“”‘’–—")
_MARKER = re.compile(r"\[\d+\]")


def normalize(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces.

    Citation markers ([1], [2]…) go first: otherwise "[1]" would score as the token "1".
    """
    text = _MARKER.sub(" ", text)
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains_answer(answer: str, golds: list[str]) -> bool:
    normalized = f" {normalize(answer)} "
    return any(f" {normalize(g)} " in normalized for g in golds if normalize(g))


def exact_match(answer: str, golds: list[str]) -> bool:
    """SQuAD's EM: the normalized answer equals a normalized gold answer."""
    predicted = normalize(answer)
    return any(predicted == normalize(g) for g in golds if normalize(g))


def token_f1(answer: str, golds: list[str]) -> float:
    best = 0.0
    predicted = normalize(answer).split()
    for gold in golds:
        truth = normalize(gold).split()
        common = sum((Counter(predicted) & Counter(truth)).values())
        if common:
            p, r = common / len(predicted), common / len(truth)
            best = max(best, 2 * p * r / (p + r))
    return best


@dataclass(frozen=True)
class Span:
    doc_id: str
    start: int
    end: int

    def shared(self, other: Span) -> int:
        """Characters the two spans have in common (0 across documents)."""
        if self.doc_id != other.doc_id:
            return 0
        return max(0, min(self.end, other.end) - max(self.start, other.start))

    def overlaps(self, other: Span) -> bool:
        return self.shared(other) > 0

    def same_sentence(self, other: Span) -> bool:
        """Most of this span's characters lie in the other and most of the other's in this one:
        the same sentence, cut by another splitter at most slightly differently."""
        common = 2 * self.shared(other)
        return common > self.end - self.start and common > other.end - other.start


def locate(item: dict, doc_texts: dict[str, str], doc_spans: dict[str, list] | None = None) -> Span | None:
    """Where one gold sentence lies in its document: by its text, else by the gold's own spans."""
    doc_id = str(item["doc_id"])
    text = doc_texts.get(doc_id)
    if text is None:
        return None
    sentence = (item.get("sentence") or "").strip()
    at = text.find(sentence) if sentence else -1
    if at >= 0:
        return Span(doc_id, at, at + len(sentence))
    if doc_spans and doc_id in doc_spans and item.get("sent_idx") is not None:
        start, end = doc_spans[doc_id][item["sent_idx"]]
        return Span(doc_id, start, end)
    return None


def gold_spans(supporting: list[dict], doc_texts: dict[str, str], doc_spans: dict[str, list] | None = None) -> list[Span]:
    """The gold sentences that could be located; the others are left out."""
    return [span for item in supporting if (span := locate(item, doc_texts, doc_spans)) is not None]


def retrieval_found(index, retriever, questions: list[dict], k: int, distractor: bool = False) -> list[tuple[int, int]]:
    """Per question, (gold supporting sentences overlapped by one of the top-k hits, gold sentences located).

    `index` is any index qa.location.open_live gives (a folder's, or one wholly in Milvus) and
    `retriever` the one qa.location.retriever_for gives over it; with `distractor`, each question
    searches only its `candidate_doc_ids`. Only the documents holding gold sentences are read.
    """
    from qa.retrieve import resolve

    wanted = dict.fromkeys(str(item["doc_id"]) for q in questions for item in q["supporting"])
    texts = {doc_id: stored.document.text for doc_id in wanted if (stored := index.documents.get(doc_id)) is not None}
    out = []
    for q in questions:
        gold = gold_spans(q["supporting"], texts)
        doc_ids = q.get("candidate_doc_ids") if distractor else None
        hits = retriever.search(resolve(q["question"], q.get("history") or []), doc_ids=doc_ids, k=k)
        spans = [Span(h.sentence.doc_id, h.sentence.start, h.sentence.end) for h in hits]
        out.append((sum(1 for g in gold if any(g.overlaps(s) for s in spans)), len(gold)))
    return out


def retrieval_recall(index, retriever, questions: list[dict], k: int, distractor: bool = False) -> float:
    """Share of the questions' gold supporting sentences overlapped by one of the top-k hits (pooled)."""
    found = retrieval_found(index, retriever, questions, k, distractor)
    return sum(f for f, _ in found) / max(1, sum(t for _, t in found))


# --- one question ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Matches:
    """Which citations fall on gold, and which gold sentences were located, cited and retrieved.

    One entry per citation, and one per gold sentence in the gold's order, so a report can mark
    each sentence; a gold sentence that cannot be located in the index is neither cited nor
    retrieved (it counts as a miss rather than being dropped). `_strict`: the same sentence
    (Span.same_sentence) rather than any overlap.
    """

    citations_on_gold: tuple[bool, ...]
    gold_located: tuple[bool, ...]
    gold_cited: tuple[bool, ...]
    gold_retrieved: tuple[bool, ...]
    citations_on_gold_strict: tuple[bool, ...] = ()
    gold_cited_strict: tuple[bool, ...] = ()


def match(cited: list[Span], retrieved: list[Span], gold: list[Span | None]) -> Matches:
    """Match one answer's citations and retrieval hits to the gold sentences (None: not located)."""

    def hit(g: Span | None, spans: list[Span], same: Callable[[Span, Span], bool]) -> bool:
        return g is not None and any(same(g, s) for s in spans)

    located = [g for g in gold if g is not None]
    return Matches(
        citations_on_gold=tuple(any(c.overlaps(g) for g in located) for c in cited),
        gold_located=tuple(g is not None for g in gold),
        gold_cited=tuple(hit(g, cited, Span.overlaps) for g in gold),
        gold_retrieved=tuple(hit(g, retrieved, Span.overlaps) for g in gold),
        citations_on_gold_strict=tuple(any(c.same_sentence(g) for g in located) for c in cited),
        gold_cited_strict=tuple(hit(g, cited, Span.same_sentence) for g in gold),
    )


def _share(part: str, whole: str) -> property:
    """A figure of Scores: one of its counts over another, 0.0 when that one is zero."""

    def share(scores: Scores) -> float:
        total = getattr(scores, whole)
        return getattr(scores, part) / total if total else 0.0

    return property(share)


def _f1_of(precision: str, recall: str) -> property:
    """A figure of Scores: the F1 of two of its figures."""
    return property(lambda scores: _f1(getattr(scores, precision), getattr(scores, recall)))


@dataclass(frozen=True)
class Scores:
    """Everything one answer contributes to the aggregate figures (a line's `scores` in results.jsonl)."""

    answerable: bool
    abstained: bool
    latency_ms: float
    # Support of the best sentence: the answer's best citation score, or for an abstention the
    # one the answerer gives with no threshold. None when nothing at all was retrieved.
    confidence: float | None
    found: bool = False  # a gold answer string appears in the normalized answer
    found_without_threshold: bool = False  # the same for the answer given with no threshold
    f1: float = 0.0
    # On the short answer when the answerer gave one, else on the answer text.
    answer_em: bool = False
    answer_token_f1: float = 0.0
    citations: int = 0
    citations_on_gold: int = 0
    citations_on_gold_strict: int = 0
    gold: int = 0
    gold_located: int = 0
    gold_cited: int = 0
    gold_cited_strict: int = 0
    gold_retrieved: int = 0
    llm_claims_removed: int = 0  # answer sentences an LLM wrote that the claim check took out
    short_answer_given: bool = False  # an answered, answerable question led with a short answer
    short_answer_right: bool = False  # ... whose token F1 against a gold answer is at least 0.5

    @property
    def graded(self) -> bool:
        """Whether citations can be scored: an answerable question with gold sentences."""
        return self.answerable and self.gold > 0

    citation_precision = _share("citations_on_gold", "citations")
    citation_recall = _share("gold_cited", "gold")
    citation_f1 = _f1_of("citation_precision", "citation_recall")
    citation_precision_strict = _share("citations_on_gold_strict", "citations")
    citation_recall_strict = _share("gold_cited_strict", "gold")
    citation_f1_strict = _f1_of("citation_precision_strict", "citation_recall_strict")

    def to_json(self) -> dict:
        out = asdict(self)
        if self.graded:
            out |= {k: round(getattr(self, k), 4) for k in PER_QUESTION_CITATION}
        return out

    @classmethod
    def from_json(cls, record: dict) -> Scores:
        """A results.jsonl line's `scores` back (the derived figures are recomputed)."""
        return cls(**{f.name: record[f.name] for f in fields(cls) if f.name in record})


PER_QUESTION_CITATION = ("citation_precision", "citation_recall", "citation_f1",
                         "citation_precision_strict", "citation_recall_strict", "citation_f1_strict")


def score(
    answer: str,
    abstained: bool,
    golds: list[str],
    answerable: bool,
    matches: Matches,
    latency_ms: float,
    confidence: float | None,
    answer_without_threshold: str = "",
    short_answer: str | None = None,
    llm_claims_removed: int = 0,
) -> Scores:
    """Score one answer. An answerable question that abstains scores as a miss on everything
    but latency. `answer_without_threshold` is what the answerer says with no abstention
    threshold (empty when it has nothing to say); it only feeds the threshold curve.
    `short_answer`, when the answerer gave one, is what exact match and token F1 read."""
    answered = answerable and not abstained
    span = answer if short_answer is None else short_answer
    short_given = answered and short_answer is not None
    return Scores(
        answerable=answerable,
        abstained=abstained,
        latency_ms=latency_ms,
        confidence=confidence,
        found=answered and contains_answer(answer, golds),
        found_without_threshold=answerable and contains_answer(answer_without_threshold, golds),
        f1=token_f1(answer, golds) if answered else 0.0,
        answer_em=answered and exact_match(span, golds),
        answer_token_f1=token_f1(span, golds) if answered else 0.0,
        citations=len(matches.citations_on_gold),
        citations_on_gold=sum(matches.citations_on_gold),
        citations_on_gold_strict=sum(matches.citations_on_gold_strict),
        gold=len(matches.gold_located),
        gold_located=sum(matches.gold_located),
        gold_cited=sum(matches.gold_cited),
        gold_cited_strict=sum(matches.gold_cited_strict),
        gold_retrieved=sum(matches.gold_retrieved),
        llm_claims_removed=llm_claims_removed,
        short_answer_given=short_given,
        short_answer_right=short_given and token_f1(short_answer, golds) >= 0.5,
    )


# --- a whole gold set -----------------------------------------------------------------------
# Headline metrics and the direction that counts as better; the regression gate checks these.
HIGHER_IS_BETTER = {
    "answer_str_em": True,
    "answer_f1": True,
    "answer_em": True,
    "answer_token_f1": True,
    "citation_precision": True,
    "citation_recall": True,
    "citation_f1": True,
    "citation_precision_strict": True,
    "citation_recall_strict": True,
    "citation_f1_strict": True,
    "citation_precision_all_questions": True,
    "citation_precision_micro": True,
    "citation_recall_micro": True,
    "retrieval_recall_at_10": True,
    "unanswerable_abstained": True,
    "false_abstention": False,
    "overall_correct": True,
    "short_answer_shown": True,
    "short_answer_precision": True,
    "latency_p50_ms": False,
    "latency_p95_ms": False,
}
LATENCY = {"latency_p50_ms": 50, "latency_p95_ms": 95}  # key -> percentile
BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0


def terms(s: Scores) -> dict[str, tuple[float, float]]:
    """What one question adds to each ratio figure: (part, whole); the figure is
    sum(part) / sum(whole) over the questions.

    A per-question mean adds (its value, 1) where it counts and (0, 0) where it does not (an
    unanswerable question adds nothing to answer figures); a pooled figure adds counts
    (citations on gold, citations). This is the one definition of every ratio figure: the
    headline value, its interval and the paired gate all sum these.
    """

    def where(counts: bool, value: float) -> tuple[float, float]:
        return (float(value), 1.0) if counts else (0.0, 0.0)

    def pooled(part: int, whole: int) -> tuple[float, float]:
        return (float(part), float(whole)) if s.graded else (0.0, 0.0)

    answerable, graded = s.answerable, s.graded
    # An answered unanswerable question's citations all point at text that does not answer it.
    wrongly_cited = not answerable and s.citations > 0
    return {
        "answer_str_em": where(answerable, s.found),
        "answer_f1": where(answerable, s.f1),
        "answer_em": where(answerable, s.answer_em),
        "answer_token_f1": where(answerable, s.answer_token_f1),
        **{key: where(graded, getattr(s, key)) for key in PER_QUESTION_CITATION},
        "citation_precision_all_questions": where(graded, s.citation_precision) if graded else where(wrongly_cited, 0.0),
        "citation_precision_micro": pooled(s.citations_on_gold, s.citations),
        "citation_recall_micro": pooled(s.gold_cited, s.gold),
        "retrieval_recall_at_10": pooled(s.gold_retrieved, s.gold),
        "unanswerable_abstained": where(not answerable, s.abstained),
        "false_abstention": where(answerable, s.abstained),
        "overall_correct": where(True, s.found if answerable else s.abstained),
        "short_answer_shown": where(answerable and not s.abstained, s.short_answer_given),
        "short_answer_precision": where(s.short_answer_given, s.short_answer_right),
    }


def term_arrays(scores: list[Scores]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """`terms` of every question, as one (part, whole) pair of arrays per figure."""
    import numpy as np

    rows = [terms(s) for s in scores]
    keys = rows[0] if rows else terms(Scores(True, False, 0.0, None))
    return {key: (np.array([r[key][0] for r in rows], dtype=float), np.array([r[key][1] for r in rows], dtype=float))
            for key in keys}


def point_figures(scores: list[Scores], arrays: dict | None = None) -> dict:
    """The headline figures without their intervals: for replaying many settings quickly."""
    import numpy as np

    arrays = term_arrays(scores) if arrays is None else arrays
    figures: dict = {key: _ratio(part.sum(), whole.sum()) for key, (part, whole) in arrays.items()}
    latencies = [s.latency_ms for s in scores]
    return figures | {key: _round(float(np.percentile(latencies, q)), 1) if latencies else None for key, q in LATENCY.items()}


def aggregate(scores: list[Scores]) -> dict:
    """The headline figures (None where the gold set cannot tell, e.g. no unanswerable
    questions), their 95% intervals (`ci95`) and the counts.

    Citation precision, recall and F1 are averaged per question, as HotpotQA's supporting-fact
    metrics are, so that its published figures compare; an abstention scores 0 on all three.
    The micro variants (pooled over all citations / gold sentences) are kept beside them.
    overall_correct counts both halves of a set like SQuAD 2.0: an answerable question is right
    when its answer holds a gold answer, an unanswerable one when it abstained.
    """
    import numpy as np

    arrays = term_arrays(scores)
    latencies = np.array([s.latency_ms for s in scores], dtype=float)
    figures = point_figures(scores, arrays)
    statistics = {key: _ratio_of(part, whole) for key, (part, whole) in arrays.items()}
    statistics |= {key: lambda rows, q=q: np.percentile(latencies[rows], q, axis=1) for key, q in LATENCY.items()}
    intervals = bootstrap(len(scores), statistics)
    figures = {key: figures[key] for key in HIGHER_IS_BETTER}
    graded = [s for s in scores if s.graded]
    gold = sum(s.gold for s in graded)
    figures["ci95"] = {key: intervals[key] if figures[key] is not None else None for key in HIGHER_IS_BETTER}
    figures["counts"] = {
        "questions": len(scores),
        "answerable": sum(s.answerable for s in scores),
        "unanswerable": sum(not s.answerable for s in scores),
        "answered": sum(not s.abstained for s in scores),
        "abstained": sum(s.abstained for s in scores),
        "with_gold_sentences": len(graded),
        "citations": sum(s.citations for s in graded),
        "gold_sentences": gold,
        "gold_sentences_not_located": gold - sum(s.gold_located for s in graded),
        "unanswerable_answered_with_citations": sum(not s.answerable and s.citations > 0 for s in scores),
        "llm_claims_removed": sum(s.llm_claims_removed for s in scores),
    }
    return figures


def bootstrap(n: int, statistics: dict[str, Callable[[np.ndarray], np.ndarray]],
              rounds: int = BOOTSTRAP_ROUNDS, seed: int = BOOTSTRAP_SEED) -> dict[str, list[float] | None]:
    """95% percentile intervals by resampling the n questions with replacement.

    Each statistic maps a (rounds, n) array of question indices to one value per round (NaN
    where a resample cannot tell, e.g. it drew no unanswerable question). All statistics see
    the same seeded resamples, so the same run always gets the same intervals.
    """
    import numpy as np

    if n == 0:
        return {key: None for key in statistics}
    rows = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for key, statistic in statistics.items():
            values = np.asarray(statistic(rows), dtype=float)
            values = values[~np.isnan(values)]
            out[key] = [_round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])] if values.size else None
    return out


def _ratio_of(part: np.ndarray, whole: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda rows: part[rows].sum(axis=1) / whole[rows].sum(axis=1)


def abstention_curve(scores: list[Scores], thresholds: list[float], intervals: bool = False) -> list[dict]:
    """What abstaining below each threshold on `confidence` would give.

    A question is answered at threshold t when its confidence is at least t; what it answers is
    the answer given with no threshold. precision: answered questions whose answer holds a gold
    string, over all answered (an answered unanswerable question is wrong); coverage: answered
    share of the answerable questions; unanswerable_abstained: as in `aggregate`. With
    `intervals`, each point also gets `ci95` (the shared bootstrap) for the three.
    """
    import numpy as np

    confidence = np.array([np.nan if s.confidence is None else s.confidence for s in scores], dtype=float)
    answerable = np.array([s.answerable for s in scores], dtype=float)
    found = np.array([s.found_without_threshold for s in scores], dtype=float)
    curve = []
    for t in thresholds:
        with np.errstate(invalid="ignore"):
            kept = (confidence >= t).astype(float)
        parts = {"precision": (found * kept, kept), "coverage": (answerable * kept, answerable),
                 "unanswerable_abstained": ((1 - answerable) * (1 - kept), 1 - answerable)}
        point = {"threshold": round(t, 4), **{key: _ratio(part.sum(), whole.sum()) for key, (part, whole) in parts.items()}}
        if intervals:
            point["ci95"] = bootstrap(len(scores), {key: _ratio_of(part, whole) for key, (part, whole) in parts.items()})
        curve.append(point)
    return curve


# --- the regression gate --------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    metric: str
    before: float | None
    after: float | None
    worse_by: float | None  # score points for ratios; a relative increase for latencies
    allowed: float
    failed: bool
    # 95% interval of worse_by over the paired questions (ratios only): a drop counts only when
    # the whole interval lies on the worse side of zero.
    interval: list[float] | None = None


def compare(baseline: dict[str, Scores], current: dict[str, Scores], baseline_figures: dict, current_figures: dict,
            max_drop: float, max_slowdown: float) -> list[Change]:
    """Each headline metric against the baseline, question by question.

    `baseline` and `current` map a question's key to its Scores; only the questions both runs
    answered are compared, paired, whatever their order. A ratio fails when it got worse by
    more than `max_drop` points and the bootstrap interval of the paired difference lies wholly
    on the worse side: a few questions flipping either way on a small gold set is noise. A
    latency (whole-run percentiles, not paired) fails when it grew by more than `max_slowdown`
    (0.5: 50 % slower), since milliseconds differ between machines far more than answers do.
    """
    shared = [key for key in current if key in baseline]
    before_arrays = term_arrays([baseline[key] for key in shared])
    after_arrays = term_arrays([current[key] for key in shared])
    statistics, changes = {}, {}
    for metric, higher_is_better in HIGHER_IS_BETTER.items():
        if metric in LATENCY:
            continue
        (bp, bw), (ap, aw) = before_arrays[metric], after_arrays[metric]
        before, after = _ratio(bp.sum(), bw.sum()), _ratio(ap.sum(), aw.sum())
        sign = 1 if higher_is_better else -1
        worse_by = None if before is None or after is None else round(sign * (before - after), 4)
        changes[metric] = (before, after, worse_by)
        statistics[metric] = lambda rows, b=_ratio_of(bp, bw), a=_ratio_of(ap, aw), sign=sign: sign * (b(rows) - a(rows))
    intervals = bootstrap(len(shared), statistics)
    out = []
    for metric in HIGHER_IS_BETTER:
        if metric in LATENCY:
            before, after = baseline_figures.get(metric), current_figures.get(metric)
            worse_by = (after - before) / before if before and after is not None else None
            failed = worse_by is not None and worse_by > max_slowdown + 1e-9
            out.append(Change(metric, before, after, worse_by, max_slowdown, failed))
            continue
        before, after, worse_by = changes[metric]
        interval = intervals[metric] if worse_by is not None else None
        failed = worse_by is not None and worse_by > max_drop + 1e-9 and interval is not None and interval[0] > 0
        out.append(Change(metric, before, after, worse_by, max_drop, failed, interval))
    return out


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _ratio(part: float, whole: float) -> float | None:
    return _round(float(part) / float(whole), 4) if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
