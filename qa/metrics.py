"""Scoring answers and citations against gold, the same way for every gold set.

Citations are matched to gold supporting sentences by character-span overlap inside the same
document, so the figures do not depend on whose sentence splitter produced the gold.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation) | set("“”‘’–—")


def normalize(text: str) -> str:
    """SQuAD normalization: lower case, no punctuation, no articles, single spaces."""
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


def gold_spans(supporting: list[dict], doc_texts: dict[str, str], doc_spans: dict[str, list] | None = None) -> list[Span]:
    """Locate each gold sentence in its document: by its text, else by the gold's own spans."""
    spans = []
    for item in supporting:
        doc_id = str(item["doc_id"])
        text = doc_texts.get(doc_id)
        if text is None:
            continue
        sentence = (item.get("sentence") or "").strip()
        at = text.find(sentence) if sentence else -1
        if at >= 0:
            spans.append(Span(doc_id, at, at + len(sentence)))
        elif doc_spans and doc_id in doc_spans and item.get("sent_idx") is not None:
            start, end = doc_spans[doc_id][item["sent_idx"]]
            spans.append(Span(doc_id, start, end))
    return spans


def citation_scores(cited: list[Span], gold: list[Span]) -> tuple[int, int]:
    """(citations overlapping some gold sentence, gold sentences overlapped by some citation)."""
    precise = sum(1 for c in cited if any(c.overlaps(g) for g in gold))
    recalled = sum(1 for g in gold if any(g.overlaps(c) for c in cited))
    return precise, recalled
