"""Scored evidence -> answer text with citations. The default answerer needs no LLM.

The extractive answerer states what the best-supported sentences say, one claim per sentence,
with near-identical sentences from other documents cited as corroboration on the same claim. It
abstains when even the best sentence's support is below the calibrated threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from qa.settings import Settings
from qa.store import Index
from qa.support import Evidence
from qa.types import Citation, Sentence

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


class Answerer(Protocol):
    name: str

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft: ...


def abstention(question: str) -> Draft:
    shown = question.strip().rstrip("?")
    return Draft(f"The documents don't say. Nothing in them answers “{shown}?”", abstained=True)


def claims_from(evidence: list[Evidence], settings: Settings) -> list[list[Evidence]]:
    """Group the answer-worthy sentences into claims; a claim's first sentence states it.

    A claim is stated by a sentence whose support is close to the best. Sentences from other
    documents that say nearly the same (cosine >= same_claim_cosine) join it as corroboration
    even when their own wording supports the question less well.
    """
    if not evidence or evidence[0].support < settings.abstain_below:
        return []
    floor = max(settings.abstain_below, evidence[0].support - settings.answer_margin)
    claims: list[list[Evidence]] = []
    for item in evidence:
        claim = _corroborated(claims, item, settings)
        if claim is not None:
            claim.append(item)
        elif item.support >= floor and len(claims) < settings.max_claims:
            claims.append([item])
    return claims


def _corroborated(claims: list[list[Evidence]], item: Evidence, settings: Settings) -> list[Evidence] | None:
    for claim in claims:
        head = claim[0]
        if item.fit < head.fit:
            continue  # it lacks the kind of answer the head has (a date, a number)
        if float(item.vector @ head.vector) >= settings.same_claim_cosine and all(
            e.hit.sentence.doc_id != item.hit.sentence.doc_id for e in claim
        ):
            return claim
    return None


def plain(sentence: str) -> str:
    """A sentence as a standalone statement: without a linking opener, capitalised."""
    text = _CONNECTIVE.sub("", sentence.strip(), count=1)
    return text[:1].upper() + text[1:] if text else sentence.strip()


class Extractive:
    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft:
        claims = claims_from(evidence, self.settings)
        if not claims:
            return abstention(question)
        citations: list[Citation] = []
        parts = []
        cited = {item.hit.sentence.id for claim in claims for item in claim}
        for number, claim in enumerate(claims, start=1):
            head = claim[0]
            statement = plain(head.hit.sentence.text)
            markers = ""
            for item in claim:
                citations.append(Citation.of(item.hit.sentence, item.support, claim=number))
                markers += f"[{len(citations)}]"
            parts.append(with_markers(statement, markers))
            # A head that restates the whole question often leaves the answer to the next
            # sentence: "…could supply strategic capabilities. These would include ISR…".
            following = continuation(index, head.hit.sentence) if head.overlap >= 0.8 else None
            if following is not None and following.id not in cited:
                cited.add(following.id)
                citations.append(Citation.of(following, head.support, claim=number))
                parts.append(with_markers(following.text, f"[{len(citations)}]"))
        return Draft(" ".join(parts), abstained=False, citations=citations)


def continuation(index: Index, sentence: Sentence) -> Sentence | None:
    """The next sentence of the same document when it continues this one ("These would …")."""
    siblings = index.document_sentences(sentence.doc_id)
    if sentence.index + 1 < len(siblings) and _CONTINUES.match(siblings[sentence.index + 1].text):
        return siblings[sentence.index + 1]
    return None


def with_markers(statement: str, markers: str) -> str:
    """Markers go before the final full stop, as in "… ground troops [1][2]."."""
    if statement[-1:] in ".!?" and not statement.endswith(("”", '"')):
        return f"{statement[:-1]} {markers}{statement[-1]}"
    return f"{statement} {markers}"
