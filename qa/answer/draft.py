"""What every answerer returns: a Draft (text, citations, or an abstention), and how a cited
sentence is stated in one ("… ground troops [1][2].")."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from qa.store import Index
from qa.support import Evidence
from qa.types import Citation, Claim, Sentence

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
    claims: list[Claim] = field(default_factory=list)  # an LLM's sentences with the claim check's verdicts


class Answerer(Protocol):
    name: str

    def answer(self, question: str, evidence: list[Evidence], index: Index) -> Draft: ...


def abstention(question: str) -> Draft:
    shown = question.strip().rstrip("?")
    return Draft(f"The documents don't say. Nothing in them answers “{shown}?”", abstained=True)


def plain(sentence: str) -> str:
    """A sentence as a standalone statement: without a linking opener, capitalised."""
    text = _CONNECTIVE.sub("", sentence.strip(), count=1)
    return text[:1].upper() + text[1:] if text else sentence.strip()


def with_markers(statement: str, markers: str) -> str:
    """Markers go before the final full stop, as in "… ground troops [1][2]."."""
    if statement[-1:] in ".!?" and not statement.endswith(("”", '"')):
        return f"{statement[:-1]} {markers}{statement[-1]}"
    return f"{statement} {markers}"


def stated(cited: list[tuple[Sentence, float]]) -> Draft:
    """An answer that states each cited sentence as its own claim."""
    citations = [Citation.of(sentence, score, claim=number) for number, (sentence, score) in enumerate(cited, start=1)]
    text = " ".join(with_markers(plain(sentence.text), f"[{n}]") for n, (sentence, _) in enumerate(cited, start=1))
    return Draft(text, abstained=False, citations=citations)
