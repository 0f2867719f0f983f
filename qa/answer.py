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
from qa.support import Evidence
from qa.types import Citation

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

    def answer(self, question: str, evidence: list[Evidence]) -> Draft: ...


def abstention(question: str) -> Draft:
    shown = question.strip().rstrip("?")
    return Draft(f"The documents don't say. Nothing in them answers “{shown}?”", abstained=True)


def claims_from(evidence: list[Evidence], settings: Settings) -> list[list[Evidence]]:
    """Group the answer-worthy sentences into claims; a claim's first sentence states it."""
    if not evidence or evidence[0].support < settings.abstain_below:
        return []
    floor = max(settings.abstain_below, evidence[0].support - settings.answer_margin)
    claims: list[list[Evidence]] = []
    for item in evidence:
        if item.support < floor:
            break
        for claim in claims:
            head = claim[0]
            same = float(item.vector @ head.vector) >= settings.same_claim_cosine
            if same and all(e.hit.sentence.doc_id != item.hit.sentence.doc_id for e in claim):
                claim.append(item)
                break
        else:
            if len(claims) < settings.max_claims:
                claims.append([item])
    return claims


def plain(sentence: str) -> str:
    """A sentence as a standalone statement: without a linking opener, capitalised."""
    text = _CONNECTIVE.sub("", sentence.strip(), count=1)
    return text[:1].upper() + text[1:] if text else sentence.strip()


class Extractive:
    name = "extractive"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def answer(self, question: str, evidence: list[Evidence]) -> Draft:
        claims = claims_from(evidence, self.settings)
        if not claims:
            return abstention(question)
        citations: list[Citation] = []
        parts = []
        for number, claim in enumerate(claims, start=1):
            markers = ""
            for item in claim:
                citations.append(Citation.of(item.hit.sentence, item.support, claim=number))
                markers += f"[{len(citations)}]"
            statement = plain(claim[0].hit.sentence.text)
            if statement[-1:] in ".!?" and not statement.endswith(("”", '"')):
                parts.append(f"{statement[:-1]} {markers}{statement[-1]}")
            else:
                parts.append(f"{statement} {markers}")
        return Draft(" ".join(parts), abstained=False, citations=citations)
