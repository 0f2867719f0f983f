"""The whole index in Milvus: an answering process needs only the URI, no index folder.

A generation is two collections, written side by side and made live by moving an alias:

    <alias>_g<generation>       one row per sentence: id, row, doc_id, number, offsets, page,
                                locator, text, the dense vector and a BM25 sparse vector
    <alias>_g<generation>_aux   the manifest, each document's record (title, source, text, pages…)
                                in parts, and each stemmed term's document frequency

Readers resolve the alias once per question, so a killed ingest (its collections half written,
the alias never moved) leaves them on the previous generation; the next ingest drops its
leftovers. Every other generation but the one just replaced is dropped after the switch.

Everything an answer reads after the search is fetched by primary key (`get`): a sentence by its
id, a document's record by "d:<doc_id>:<part>", a term's frequency by "t:<term>". Filter queries
are avoided on the answering path: Milvus Lite evaluates them by scanning (about 100 ms each at
43,596 sentences, against 1-2 ms for a `get`).

BM25 runs in the engine, over text this project analyses itself: each sentence's title and words
stemmed and stop-worded exactly as the FAISS path's bm25s index has them, joined by spaces. Milvus
Lite's analyser only splits and lowercases (its stemmer and stop filters are accepted and
ignored), so feeding it analysed text is what makes both stores rank alike, on Lite and servers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

import numpy as np

from qa.settings import INDEX_FORMAT, Settings
from qa.store import (
    Index,
    IndexProblem,
    StoredDocument,
    TermWeights,
    bm25_tokens,
    check_manifest,
    document_frequencies,
    embeds_sentences_alone,
    record_of,
    stored_of,
)
from qa.types import Hit, Sentence
from qa.vectors import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, HNSW_TYPE

INSTALL_HINT = "pip install 'groundqa[milvus]'"
DEFAULT_ALIAS = "groundqa"
MILVUS_PORT = 19530
BATCH = 2_000  # rows a request: ~3 MB of vectors and text, far below gRPC's 64 MB
MAX_QUERY = 16_384  # Milvus returns at most this many rows a query
DOCUMENT_PART = 16_000  # characters of a document record per row: at most 64,000 UTF-8 bytes
MAX_VARCHAR = 65_535
PARTS_PER_GET = 8  # a document's record parts asked for at once: nearly every record is one part
# What a generation's rows hold; an index written with another layout is refused (rebuild).
LAYOUT = 2
# bm25s's defaults (qa/store.py's BM25), so both stores score a term alike.
BM25_K1, BM25_B = 1.5, 0.75
_ALIAS = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,150}")


class MilvusProblem(IndexProblem):
    """Milvus cannot be reached or used; the message says what to do."""


@dataclass(frozen=True)
class Target:
    """Where an index lives in Milvus: a server (http(s) URI) or a Milvus Lite file, and the alias."""

    uri: str
    name: str  # what messages and the manifest show; never holds credentials
    alias: str = DEFAULT_ALIAS
    token: str = field(default="", repr=False)

    def __str__(self) -> str:
        return self.name if self.alias == DEFAULT_ALIAS else f"{self.name}/{self.alias}"


def target_of(setting: str) -> Target | None:
    """The Milvus target a store setting names, or None for "faiss" (an index folder).

    milvus://[USER:PASSWORD@]HOST[:PORT][/ALIAS], https://HOST[:PORT][/ALIAS] or PATH.db (Lite).
    """
    value = (setting or "faiss").strip()
    if value == "faiss":
        return None
    parts = urlsplit(value)
    if value.endswith(".db") and not parts.netloc:
        path = str(Path(value.removeprefix("file://")).expanduser().resolve())
        return Target(uri=path, name=path)
    if parts.scheme in ("milvus", "http", "https") and parts.hostname:
        alias = parts.path.strip("/") or DEFAULT_ALIAS
        if not _ALIAS.fullmatch(alias):
            raise MilvusProblem(f"{alias!r} cannot name an index in Milvus: use letters, digits and _.")
        scheme = "https" if parts.scheme == "https" else "http"
        where = f"{parts.hostname}:{parts.port or MILVUS_PORT}"
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}" if parts.username else ""
        name = f"https://{where}" if scheme == "https" else f"milvus://{where}"
        return Target(uri=f"{scheme}://{where}", name=name, alias=alias, token=token)
    raise MilvusProblem(
        f"Unknown store {value!r}: use faiss (an index folder), milvus://HOST:PORT[/NAME] "
        "(a Milvus server) or a local file PATH.db (Milvus Lite)."
    )


# -- reading ----------------------------------------------------------------------------------
def live_collection(target: Target) -> str | None:
    """The collection the alias names now, or None when there is no index yet."""
    client = _client(target)
    with _errors(target):
        if target.alias not in client.list_aliases().get("aliases", []):
            return None
        return client.describe_alias(target.alias)["collection_name"]


def exists(target: Target) -> bool:
    return live_collection(target) is not None


def recorded_model(target: Target) -> str | None:
    """The model the live manifest names, unverified (open_index checks everything)."""
    collection = live_collection(target)
    if collection is None:
        return None
    try:
        model = _manifest(target, collection).get("model")
    except IndexProblem:
        return None
    return model if isinstance(model, str) else None


def open_index(target: Target, model: str, dimension: int, fingerprint: str) -> MilvusIndex:
    """The live generation, verified like an index folder; IndexProblem says what to run."""
    live = verified(target, model, dimension, fingerprint)
    if live is None:
        raise IndexProblem(f"No index in Milvus at {target}. Create one first: qa ingest PATH... --store {target}")
    collection, manifest = live
    client = _client(target)
    with _errors(target):
        client.load_collection(collection)
    return MilvusIndex(target, collection, manifest)


def verified(target: Target, model: str, dimension: int, fingerprint: str) -> tuple[str, dict] | None:
    """The live collection and its manifest, once the manifest shows an index this version reads,
    built with this model and these settings (IndexProblem otherwise); None when there is none."""
    rebuild = f"rebuild it: qa ingest PATH... --store {target} --rebuild"
    collection = live_collection(target)
    if collection is None:
        return None
    manifest = _manifest(target, collection)
    check_manifest(manifest, f"The index in Milvus at {target}", model, dimension, fingerprint, rebuild)
    if manifest.get("layout") != LAYOUT:
        raise IndexProblem(f"The index in Milvus at {target} was written by another version of groundqa; {rebuild}")
    return collection, manifest


def _manifest(target: Target, collection: str) -> dict:
    client = _client(target)
    with _errors(target):
        client.load_collection(_aux(collection))  # a new process finds it released
        rows = client.get(_aux(collection), ids=["manifest"], output_fields=["body"])
    try:
        manifest = json.loads(rows[0]["body"])
        if not isinstance(manifest, dict):
            raise ValueError("not an object")
    except (IndexError, KeyError, ValueError) as exc:
        raise IndexProblem(
            f"The index in Milvus at {target} is damaged (its manifest: {exc}); "
            f"rebuild it: qa ingest PATH... --store {target} --rebuild"
        ) from None
    return manifest


class MilvusIndex:
    """The answering path's view of a generation in Milvus: nothing is held but what a question
    touched (documents and sentences it cited, term weights it used), in bounded caches."""

    def __init__(self, target: Target, collection: str, manifest: dict) -> None:
        self.target = target
        self.collection = collection
        self.manifest = manifest
        self.documents: Mapping[str, StoredDocument] = _Documents(self)
        self._sentences: _Cache[str, list[Sentence]] = _Cache(256)

    @property
    def sentence_count(self) -> int:
        return int(self.manifest.get("sentences", 0))

    @property
    def embeds_sentences_alone(self) -> bool:
        return embeds_sentences_alone(self.manifest)

    def term_weights(self) -> TermWeights:
        return _TermWeights(self)

    def document_sentences(self, doc_id: str) -> list[Sentence]:
        found = self._sentences.get(doc_id)
        if found is None:
            ids = self.documents.sentence_ids(doc_id)
            rows = self._get(self.collection, ids, SENTENCE_FIELDS)
            found = [_sentence(r) for r in sorted(rows, key=lambda r: r["row"])]
            self._sentences.put(doc_id, found)
        return found

    def vectors_of(self, sentences: list[Sentence]) -> np.ndarray:
        """The stored (float16-rounded) vectors of `sentences`."""
        ids = [s.id for s in sentences]
        by_id = {r["id"]: r["vector"] for r in self._get(self.collection, ids, ["id", "vector"])}
        return np.asarray([by_id[i] for i in ids], dtype=np.float32).reshape(len(ids), -1)

    def search(self, query: str, query_vector: np.ndarray, settings: Settings, doc_ids: list[str] | None,
               k: int) -> list[Hit]:
        """Dense and BM25 search fused by RRF, all in the engine; documents restricted by a filter."""
        from pymilvus import AnnSearchRequest, RRFRanker

        expr = f"doc_id in [{', '.join(map(_quoted, doc_ids))}]" if doc_ids is not None else ""
        n = settings.candidates
        dense = {"data": [query_vector.astype(np.float32).tolist()], "anns_field": "vector",
                 "param": {"metric_type": "IP", "params": {"ef": max(HNSW_EF_SEARCH, n)}}}
        terms = " ".join(bm25_tokens([query])[0])
        lexical = {"data": [terms], "anns_field": "sparse", "param": {"metric_type": "BM25"}}
        wanted = [r for r, use in ((dense, settings.retrieval != "bm25"), (lexical, settings.retrieval != "dense"
                                                                            and terms)) if use]
        client = _client(self.target)
        with _errors(self.target):
            # Ids only, the rest by `get`: Milvus Lite returned them 80 ms sooner (188 ms against
            # 270 ms a hybrid search at 43,596 sentences) than with the fields and vectors.
            if len(wanted) == 2:
                found = client.hybrid_search(
                    self.collection, reqs=[AnnSearchRequest(**r, limit=n, expr=expr) for r in wanted],
                    ranker=RRFRanker(settings.rrf_k), limit=k, output_fields=["id"])[0]
            elif wanted:
                only = wanted[0]
                # At most `candidates`, as the folder's retriever takes from one list before fusing.
                found = client.search(self.collection, data=only["data"], anns_field=only["anns_field"],
                                      search_params=only["param"], limit=min(k, n), filter=expr,
                                      output_fields=["id"])[0]
            else:
                return []
        rows = {r["id"]: r for r in self._get(self.collection, [h["id"] for h in found], SENTENCE_FIELDS + ["vector"])}
        # Hybrid search reports the fused score only: the cosine is recomputed from the stored
        # vector (support needs it), and no BM25 score comes back (lexical stays 0).
        return [
            Hit(_sentence(rows[h["id"]]), float(h["distance"]) if len(wanted) == 2 else 1.0 / (settings.rrf_k + rank + 1),
                dense=float(np.asarray(rows[h["id"]]["vector"], dtype=np.float32) @ query_vector), lexical=0.0)
            for rank, h in enumerate(found) if h["id"] in rows
        ]

    def _get(self, collection: str, keys: list[str], fields: list[str]) -> list[dict]:
        client = _client(self.target)
        found: list[dict] = []
        with _errors(self.target):
            for start in range(0, len(keys), MAX_QUERY):
                found += client.get(collection, ids=keys[start : start + MAX_QUERY], output_fields=fields)
        return found

    def _query(self, collection: str, expr: str, fields: list[str]) -> list[dict]:
        client = _client(self.target)
        with _errors(self.target):
            rows = client.query(collection, filter=expr, output_fields=fields, limit=MAX_QUERY)
            if len(rows) < MAX_QUERY:
                return rows
            return _iterate(client, collection, expr, fields)


class MilvusRetriever:
    """retrieve.Retriever's contract, answered by the engine."""

    def __init__(self, index: MilvusIndex, encoder, settings: Settings) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings

    def search(self, query: str, doc_ids: list[str] | None = None, k: int | None = None,
               query_vector: np.ndarray | None = None) -> list[Hit]:
        if doc_ids is not None and not doc_ids:
            return []
        k = k or (self.settings.restricted_top_k if doc_ids is not None else self.settings.top_k)
        if query_vector is None:
            query_vector = self.encoder.encode([query])[0]
        return self.index.search(query, query_vector, self.settings, doc_ids, k)


class _Documents(Mapping):
    """Documents by id, fetched when first asked for (a bounded cache keeps the recent ones)."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index
        self._cache: _Cache[str, StoredDocument] = _Cache(512)

    def __getitem__(self, doc_id: str) -> StoredDocument:
        return self._record(doc_id)[0]

    def sentence_ids(self, doc_id: str) -> list[str]:
        return self._record(doc_id)[1]

    def _record(self, doc_id: str) -> tuple[StoredDocument, list[str]]:
        found = self._cache.get(doc_id)
        if found is None:
            aux, body = _aux(self._index.collection), []
            while True:  # parts in groups, until a group comes back short
                keys = [_doc_key(doc_id, len(body) + i) for i in range(PARTS_PER_GET)]
                parts = {r["key"]: r["body"] for r in self._index._get(aux, keys, ["key", "body"])}
                body += [parts[k] for k in keys if k in parts]
                if len(parts) < PARTS_PER_GET:
                    break
            if not body:
                raise KeyError(doc_id)
            record = json.loads("".join(body))
            found = (stored_of(record), record["sentence_ids"])
            self._cache.put(doc_id, found)
        return found

    def __iter__(self) -> Iterator[str]:
        rows = self._index._query(_aux(self._index.collection), 'kind == "doc" and part == 0', ["doc_id", "order"])
        return iter(r["doc_id"] for r in sorted(rows, key=lambda r: r["order"]))

    def __len__(self) -> int:
        return int(self._index.manifest.get("documents", 0))


class _TermWeights(TermWeights):
    """IDF looked up in the generation's term table as terms come up, then kept (bounded)."""

    def __init__(self, index: MilvusIndex) -> None:
        self._index = index
        self._n = max(1, index.sentence_count)
        self._cache: _Cache[str, float] = _Cache(100_000)
        self._unknown = self.idf(self._n, None)

    def weight(self, term: str) -> float:
        found = self._cache.get(term)
        if found is None:
            rows = self._index._get(_aux(self._index.collection), [f"t:{term}"], ["df"])
            found = self.idf(self._n, rows[0]["df"]) if rows else self._unknown
            self._cache.put(term, found)
        return found


class _Cache(OrderedDict):
    """A small thread-safe LRU map."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self._lock = threading.Lock()

    def get(self, key, default=None):
        with self._lock:
            if key not in self:
                return default
            self.move_to_end(key)
            return self[key]

    def put(self, key, value) -> None:
        with self._lock:
            self[key] = value
            self.move_to_end(key)
            while len(self) > self.capacity:
                self.popitem(last=False)


SENTENCE_FIELDS = ["id", "row", "doc_id", "number", "start", "end", "page", "locator", "text"]


def _sentence(r: dict) -> Sentence:
    return Sentence(r["id"], r["doc_id"], r["number"], r["start"], r["end"], r["text"],
                    None if r["page"] < 0 else r["page"], json.loads(r["locator"]) if r["locator"] else None)


def load(target: Target, collection: str, manifest: dict) -> Index:
    """A generation whole, in memory (`verified` found it), for an ingest that updates it: an
    ingest copies unchanged documents' rows, vectors included, from here into the next generation
    instead of embedding them again.
    """
    client = _client(target)
    with _errors(target):
        client.load_collection(collection)
        records = _iterate(client, _aux(collection), 'kind == "doc"', ["doc_id", "part", "body"])
        rows = _iterate(client, collection, "row >= 0", SENTENCE_FIELDS + ["vector"])
    parts: dict[str, list[tuple[int, str]]] = {}
    for r in records:
        parts.setdefault(r["doc_id"], []).append((r["part"], r["body"]))
    stored = [stored_of(json.loads("".join(body for _, body in sorted(p)))) for p in parts.values()]
    documents = {s.document.doc_id: s for s in sorted(stored, key=lambda s: s.first_row)}
    rows.sort(key=lambda r: r["row"])
    sentences = [_sentence(r) for r in rows]
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float16).reshape(len(rows), -1)
    return Index(manifest=manifest, documents=documents, sentences=sentences, vectors=vectors)


def _iterate(client, collection: str, expr: str, fields: list[str]) -> list[dict]:
    # Milvus Lite keeps no server timestamp for iterators: its in-process gRPC server logs the
    # unimplemented call with a traceback, and pymilvus falls back to its own clock.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    found: list[dict] = []
    pages = client.query_iterator(collection, batch_size=BATCH, filter=expr, output_fields=fields)
    while page := pages.next():
        found += page
    pages.close()
    return found


# -- writing ----------------------------------------------------------------------------------
def write(index: Index, target: Target, ann_from: int, progress: Callable[[int], None] = lambda n: None) -> str:
    """Write `index` as a new generation, then move the alias to it; return its collection.

    Until the alias moves, readers answer from the previous generation, and a failure (or kill)
    before then leaves it untouched. `progress` hears each batch of sentences written.
    """
    # Rounded as an index folder stores them (store.write), so both stores score alike.
    index.vectors = index.vectors.astype(np.float16)
    client = _client(target)
    generation = f"{datetime.now().strftime('%Y%m%dT%H%M%S%f')}_{uuid.uuid4().hex[:8]}"
    collection = f"{target.alias}_g{generation}"
    index_type = "flat" if len(index.sentences) < ann_from else HNSW_TYPE
    previous = live_collection(target)
    try:
        with _errors(target):
            _create(client, collection, index.vectors.shape[1], index_type)
            _write_sentences(client, collection, index, progress)
            manifest = dict(index.manifest)
            manifest.update(
                format=INDEX_FORMAT, generation=generation,
                created=datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z"),
                documents=len(index.documents), sentences=len(index.sentences), vector_dtype="float16",
                store=target.name, alias=target.alias, collection=collection, index_type=index_type, layout=LAYOUT,
            )
            _write_aux(client, _aux(collection), index, manifest)
            for name in (collection, _aux(collection)):
                client.flush(name)  # unsealed rows are searched by brute force: seal before going live
            if previous is None:
                client.create_alias(collection, target.alias)
            else:
                client.alter_alias(collection, target.alias)
    except MilvusProblem as exc:
        if not _moved_to(target, collection):
            _drop(client, [collection, _aux(collection)])
        raise MilvusProblem(f"{exc} The previous index is unchanged.") from None
    except BaseException:
        # Interrupted while the alias moved: if it did, the new generation is the live one now.
        if not _moved_to(target, collection):
            _drop(client, [collection, _aux(collection)])
        raise
    index.manifest = manifest
    # The generation just replaced stays for readers that resolved the alias a moment ago.
    keep = {collection, _aux(collection)} | ({previous, _aux(previous)} if previous else set())
    with _errors(target):
        stale = [c for c in client.list_collections() if _generation_of(target.alias, c) and c not in keep]
    _drop(client, stale)
    return collection


def _create(client, collection: str, dimension: int, index_type: str) -> None:
    from pymilvus import DataType, Function, FunctionType, MilvusClient

    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
    schema.add_field("row", DataType.INT64)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("number", DataType.INT64)
    schema.add_field("start", DataType.INT64)
    schema.add_field("end", DataType.INT64)
    schema.add_field("page", DataType.INT64)  # -1: not paged
    schema.add_field("locator", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    # The analysed title and sentence (see the module's docstring); the BM25 function reads it.
    schema.add_field("terms", DataType.VARCHAR, max_length=MAX_VARCHAR, enable_analyzer=True,
                     analyzer_params={"tokenizer": "standard", "filter": ["lowercase"]})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["terms"], output_field_names=["sparse"]))
    params = client.prepare_index_params()
    if index_type == "flat":
        params.add_index("vector", index_type="FLAT", metric_type="IP")
    else:
        params.add_index("vector", index_type="HNSW", metric_type="IP",
                         params={"M": HNSW_M, "efConstruction": HNSW_EF_CONSTRUCTION})
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
    params.add_index("doc_id", index_type="INVERTED")
    params.add_index("row", index_type="INVERTED")
    # Strong: a reader right after the alias moves must see every row (Bounded reads may miss
    # the last seconds' inserts on a distributed server). Rows never change after that, so it
    # costs only the short wait for the engine's timestamps to catch up.
    client.create_collection(collection, schema=schema, index_params=params, consistency_level="Strong")

    aux = MilvusClient.create_schema(auto_id=False)
    aux.add_field("key", DataType.VARCHAR, is_primary=True, max_length=512)
    aux.add_field("kind", DataType.VARCHAR, max_length=16)  # manifest | doc | term
    aux.add_field("doc_id", DataType.VARCHAR, max_length=MAX_VARCHAR)
    aux.add_field("part", DataType.INT64)
    aux.add_field("body", DataType.VARCHAR, max_length=MAX_VARCHAR)
    aux.add_field("df", DataType.INT64)  # a term's document frequency
    aux.add_field("order", DataType.INT64)  # a document's place in the index, as a folder lists them
    aux.add_field("pad", DataType.FLOAT_VECTOR, dim=2)  # Milvus refuses a collection without a vector
    params = client.prepare_index_params()
    params.add_index("pad", index_type="FLAT", metric_type="L2")
    params.add_index("doc_id", index_type="INVERTED")
    client.create_collection(_aux(collection), schema=aux, index_params=params, consistency_level="Strong")


def _write_sentences(client, collection: str, index: Index, progress) -> None:
    titles = {doc_id: stored.document.title for doc_id, stored in index.documents.items()}
    for start in range(0, len(index.sentences), BATCH):
        batch = index.sentences[start : start + BATCH]
        analysed = bm25_tokens([f"{titles[s.doc_id]} {s.text}" for s in batch])
        vectors = index.vectors_at(slice(start, start + len(batch)))
        client.insert(collection, [
            {"id": s.id, "row": start + i, "doc_id": s.doc_id, "number": s.index, "start": s.start, "end": s.end,
             "page": -1 if s.page is None else s.page, "locator": _fits(json.dumps(s.locator, ensure_ascii=False)) if s.locator else "",
             "text": s.text, "terms": _fits(" ".join(tokens)), "vector": vector}
            for i, (s, tokens, vector) in enumerate(zip(batch, analysed, vectors))
        ])
        progress(len(batch))


def _write_aux(client, aux: str, index: Index, manifest: dict) -> None:
    rows = [_aux_row("manifest", "manifest", body=json.dumps(manifest))]
    for order, stored in enumerate(index.documents.values()):
        doc_id = stored.document.doc_id
        record = json.dumps({**record_of(stored), "sentence_ids": [s.id for s in index.document_sentences(doc_id)]},
                            ensure_ascii=False)
        for part in range(0, max(1, len(record)), DOCUMENT_PART):
            rows.append(_aux_row(_doc_key(doc_id, part // DOCUMENT_PART), "doc", doc_id=doc_id,
                                 part=part // DOCUMENT_PART, body=record[part : part + DOCUMENT_PART], order=order))
    df = document_frequencies(index)
    rows += [_aux_row(f"t:{term}", "term", df=count) for term, count in df.items()]
    for start in range(0, len(rows), BATCH):
        client.insert(aux, rows[start : start + BATCH])


def _aux_row(key: str, kind: str, doc_id: str = "", part: int = 0, body: str = "", df: int = 0, order: int = 0) -> dict:
    return {"key": key, "kind": kind, "doc_id": doc_id, "part": part, "body": body, "df": df, "order": order,
            "pad": [0.0, 0.0]}


def _fits(text: str) -> str:
    """At most MAX_VARCHAR UTF-8 bytes, cut at a space (a title of thousands of words)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_VARCHAR:
        return text
    return data[:MAX_VARCHAR].decode("utf-8", errors="ignore").rsplit(" ", 1)[0]


def _moved_to(target: Target, collection: str) -> bool:
    try:
        return live_collection(target) == collection
    except MilvusProblem:
        return False  # cannot tell: dropping nothing is the safe side, and the next ingest cleans up


def _drop(client, collections: list[str]) -> None:
    """Best effort: what is left is dropped by the next ingest."""
    for name in collections:
        try:
            if client.has_collection(name):
                client.drop_collection(name)
        except Exception:  # noqa: BLE001 - cleanup must not hide the error that led here
            pass


def _generation_of(alias: str, collection: str) -> bool:
    """Whether `collection` belongs to a generation of `alias` (and not of an alias that merely
    starts the same way)."""
    return re.fullmatch(rf"{re.escape(alias)}_g\d{{8}}T\d{{12}}_[0-9a-f]{{8}}(_aux)?", collection) is not None


def _doc_key(doc_id: str, part: int) -> str:
    """By a hash of the id: pymilvus writes `get`'s keys into a filter without escaping them, so
    a document named O'Brien.txt would break the expression."""
    return f"d:{hashlib.sha256(doc_id.encode('utf-8', errors='surrogatepass')).hexdigest()[:32]}:{part}"


def _aux(collection: str) -> str:
    return f"{collection}_aux"


def _quoted(value: str) -> str:
    """A string literal for a Milvus filter (Milvus Lite has no filter templates). Only what the
    grammar needs is escaped: Milvus refuses JSON's \\b, \\f and \\u escapes, and takes other
    control characters as they are."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


# -- plumbing ---------------------------------------------------------------------------------
_CLIENTS: dict[tuple[str, str], object] = {}
_CLIENTS_LOCK = threading.Lock()


def _pymilvus():
    try:
        import pymilvus
    except ImportError:
        raise MilvusProblem(f"An index in Milvus needs pymilvus: {INSTALL_HINT}") from None
    return pymilvus


def _client(target: Target):
    key = (target.uri, target.token)
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            pymilvus = _pymilvus()
            # pymilvus logs every failed call with a traceback on stderr, then raises it; _errors
            # turns each into a message that says what to do, so its own log would only repeat
            # it as a traceback in front of the user.
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            if not target.uri.startswith("http") and importlib.util.find_spec("milvus_lite") is None:
                raise MilvusProblem(f"Milvus Lite files ({target.uri}) need milvus-lite: {INSTALL_HINT}")
            try:
                _CLIENTS[key] = pymilvus.MilvusClient(uri=target.uri, token=target.token)
            except pymilvus.MilvusException as exc:
                lite = "" if target.uri.startswith("http") else (
                    " Milvus Lite serves one process at a time: stop the other process using this file, "
                    "or use a Milvus server (milvus://HOST:PORT).")
                raise MilvusProblem(f"Cannot open Milvus at {target.name}: {exc.message}.{lite}") from None
        return _CLIENTS[key]


@contextmanager
def _errors(target: Target):
    pymilvus = _pymilvus()
    import grpc

    try:
        yield
    except pymilvus.MilvusException as exc:
        raise MilvusProblem(f"Milvus at {target.name} failed: {exc.message.rstrip('.')}.") from None
    except grpc.RpcError as exc:  # pymilvus passes some (deadline, permission, authentication) on raw
        hint = " Check the user and password in the store URI." if exc.code().name in (
            "PERMISSION_DENIED", "UNAUTHENTICATED") else " Check that Milvus is up and reachable."
        raise MilvusProblem(f"Milvus at {target.name} failed: {exc.code().name}: {exc.details()}.{hint}") from None
