"""How an index folder's dense vectors are searched: exactly while small, by an HNSW graph beyond.

The graph's parameters are shared with the Milvus store (qa/milvus.py), so both search alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
# The smallest of 128/256/512/1024 whose recall@10 against exact search reaches 0.98 on 210
# benchmark dev questions over a million sentences (eval/hnsw_ef.py on `qa bench --scale
# 1000000`'s graph: 0.9343 / 0.9614 / 0.9805 / 0.9995), for about a millisecond more a search.
HNSW_EF_SEARCH = 512
HNSW_TYPE = f"hnsw(M={HNSW_M},efSearch={HNSW_EF_SEARCH})"
FAISS_HNSW_TYPE = f"{HNSW_TYPE},float16"  # FAISS keeps the graph's vectors as float16 codes


class Searcher(Protocol):
    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top-k (rows, cosines) for a unit query vector, best first."""


def prepare(vectors: np.ndarray, folder: Path, ann_from: int) -> dict:
    """Exact search (rebuilt from vectors.npy) while small; an HNSW graph saved beside it beyond.
    Returns the manifest's fields."""
    if len(vectors) < ann_from:
        return {"store": "faiss", "index_type": "flat"}
    import faiss

    faiss.write_index(hnsw_index(vectors), str(folder / "faiss.index"))
    return {"store": "faiss", "index_type": FAISS_HNSW_TYPE}


def searcher(vectors: np.ndarray, folder: Path | None) -> Searcher:
    path = folder / "faiss.index" if folder else None
    if path is None or not path.exists():
        return FaissSearcher(vectors)
    import faiss

    graph = faiss.read_index(str(path))
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    if graph.ntotal != len(vectors):
        raise ValueError("faiss index and sentence store are out of step")
    return FaissSearcher(vectors, graph)


class FaissSearcher:
    def __init__(self, vectors: np.ndarray, graph=None) -> None:
        self._vectors = vectors
        self._graph = graph  # built on first search when exact: opening an index stays cheap

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._graph is None:
            self._graph = _flat(self._vectors)
        scores, ids = self._graph.search(query[None, :].astype(np.float32), k)
        keep = ids[0] >= 0
        return ids[0][keep], scores[0][keep]


def _flat(vectors: np.ndarray):
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    if len(vectors):
        index.add(np.asarray(vectors, dtype=np.float32))
    return index


def hnsw_index(vectors: np.ndarray):
    import faiss

    # float16 codes: the stored vectors are float16 already, so the graph finds exactly what a
    # float32 copy would (same neighbours on 30,000 bench sentences) from a smaller file, which a
    # cold start reads from disk: 107 MB instead of 186 MB at 102,667 sentences.
    index = faiss.IndexHNSWSQ(vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(np.asarray(vectors, dtype=np.float32))
    index.hnsw.efSearch = HNSW_EF_SEARCH
    return index
