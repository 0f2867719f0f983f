"""How well each retrieved sentence supports the question: the reader's verdict, calibrated.

The reader (qa/reader.py) reads the question and the sentence, after its document's title,
together. Its logit and what retrieval already knows of the sentence (FEATURES) are combined by
weights that eval/calibrate_reader.py fits on held-out dev questions, so that the best sentence's
support is the chance that the documents answer the question at all; every threshold of the
answerer (abstain_below, cite_floor, cite_relative) acts on that one scale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from qa.reader import Reader, passage
from qa.store import Index
from qa.types import Hit


@dataclass(frozen=True)
class Evidence:
    """A retrieved sentence and the calibrated chance that it states (part of) the answer."""

    hit: Hit
    support: float


# Per retrieved sentence: the reader's logit, the cosine of the question to the sentence's stored
# vector, its BM25 score over the best one's, and its place in the fused ranking.
FEATURES = ("reader", "dense", "lexical", "rank")


def features_of(logits: np.ndarray, hits: list[Hit]) -> np.ndarray:
    lexical = np.array([h.lexical for h in hits], dtype=float)
    top = lexical.max() if len(lexical) and lexical.max() > 0 else 1.0
    return np.column_stack([logits, [h.dense for h in hits], lexical / top, 1.0 / (1.0 + np.arange(len(hits)))])


def score(question: str, hits: list[Hit], index: Index, reader: Reader) -> list[Evidence]:
    """Support of each hit's sentence for `question` (resolved against the history), best first."""
    if not hits:
        return []
    titles = [index.documents[h.sentence.doc_id].document.title for h in hits]
    logits = reader.logits(question, [passage(t, h.sentence.text) for t, h in zip(titles, hits)])
    chances = reader.support(features_of(logits, hits), FEATURES)
    out = [Evidence(hit, float(chance)) for hit, chance in zip(hits, chances)]
    # Ties (identical sentences in two documents) keep retrieval's order.
    return sorted(out, key=lambda e: e.support, reverse=True)


class SentenceVectors:
    """Each sentence's own embedding (without its title), kept once computed.

    Stored vectors carry the document's title, which is right for retrieval but wrong for
    telling whether two sentences say the same (a long headline dominates a short sentence).
    Only the few sentences an answer cites need them, and the same ones come back ask after
    ask, so they are encoded once. Keys are (model, sentence id): ids derive from content, so an
    entry stays right across index generations. Bounded (LRU).
    """

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._cache: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, sentences, encoder) -> np.ndarray:
        keys = [(encoder.name, s.id) for s in sentences]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for key in found:
                self._cache.move_to_end(key)
        missing = [s for s, k in zip(sentences, keys) if k not in found]
        if missing:
            fresh = encoder.encode([s.text for s in missing])
            with self._lock:
                for sentence, vector in zip(missing, fresh):
                    key = (encoder.name, sentence.id)
                    found[key] = self._cache[key] = vector
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        if not keys:
            return np.zeros((0, encoder.dimension), dtype=np.float32)
        return np.stack([found[k] for k in keys])


own_vectors = SentenceVectors()
