"""The records that cross module seams: load -> Sentence -> Hit -> Citation -> Answer."""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property

_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class Document:
    """A document's text exactly as stored, plus where each PDF page starts in it.

    `regions` name where a part of the text came from: (offset it starts at, locator) in order of
    offset, e.g. {"slide": 3} or {"sheet": "Sales", "row": 4}. A document without them is located
    by page (PDFs) or by paragraph.
    """

    doc_id: str
    title: str
    text: str
    source: str  # the file path, JSONL file or URL it came from
    page_starts: tuple[int, ...] = ()  # character offset of each page; empty when not paged
    regions: tuple[tuple[int, dict], ...] = field(default=(), hash=False)
    ocr_pages: tuple[int, ...] = ()  # 1-based pages whose text was read by OCR
    fetched: str = ""  # when a web page was fetched (ISO 8601); not part of its content

    def locator_at(self, offset: int) -> dict:
        """Where `offset` sits: {"page": n}, the region's locator, or {"paragraph": n}."""
        if self.page_starts:
            return {"page": self.page_at(offset)}
        if self.regions:
            at = bisect_right(self._region_starts, offset) - 1
            return self.regions[max(at, 0)][1]
        return {"paragraph": max(bisect_right(self._paragraph_starts, offset), 1)}

    @cached_property
    def _region_starts(self) -> list[int]:
        return [start for start, _ in self.regions]

    @cached_property
    def _paragraph_starts(self) -> list[int]:
        """Paragraphs are separated by blank lines where the text has any; otherwise each line is one."""
        if _PARAGRAPH_BREAK.search(self.text):
            return [0] + [m.end() for m in _PARAGRAPH_BREAK.finditer(self.text)]
        return [0] + [m.end() for m in re.finditer(r"\n", self.text)]

    def page_at(self, offset: int) -> int | None:
        """1-based page holding `offset`, or None for formats without pages."""
        if not self.page_starts:
            return None
        page = 0
        for number, start in enumerate(self.page_starts):
            if start <= offset:
                page = number
        return page + 1


@dataclass(frozen=True)
class Sentence:
    """One sentence: `document.text[start:end] == text` always holds."""

    id: str  # content-derived: the same document text gives the same id
    doc_id: str
    index: int  # 0-based position within its document
    start: int
    end: int
    text: str
    page: int | None = None
    locator: dict | None = field(default=None, compare=False, hash=False)  # Document.locator_at(start)


def locator_text(locator: dict | None) -> str:
    """A locator as people read it: "slide 3", "sheet Sales, row 4", "message “Hi” from …"."""
    if not locator:
        return ""
    if "message" in locator:
        where = f"message “{locator['message']}” from {locator.get('from', '?')}, {locator.get('date', '')}".rstrip(", ")
        return where + (f", attachment {locator['attachment']}" if locator.get("attachment") else "")
    return ", ".join(f"{key} {value}" for key, value in locator.items())


@dataclass(frozen=True)
class Hit:
    """A retrieved sentence and how strongly retrieval matched it."""

    sentence: Sentence
    score: float  # fused retrieval score, higher is better
    dense: float = 0.0  # cosine similarity of the question to the sentence's window
    lexical: float = 0.0  # BM25 score


@dataclass(frozen=True)
class Citation:
    """A sentence the answer relies on.

    `claim` numbers the answer sentence it supports; near-identical sentences from several
    documents share one claim, so a user sees "reported by 2 sources".
    """

    id: str
    doc_id: str
    sentence_index: int
    start: int
    end: int
    text: str
    page: int | None
    score: float  # how well this sentence supports the answer, 0..1
    claim: int = 1
    locator: dict | None = field(default=None, compare=False, hash=False)  # page, slide, sheet+row, message, url…

    @classmethod
    def of(cls, sentence: Sentence, score: float, claim: int) -> Citation:
        return cls(
            id=sentence.id,
            doc_id=sentence.doc_id,
            sentence_index=sentence.index,
            start=sentence.start,
            end=sentence.end,
            text=sentence.text,
            page=sentence.page,
            score=round(float(score), 4),
            claim=claim,
            locator=sentence.locator,
        )


@dataclass(frozen=True)
class Claim:
    """One sentence of an LLM answer and the claim check's verdict on it (qa/answer/grounding.py):
    whether the sentences it cites (`cites`: their ids) state it, and the calibrated chance that
    they do (None when it cited nothing valid). Unsupported claims are left out of the answer
    text; front ends may show them as removed."""

    text: str
    cites: tuple[str, ...]
    supported: bool
    score: float | None


@dataclass(frozen=True)
class ShortAnswer:
    """The answer's words inside a cited sentence (qa/short_answer.py): `citation` is the 1-based
    number of that citation, `start`/`end` offsets into its text."""

    text: str
    citation: int
    start: int
    end: int


@dataclass
class Answer:
    """What `ask()` returns. Markers [1], [2] … in `answer` are 1-based positions in `citations`."""

    question: str
    answer: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    answerer: str = "extractive"
    retrieval_query: str = ""  # the question as resolved against the history
    hits: list[Hit] = field(default_factory=list)  # what retrieval returned, for eval and debug
    prompt: str | None = None  # the final LLM prompt, when an LLM answered
    notes: list[str] = field(default_factory=list)  # e.g. LLM claims dropped as unsupported
    # The best sentence's calibrated support, which the abstention decision compared with
    # abstain_below; None when no reader was used.
    reader_score: float | None = None
    short_answer: ShortAnswer | None = None
    claims: list[Claim] = field(default_factory=list)  # an LLM answer's sentences, each checked

    def by_claim(self, limit: int | None = None) -> list[list[tuple[int, Citation]]]:
        """The (first `limit`) citations, numbered as their markers, grouped by the claim they
        support in the order claims are made: what every front end shows as one source block,
        "reported by N sources" when N documents back it."""
        groups: dict[int, list[tuple[int, Citation]]] = {}
        for number, citation in list(enumerate(self.citations, start=1))[:limit]:
            groups.setdefault(citation.claim, []).append((number, citation))
        return list(groups.values())

    def to_json(self, debug: bool = False) -> dict:
        sources = {cited[0][1].claim: len({c.doc_id for _, c in cited}) for cited in self.by_claim()}
        out = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "reader_score": None if self.reader_score is None else round(self.reader_score, 4),
            "short_answer": self.short_answer.text if self.short_answer else None,
            "short_answer_at": None if self.short_answer is None else {
                "citation": self.short_answer.citation, "start": self.short_answer.start, "end": self.short_answer.end},
            "answerer": self.answerer,
            "citations": [
                {
                    "id": c.id,
                    "doc_id": c.doc_id,
                    "sentence_index": c.sentence_index,
                    "start": c.start,
                    "end": c.end,
                    "text": c.text,
                    "page": c.page,
                    "score": c.score,
                    "claim": c.claim,
                    "reported_by": sources[c.claim],
                    "locator": c.locator,
                }
                for c in self.citations
            ],
            "claims": [{"text": c.text, "cites": list(c.cites), "supported": c.supported,
                        "score": None if c.score is None else round(c.score, 4)} for c in self.claims],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
        }
        if debug:
            out["retrieval_query"] = self.retrieval_query
            out["notes"] = self.notes
            out["prompt"] = self.prompt
            out["hits"] = [
                {
                    "id": h.sentence.id,
                    "doc_id": h.sentence.doc_id,
                    "sentence_index": h.sentence.index,
                    "text": h.sentence.text,
                    "score": round(h.score, 4),
                    "dense": round(h.dense, 4),
                    "lexical": round(h.lexical, 4),
                }
                for h in self.hits
            ]
        return out


@dataclass
class FileOutcome:
    """Every file an ingest sees ends as exactly one of indexed, unchanged, skipped or failed."""

    path: str
    status: str  # "indexed" | "unchanged" | "skipped" | "failed"
    reason: str = ""
    sentences: int = 0
    ocr_pages: int = 0  # pages whose text was read by OCR
    no_text: bool = False  # read, but nothing in it is text (a scan without OCR, an empty sheet)


@dataclass
class IngestReport:
    files: list[FileOutcome] = field(default_factory=list)
    documents: int = 0
    sentences: int = 0
    embedded: int = 0
    removed: int = 0
    seconds: float = 0.0

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)
