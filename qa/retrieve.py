"""Question (+ history) -> ranked sentence hits: dense and BM25, fused by reciprocal rank.

Reciprocal rank fusion needs no score calibration between the two retrievers, which matters
here because cosine and BM25 scores live on unrelated scales that shift with corpus size.
"""

from __future__ import annotations

import re

import numpy as np

from qa.embedding import Encoder
from qa.settings import Settings
from qa.store import Index, bm25_tokens
from qa.types import Hit

# Words that point back at an earlier turn: "How many countries joined it?"
_ANAPHORA = re.compile(
    r"\b(it|its|they|them|their|theirs|he|him|his|she|her|hers|this|that|these|those|there|"
    r"the same|the former|the latter)\b",
    re.IGNORECASE,
)


def resolve(question: str, history: list[str]) -> str:
    """The question as retrieval should see it: follow-ups carry the previous user turn.

    A follow-up is a question that points back (a pronoun) or is too short to stand alone.
    """
    if not history:
        return question
    words = re.findall(r"\w+", question)
    if _ANAPHORA.search(question) or len(words) <= 4:
        return f"{history[-1]} {question}"
    return question


class Retriever:
    def __init__(self, index: Index, encoder: Encoder, settings: Settings) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings

    def search(
        self,
        query: str,
        doc_ids: list[str] | None = None,
        k: int | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        index = self.index
        if not index.sentences:
            return []
        rows = index.rows_of(doc_ids) if doc_ids is not None else None
        if rows is not None and not len(rows):
            return []
        k = k or (self.settings.restricted_top_k if rows is not None else self.settings.top_k)
        if query_vector is None:
            query_vector = self.encoder.encode([query])[0]
        n = self.settings.candidates
        dense_rows, dense_scores = index.dense(query_vector, n, rows)

        lexical = index.lexical(bm25_tokens([query])[0])
        if rows is not None:
            mask = np.zeros(len(lexical), dtype=bool)
            mask[rows] = True
            lexical = np.where(mask, lexical, 0.0)
        positive = np.flatnonzero(lexical > 0)
        top = positive[np.argsort(-lexical[positive])[:n]]

        if self.settings.retrieval == "bm25":
            dense_rows = dense_rows[:0]
        elif self.settings.retrieval == "dense":
            top = top[:0]
        fused: dict[int, float] = {}
        for rank, row in enumerate(dense_rows):
            fused[int(row)] = 1.0 / (self.settings.rrf_k + rank + 1)
        for rank, row in enumerate(top):
            fused[int(row)] = fused.get(int(row), 0.0) + 1.0 / (self.settings.rrf_k + rank + 1)
        best = sorted(fused, key=fused.__getitem__, reverse=True)[:k]

        dense_of = dict(zip(map(int, dense_rows), map(float, dense_scores)))
        missing = [row for row in best if row not in dense_of]
        if missing:  # found by BM25 alone: its cosine is still needed to judge support
            dense_of.update(zip(missing, map(float, index.vectors_at(missing) @ query_vector)))
        return [
            Hit(index.sentences[row], fused[row], dense=dense_of[row], lexical=float(lexical[row]))
            for row in best
        ]
