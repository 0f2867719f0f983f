"""Where an index's dense vectors are searched: FAISS beside the index files, or Milvus.

Either way each generation keeps its own vectors.npy: support scoring and searches restricted to
a few documents read it locally, and the manifest, sentence store and BM25 stay local files. Only
the whole-index nearest-neighbour search moves to the store.

Milvus holds one collection per index, keyed by the content-derived sentence id, so an update
only sends the sentences that are new and deletes the ones that are gone only after the new
generation is live. A reader of an older generation skips vectors born after it and ignores ids
it does not know, so it stays correct while an ingest runs beside it.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

import numpy as np

from qa.errors import UserError
from qa.types import Sentence

HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
HNSW_TYPE = f"hnsw(M={HNSW_M},efSearch={HNSW_EF_SEARCH})"
FAISS_HNSW_TYPE = f"{HNSW_TYPE},float16"  # FAISS keeps the graph's vectors as float16 codes
MILVUS_PORT = 19530
MILVUS_MAX_LIMIT = 16_384  # Milvus refuses a larger top-k
UPSERT_BATCH = 5_000  # about 8 MB of float32 vectors per request, far below gRPC's 64 MB


class VectorStoreError(UserError):
    """The vector store cannot be reached or used; the message says why."""


class Searcher(Protocol):
    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The top-k (rows, cosines) for a unit query vector, best first."""


class IndexView(Protocol):
    """What a vector store reads of an index: qa/store.py's Index, which builds its searcher here."""

    manifest: dict
    sentences: list[Sentence]
    vectors: np.ndarray
    path: Path | None

    def vectors_at(self, rows) -> np.ndarray: ...


class VectorStore(Protocol):
    name: str  # what the manifest records as "store"; never holds credentials

    def prepare(self, index: IndexView, folder: Path, generation: str, previous: IndexView | None, ann_from: int) -> dict:
        """Make `index` searchable before it goes live; return its manifest fields.

        `folder` is the generation being written (not yet named in CURRENT) and `previous` the
        live index it updates, if any.
        """

    def retire(self, index: IndexView, keep: list[dict]) -> None:
        """Once `index` is live, drop what no kept generation (their manifests) still uses."""

    def searcher(self, index: IndexView, folder: Path) -> Searcher:
        """A searcher over the generation in `folder`, whose manifest is `index.manifest`."""


def from_setting(value: str) -> VectorStore:
    """The store a setting names: "faiss", milvus://[USER:PASSWORD@]HOST[:PORT], https://… or PATH.db."""
    value = (value or "faiss").strip()
    if value == "faiss":
        return FaissStore()
    parts = urlsplit(value)
    if value.endswith(".db") and not parts.netloc:
        path = Path(value.removeprefix("file://")).expanduser().resolve()
        return MilvusStore(uri=str(path), name=str(path))
    if parts.scheme in ("milvus", "http", "https") and parts.hostname:
        scheme = "https" if parts.scheme == "https" else "http"
        where = f"{parts.hostname}:{parts.port or MILVUS_PORT}"
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}" if parts.username else ""
        name = f"https://{where}" if scheme == "https" else f"milvus://{where}"
        return MilvusStore(uri=f"{scheme}://{where}", name=name, token=token)
    raise VectorStoreError(
        f"Unknown vector store {value!r}: use faiss, milvus://HOST:PORT (a Milvus server) "
        "or a local file PATH.db (Milvus Lite)."
    )


def same_store(setting: str, recorded: str) -> bool:
    return from_setting(setting).name == recorded


# -- FAISS ------------------------------------------------------------------------------------
class FaissStore:
    """Exact search rebuilt from vectors.npy while small; an HNSW graph saved beside it beyond."""

    name = "faiss"

    def prepare(self, index, folder, generation, previous, ann_from) -> dict:
        if len(index.sentences) < ann_from:
            return {"store": self.name, "index_type": "flat"}
        import faiss

        faiss.write_index(hnsw_index(index.vectors), str(folder / "faiss.index"))
        return {"store": self.name, "index_type": FAISS_HNSW_TYPE}

    def retire(self, index, keep) -> None:
        """Nothing: a generation's FAISS files go with its folder."""

    def searcher(self, index, folder) -> Searcher:
        path = folder / "faiss.index" if folder else None
        if path is None or not path.exists():
            return FaissSearcher(index.vectors)
        import faiss

        graph = faiss.read_index(str(path))
        graph.hnsw.efSearch = HNSW_EF_SEARCH
        if graph.ntotal != len(index.sentences):
            raise ValueError("faiss index and sentence store are out of step")
        return FaissSearcher(index.vectors, graph)


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


# -- Milvus -----------------------------------------------------------------------------------
@dataclass
class MilvusStore:
    """A Milvus server or cluster (http(s) URI), or Milvus Lite (a local .db file)."""

    uri: str
    name: str
    token: str = field(default="", repr=False)

    def prepare(self, index, folder, generation, previous, ann_from) -> dict:
        index_type = "flat" if len(index.sentences) < ann_from else HNSW_TYPE
        client = self._client()
        with self._errors():
            reuse = (
                previous is not None
                and previous.manifest.get("store") == self.name
                and previous.manifest.get("index_type") == index_type
                and client.has_collection(previous.manifest.get("collection", ""))
            )
            if reuse:
                collection = previous.manifest["collection"]
                known = {s.id for s in previous.sentences}
            else:  # first build, rebuild, another store before, or the size crossed ann_from
                collection = f"{_prefix(folder.parent)}{re.sub(r'[^0-9A-Za-z]', '_', generation)}"
                self._create(client, collection, index.vectors.shape[1], index_type)
                known = set()
            new = [row for row, s in enumerate(index.sentences) if s.id not in known]
            for start in range(0, len(new), UPSERT_BATCH):
                rows = new[start : start + UPSERT_BATCH]
                client.upsert(
                    collection,
                    [{"id": index.sentences[r].id, "born": generation, "vector": vector}
                     for r, vector in zip(rows, index.vectors_at(rows))],
                )
            # Unsealed rows are searched by brute force: measured 1.2 s a query over 10,000 of them in
            # Milvus Lite, 8 ms once flushed. Seal them before any reader sees this generation.
            client.flush(collection)
        return {"store": self.name, "collection": collection, "index_type": index_type}

    def retire(self, index, keep) -> None:
        """Delete vectors the live generation lacks (orphans of killed ingests too), then old collections."""
        client = self._client()
        collection = index.manifest["collection"]
        live = {s.id for s in index.sentences}
        # Milvus Lite keeps no server timestamp for iterators; pymilvus warns and uses its own clock.
        logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)
        with self._errors():
            stale: list[str] = []
            pages = client.query_iterator(collection, batch_size=UPSERT_BATCH, output_fields=["id"])
            while page := pages.next():
                stale += [r["id"] for r in page if r["id"] not in live]
            pages.close()
            for start in range(0, len(stale), UPSERT_BATCH):
                client.delete(collection, ids=stale[start : start + UPSERT_BATCH])
            if stale:
                client.flush(collection)
            used = {m.get("collection") for m in keep if m.get("store") == self.name}
            prefix = _prefix(index.path.parent)
            for name in client.list_collections():
                if name.startswith(prefix) and name not in used | {collection}:
                    client.drop_collection(name)

    def searcher(self, index, folder) -> Searcher:
        return MilvusSearcher(self, index)

    # -- plumbing --
    def _client(self):
        key = (self.uri, self.token)
        if key not in _CLIENTS:
            pymilvus = _pymilvus()
            if not self.uri.startswith("http") and importlib.util.find_spec("milvus_lite") is None:
                raise VectorStoreError(f"Milvus Lite files ({self.uri}) need milvus-lite: {INSTALL_HINT}")
            try:
                _CLIENTS[key] = pymilvus.MilvusClient(uri=self.uri, token=self.token)
            except pymilvus.MilvusException as exc:
                lite = "" if self.uri.startswith("http") else (
                    " Milvus Lite serves one process at a time: stop the other process using this file, "
                    "or use a Milvus server (milvus://HOST:PORT).")
                raise VectorStoreError(f"Cannot open Milvus at {self.name}: {exc.message}.{lite}") from None
        return _CLIENTS[key]

    @contextmanager
    def _errors(self):
        pymilvus = _pymilvus()
        try:
            yield
        except pymilvus.MilvusException as exc:
            raise VectorStoreError(f"Milvus at {self.name} failed: {exc.message}") from None

    @staticmethod
    def _create(client, collection: str, dimension: int, index_type: str) -> None:
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        # The generation that sent the vector: readers of older generations skip newer ones.
        schema.add_field("born", DataType.VARCHAR, max_length=64)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
        params = client.prepare_index_params()
        if index_type == "flat":
            params.add_index("vector", index_type="FLAT", metric_type="IP")
        else:
            params.add_index("vector", index_type="HNSW", metric_type="IP",
                             params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
        client.create_collection(collection, schema=schema, index_params=params)


class MilvusSearcher:
    def __init__(self, store: MilvusStore, index: IndexView) -> None:
        self._store = store
        self._collection = index.manifest["collection"]
        self._born = index.manifest["generation"]
        self._sentences = index.sentences
        self._rows: dict[str, int] | None = None

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        client = self._store._client()
        if self._rows is None:
            self._rows = {s.id: row for row, s in enumerate(self._sentences)}
            with self._store._errors():
                client.load_collection(self._collection)  # a new process finds it released
        limit = k
        while True:
            with self._store._errors():
                hits = client.search(
                    self._collection, data=[query.astype(np.float32)], limit=limit,
                    filter=f'born <= "{self._born}"', output_fields=["id"],
                    search_params={"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, limit)}},
                )[0]
            found = [(self._rows[h["id"]], h["distance"]) for h in hits if h["id"] in self._rows]
            # Ids this generation does not know (left by a killed ingest) crowd out known ones: ask for more.
            if len(found) >= k or len(hits) < limit or limit >= MILVUS_MAX_LIMIT:
                break
            limit = min(limit * 4, MILVUS_MAX_LIMIT)
        found = found[:k]
        return (np.array([r for r, _ in found], dtype=np.int64),
                np.array([s for _, s in found], dtype=np.float32))


INSTALL_HINT = "pip install 'groundqa[milvus]'"
_CLIENTS: dict[tuple[str, str], object] = {}


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise VectorStoreError(f"The Milvus vector store needs pymilvus: {INSTALL_HINT}") from None
    return pymilvus


def _prefix(index_dir: Path) -> str:
    """Collections of one index folder share a prefix, so a later ingest finds its leftovers."""
    return "groundqa_" + hashlib.sha256(str(index_dir.resolve()).encode()).hexdigest()[:10] + "_"
