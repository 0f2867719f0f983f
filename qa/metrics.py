"""Scoring answers and citations against gold, the same way for every gold set.

Citations are matched to gold supporting sentences by character-span overlap inside the same
document, so the figures do not depend on whose sentence splitter produced the gold.

    >>> Span("a.txt", 0, 40).overlaps(Span("a.txt", 39, 80))
    True
    >>> round(token_f1("They ruled out ground troops [1].", ["ground troops"]), 3)  # p 2/5, r 2/2
    0.571
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import asdict, dataclass

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

    def overlaps(self, other: Span) -> bool:
        return self.doc_id == other.doc_id and self.start < other.end and other.start < self.end


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


def retrieval_recall(index, retriever, questions: list[dict], k: int, distractor: bool = False) -> float:
    """Share of the questions' gold supporting sentences overlapped by one of the top-k hits.

    `index` and `retriever` are a loaded qa.store.Index and a qa.retrieve.Retriever over it; with
    `distractor`, each question searches only its `candidate_doc_ids`.
    """
    from qa.retrieve import resolve

    texts = {doc_id: stored.document.text for doc_id, stored in index.documents.items()}
    found = total = 0
    for q in questions:
        gold = gold_spans(q["supporting"], texts)
        doc_ids = q.get("candidate_doc_ids") if distractor else None
        hits = retriever.search(resolve(q["question"], q.get("history") or []), doc_ids=doc_ids, k=k)
        spans = [Span(h.sentence.doc_id, h.sentence.start, h.sentence.end) for h in hits]
        found += sum(1 for g in gold if any(g.overlaps(s) for s in spans))
        total += len(gold)
    return found / max(1, total)


def citation_scores(cited: list[Span], gold: list[Span]) -> tuple[int, int]:
    """(citations overlapping some gold sentence, gold sentences overlapped by some citation)."""
    matches = match(cited, [], list(gold))
    return sum(matches.citations_on_gold), sum(matches.gold_cited)


# --- one question ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Matches:
    """Which citations fall on gold, and which gold sentences were located, cited and retrieved.

    One entry per citation, and one per gold sentence in the gold's order, so a report can mark
    each sentence; a gold sentence that cannot be located in the index is neither cited nor
    retrieved (it counts as a miss rather than being dropped).
    """

    citations_on_gold: tuple[bool, ...]
    gold_located: tuple[bool, ...]
    gold_cited: tuple[bool, ...]
    gold_retrieved: tuple[bool, ...]


def match(cited: list[Span], retrieved: list[Span], gold: list[Span | None]) -> Matches:
    """Match one answer's citations and retrieval hits to the gold sentences (None: not located)."""

    def overlapped(g: Span | None, spans: list[Span]) -> bool:
        return g is not None and any(g.overlaps(s) for s in spans)

    located = [g for g in gold if g is not None]
    return Matches(
        citations_on_gold=tuple(any(c.overlaps(g) for g in located) for c in cited),
        gold_located=tuple(g is not None for g in gold),
        gold_cited=tuple(overlapped(g, cited) for g in gold),
        gold_retrieved=tuple(overlapped(g, retrieved) for g in gold),
    )


@dataclass(frozen=True)
class Scores:
    """Everything one answer contributes to the aggregate figures."""

    answerable: bool
    abstained: bool
    latency_ms: float
    # Support of the best sentence: the answer's best citation score, or for an abstention the
    # one the answerer gives with no threshold. None when nothing at all was retrieved.
    confidence: float | None
    found: bool = False  # a gold answer string appears in the normalized answer
    found_without_threshold: bool = False  # the same for the answer given with no threshold
    f1: float = 0.0
    citations: int = 0
    citations_on_gold: int = 0
    gold: int = 0
    gold_located: int = 0
    gold_cited: int = 0
    gold_retrieved: int = 0

    @property
    def graded(self) -> bool:
        """Whether citations can be scored: an answerable question with gold sentences."""
        return self.answerable and self.gold > 0

    @property
    def citation_precision(self) -> float:
        return self.citations_on_gold / self.citations if self.citations else 0.0

    @property
    def citation_recall(self) -> float:
        return self.gold_cited / self.gold if self.gold else 0.0

    @property
    def citation_f1(self) -> float:
        p, r = self.citation_precision, self.citation_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_json(self) -> dict:
        out = asdict(self)
        if self.graded:
            out |= {k: round(getattr(self, k), 4) for k in ("citation_precision", "citation_recall", "citation_f1")}
        return out


def score(
    answer: str,
    abstained: bool,
    golds: list[str],
    answerable: bool,
    matches: Matches,
    latency_ms: float,
    confidence: float | None,
    answer_without_threshold: str = "",
) -> Scores:
    """Score one answer. An answerable question that abstains scores as a miss on everything
    but latency. `answer_without_threshold` is what the answerer says with no abstention
    threshold (empty when it has nothing to say); it only feeds the threshold curve."""
    answered = answerable and not abstained
    return Scores(
        answerable=answerable,
        abstained=abstained,
        latency_ms=latency_ms,
        confidence=confidence,
        found=answered and contains_answer(answer, golds),
        found_without_threshold=answerable and contains_answer(answer_without_threshold, golds),
        f1=token_f1(answer, golds) if answered else 0.0,
        citations=len(matches.citations_on_gold),
        citations_on_gold=sum(matches.citations_on_gold),
        gold=len(matches.gold_located),
        gold_located=sum(matches.gold_located),
        gold_cited=sum(matches.gold_cited),
        gold_retrieved=sum(matches.gold_retrieved),
    )


# --- a whole gold set -----------------------------------------------------------------------
# Headline metrics and the direction that counts as better; the regression gate checks these.
HIGHER_IS_BETTER = {
    "answer_str_em": True,
    "answer_f1": True,
    "citation_precision": True,
    "citation_recall": True,
    "retrieval_recall_at_10": True,
    "unanswerable_abstained": True,
    "false_abstention": False,
    "latency_p50_ms": False,
    "latency_p95_ms": False,
}
LATENCY = ("latency_p50_ms", "latency_p95_ms")


def aggregate(scores: list[Scores]) -> dict:
    """The headline figures (None where the gold set cannot tell, e.g. no unanswerable questions).

    Citation precision, recall and F1 are averaged per question, as HotpotQA's supporting-fact
    metrics are, so that its published figures compare; an abstention scores 0 on all three.
    The micro variants (pooled over all citations / gold sentences) are kept beside them.
    overall_correct counts both halves of a set like SQuAD 2.0: an answerable question is right
    when its answer holds a gold answer, an unanswerable one when it abstained.
    """
    answerable = [s for s in scores if s.answerable]
    unanswerable = [s for s in scores if not s.answerable]
    graded = [s for s in answerable if s.graded]
    latencies = sorted(s.latency_ms for s in scores)
    citations = sum(s.citations for s in graded)
    gold = sum(s.gold for s in graded)
    return {
        "answer_str_em": _mean([s.found for s in answerable]),
        "answer_f1": _mean([s.f1 for s in answerable]),
        "citation_precision": _mean([s.citation_precision for s in graded]),
        "citation_recall": _mean([s.citation_recall for s in graded]),
        "citation_f1": _mean([s.citation_f1 for s in graded]),
        "citation_precision_micro": _ratio(sum(s.citations_on_gold for s in graded), citations),
        "citation_recall_micro": _ratio(sum(s.gold_cited for s in graded), gold),
        "retrieval_recall_at_10": _ratio(sum(s.gold_retrieved for s in graded), gold),
        "unanswerable_abstained": _mean([s.abstained for s in unanswerable]),
        "false_abstention": _mean([s.abstained for s in answerable]),
        "overall_correct": _mean([s.found if s.answerable else s.abstained for s in scores]),
        "latency_p50_ms": _round(percentile(latencies, 50), 1),
        "latency_p95_ms": _round(percentile(latencies, 95), 1),
        "counts": {
            "questions": len(scores),
            "answerable": len(answerable),
            "unanswerable": len(unanswerable),
            "answered": sum(not s.abstained for s in scores),
            "abstained": sum(s.abstained for s in scores),
            "with_gold_sentences": len(graded),
            "citations": citations,
            "gold_sentences": gold,
            "gold_sentences_not_located": gold - sum(s.gold_located for s in graded),
        },
    }


def abstention_curve(scores: list[Scores], thresholds: list[float]) -> list[dict]:
    """What abstaining below each threshold on `confidence` would give.

    A question is answered at threshold t when its confidence is at least t; what it answers is
    the answer given with no threshold. precision: answered questions whose answer holds a gold
    string, over all answered (an answered unanswerable question is wrong); coverage: answered
    share of the answerable questions; unanswerable_abstained: as in `aggregate`.
    """
    answerable = sum(s.answerable for s in scores)
    unanswerable = len(scores) - answerable
    curve = []
    for t in thresholds:
        kept = [s for s in scores if s.confidence is not None and s.confidence >= t]
        curve.append({
            "threshold": round(t, 4),
            "precision": _mean([s.found_without_threshold for s in kept]),
            "coverage": _ratio(sum(s.answerable for s in kept), answerable),
            "unanswerable_abstained": _ratio(unanswerable - sum(not s.answerable for s in kept), unanswerable),
        })
    return curve


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default) of already sorted values."""
    if not sorted_values:
        return None
    at = (len(sorted_values) - 1) * q / 100
    low = int(at)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (at - low)


# --- the regression gate --------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    metric: str
    before: float | None
    after: float | None
    worse_by: float | None  # score points for ratios; a relative increase for latencies
    allowed: float
    failed: bool


def compare(baseline: dict, current: dict, max_drop: float, max_slowdown: float) -> list[Change]:
    """Each headline metric against the baseline. A ratio fails when it got worse by more than
    `max_drop` points; a latency when it grew by more than `max_slowdown` (0.5: 50 % slower),
    since milliseconds differ between machines far more than answers do."""
    changes = []
    for metric, higher_is_better in HIGHER_IS_BETTER.items():
        before, after = baseline.get(metric), current.get(metric)
        allowed = max_slowdown if metric in LATENCY else max_drop
        worse_by = None
        if before is not None and after is not None:
            if metric in LATENCY:
                worse_by = (after - before) / before if before > 0 else 0.0
            else:
                worse_by = before - after if higher_is_better else after - before
        failed = worse_by is not None and worse_by > allowed + 1e-9
        changes.append(Change(metric, before, after, worse_by, allowed, failed))
    return changes


def _mean(values: list) -> float | None:
    return _round(sum(values) / len(values), 4) if values else None


def _ratio(part: int, whole: int) -> float | None:
    return _round(part / whole, 4) if whole else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
