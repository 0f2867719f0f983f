"""Scored evidence -> answer text with citations. The default answerer needs no LLM.

The extractive answerer states what the sentences the reader rates best say, one claim per
sentence, with near-identical sentences from other documents cited as corroboration on the same
claim ("reported by 2 sources"). It abstains when even the best sentence's calibrated support is
below `abstain_below`. Other sentences join the answer as claims of their own when their support
reaches `cite_floor` and `cite_relative` times the best one's: a question that needs two facts
(a bridge and its answer, a comparison) gets both, and a one-fact question mostly one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from qa.reader import Reader, passage
from qa.settings import Settings
from qa.store import Index
from qa.support import Evidence, own_vectors
from qa.types import Citation, ClaimCheck, Sentence

# A sentence opening like this continues the one before it ("…could supply strategic
# capabilities. These would include ISR systems…"): the answer takes both.
_CONTINUES = re.compile(r"^[“\"]?(these|this|those|they|it|such)\b", re.IGNORECASE)

# Openers that tie a sentence to its neighbours; out of context they read as non sequiturs.
_CONNECTIVE = re.compile(
    r"^(however|meanwhile|still|moreover|furthermore|in addition|at the same time|also|but|and|so)\s*,?\s+",
    re.IGNORECASE,
)


@dataclass
class Draft:
    """An answerer's output before the assistant adds timings and debug fields."""

    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    prompt: str | None = None
    notes: list[str] = field(default_factory=list)
    checks: list[ClaimCheck] = field(default_factory=list)


class Answerer(Protocol):
    name: str

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft: ...


def abstention(question: str) -> Draft:
    shown = question.strip().rstrip("?")
    return Draft(f"The documents don't say. Nothing in them answers “{shown}?”", abstained=True)


def claims_from(evidence: list[Evidence], settings: Settings, encoder) -> list[list[Evidence]]:
    """Group the answer-worthy sentences into claims; a claim's first sentence states it.

    The best sentence states the first claim; others state claims of their own when their support
    reaches the floor; at most `max_claims` in all. A sentence from another document that says nearly the same as a claim's (own-vector
    cosine >= same_claim_cosine) joins it as corroboration even when the reader rates its
    wording lower, as long as it reaches `corroborate_floor`.
    """
    if not evidence or evidence[0].support < settings.abstain_below:
        return []
    floor = max(settings.cite_floor, settings.cite_relative * evidence[0].support)
    considered = evidence[:1] + [e for e in evidence[1:] if e.support >= min(floor, settings.corroborate_floor)]
    vectors = own_vectors.of([e.hit.sentence for e in considered], encoder)
    claims: list[list[int]] = []
    for i, item in enumerate(considered):
        same = next((claim for claim in claims if float(vectors[i] @ vectors[claim[0]]) >= settings.same_claim_cosine
                     and all(considered[j].hit.sentence.doc_id != item.hit.sentence.doc_id for j in claim)), None)
        if same is not None:
            same.append(i)
        elif (not claims or item.support >= floor) and len(claims) < settings.max_claims:
            claims.append([i])  # the best sentence states the answer whatever the floor
    return [[considered[i] for i in claim] for claim in claims]


def plain(sentence: str) -> str:
    """A sentence as a standalone statement: without a linking opener, capitalised."""
    text = _CONNECTIVE.sub("", sentence.strip(), count=1)
    return text[:1].upper() + text[1:] if text else sentence.strip()


class Extractive:
    name = "extractive"

    def __init__(self, settings: Settings, encoder, reader: Reader) -> None:
        self.settings = settings
        self.encoder = encoder
        self.reader = reader

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft:
        claims = claims_from(evidence, self.settings, self.encoder)
        if not claims:
            return abstention(question)
        citations: list[Citation] = []
        parts = []
        checks = []
        cited = {item.hit.sentence.id for claim in claims for item in claim}
        for number, claim in enumerate(claims, start=1):
            head = claim[0]
            first = len(citations) + 1
            for item in claim:
                citations.append(Citation.of(item.hit.sentence, item.support, claim=number))
            statement = plain(head.hit.sentence.text)
            parts.append(with_markers(statement, "".join(f"[{n}]" for n in range(first, len(citations) + 1))))
            checks.append(ClaimCheck(statement, True, head.support, tuple(range(first, len(citations) + 1))))
            following = self.continuation(question, index, head.hit.sentence)
            if following is not None and following.id not in cited:
                cited.add(following.id)
                citations.append(Citation.of(following, head.support, claim=number))
                parts.append(with_markers(following.text, f"[{len(citations)}]"))
                checks.append(ClaimCheck(following.text, True, head.support, (len(citations),)))
        return Draft(" ".join(parts), abstained=False, citations=citations, checks=checks)


    def continuation(self, question: str, index: Index, sentence: Sentence) -> Sentence | None:
        """The next sentence of the same document when it carries on this one ("…could supply
        strategic capabilities. These would include ISR…") and the reader rates the two read
        together higher than this one alone: the answer is in the second."""
        siblings = index.document_sentences(sentence.doc_id)
        if sentence.index + 1 >= len(siblings) or not _CONTINUES.match(siblings[sentence.index + 1].text):
            return None
        following = siblings[sentence.index + 1]
        title = index.documents[sentence.doc_id].document.title
        alone, together = self.reader.logits(
            question, [passage(title, sentence.text), passage(title, f"{sentence.text} {following.text}")])
        return following if together > alone else None


def with_markers(statement: str, markers: str) -> str:
    """Markers go before the final full stop, as in "… ground troops [1][2]."."""
    if statement[-1:] in ".!?" and not statement.endswith(("”", '"')):
        return f"{statement[:-1]} {markers}{statement[-1]}"
    return f"{statement} {markers}"
