"""The records that cross module seams: load -> Sentence -> Hit -> Citation -> Answer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Document:
    """A document's text exactly as stored, plus where each PDF page starts in it."""

    doc_id: str
    title: str
    text: str
    source: str  # the file path or JSONL file it came from
    page_starts: tuple[int, ...] = ()  # character offset of each page; empty when not paged

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
        )


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

    def to_json(self, debug: bool = False) -> dict:
        out = {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
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
                }
                for c in self.citations
            ],
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
