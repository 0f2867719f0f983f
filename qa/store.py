"""The index on disk: sentence store, vectors, FAISS and BM25, under a checksummed manifest.

Layout of an index folder::

    CURRENT              name of the live generation, replaced atomically
    gen-<id>/            one complete, immutable index
        manifest.json    format, model, dimension, settings fingerprint, checksums of every file
        documents.jsonl  each document's text exactly as stored, its source and content hash
        sentences.jsonl  id, doc_id, index, start, end, page (text is sliced from the document)
        vectors.npy      float16 unit vectors, one row per sentence window (held as float16 in
                         memory too, widened only where rows are scored)
        faiss.index      only for approximate (HNSW) FAISS indexes; exact ones are rebuilt from vectors
        bm25/            bm25s arrays (.npy, no pickle) and JSON vocabulary

The manifest names the index type, chosen by size (qa/vectors.py): exact below
`Settings.ann_from` sentences, HNSW from there on. An index kept whole in Milvus instead of a
folder is qa/milvus.py's; it reads and writes the same Index records.

A new generation is written beside the live one and only then named in CURRENT, so a failed or
killed ingest leaves the previous index as it was. Nothing here is unpickled, and faiss only
reads a file whose checksum the manifest vouches for.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np

from qa import vectors as vector_stores
from qa.errors import UserError
from qa.files import sha256_of
from qa.settings import INDEX_FORMAT, Settings
from qa.types import Document, Sentence
from qa.vectors import Searcher


class IndexProblem(UserError):
    """The index cannot be used as it is; the message says what to do."""


@dataclass
class StoredDocument:
    document: Document
    root: str  # the folder or file the user ingested it from
    content_hash: str
    first_row: int = 0
    rows: int = 0


@dataclass
class Index:
    manifest: dict
    documents: dict[str, StoredDocument]
    sentences: list[Sentence]
    vectors: np.ndarray  # unit length; float16 once written (see vectors_at)
    path: Path | None = None
    _searcher: Searcher | None = field(default=None, repr=False)
    _bm25: object = field(default=None, repr=False)

    # -- search ----------------------------------------------------------------------------
    def dense(self, query: np.ndarray, k: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-k rows by cosine to a unit query vector, optionally only among `rows`."""
        if not len(self.sentences):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if rows is not None:
            # A candidate restriction (eval's distractor setting) is small: score it exactly.
            scores = self.vectors_at(rows) @ query
            top = np.argsort(-scores)[:k]
            return rows[top], scores[top]
        return self.searcher.search(query, min(k, len(self.sentences)))

    def lexical(self, query_tokens: list[str]) -> np.ndarray:
        """BM25 score of every sentence for the (stemmed) query tokens."""
        ids = self.bm25.get_tokens_ids(query_tokens)
        if not ids:
            return np.zeros(len(self.sentences), dtype=np.float32)
        return self.bm25.get_scores_from_ids(ids)

    def vectors_of(self, sentences: list[Sentence]) -> np.ndarray:
        """The float32 vectors of `sentences` (of this index)."""
        return self.vectors_at([self.documents[s.doc_id].first_row + s.index for s in sentences])

    def vectors_at(self, rows) -> np.ndarray:
        """The float32 vectors of `rows`. The matrix stays float16 as stored: widening all of it
        when an index opens took 0.57 s of a 1.8 s cold start at 102,667 sentences."""
        return self.vectors[rows].astype(np.float32)

    @property
    def searcher(self) -> Searcher:
        if self._searcher is None:  # an index not yet written: exact search over its vectors
            self._searcher = vector_stores.FaissSearcher(self.vectors)
        return self._searcher

    @property
    def sentence_count(self) -> int:
        return len(self.sentences)

    def term_weights(self) -> TermWeights:
        return LocalTermWeights(self)

    @property
    def bm25(self):
        if self._bm25 is None:
            self._bm25 = build_bm25(self)
        return self._bm25

    @property
    def embeds_sentences_alone(self) -> bool:
        return embeds_sentences_alone(self.manifest)

    # -- navigation ------------------------------------------------------------------------
    def document_sentences(self, doc_id: str) -> list[Sentence]:
        stored = self.documents[doc_id]
        return self.sentences[stored.first_row : stored.first_row + stored.rows]

    def rows_of(self, doc_ids) -> np.ndarray:
        rows = [
            np.arange(d.first_row, d.first_row + d.rows)
            for doc_id in doc_ids
            if (d := self.documents.get(doc_id)) is not None
        ]
        return np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)


def embeds_sentences_alone(manifest: dict) -> bool:
    """Whether each stored vector is its sentence's own embedding (no title, no neighbours)."""
    shaping = manifest.get("settings", {})
    return shaping.get("window") == 0 and shaping.get("embed_title") is False


class TermWeights:
    """IDF of stemmed terms over an index's sentences (unknown terms weigh the most)."""

    @staticmethod
    def idf(sentences: int, df: int | None) -> float:
        return math.log(1 + sentences / (1 + df)) if df is not None else math.log(1 + sentences)

    def weight(self, term: str) -> float:
        raise NotImplementedError


class LocalTermWeights(TermWeights):
    """Read off the index's BM25 arrays: a term's column holds one entry per sentence it is in."""

    def __init__(self, index: Index) -> None:
        n = max(1, len(index.sentences))
        self._idf = {term: self.idf(n, df) for term, df in document_frequencies(index).items()}
        self._unknown = self.idf(n, None)

    def weight(self, term: str) -> float:
        return self._idf.get(term, self._unknown)


def document_frequencies(index: Index) -> dict[str, int]:
    """How many sentences each stemmed term occurs in (with its document's title)."""
    bm25 = index.bm25
    indptr = np.asarray(bm25.scores["indptr"]) if len(index.sentences) else np.zeros(1)
    counts = np.diff(indptr)
    return {term: int(counts[i]) for term, i in bm25.vocab_dict.items() if i < len(counts)}


def window_text(doc: Document, sentences: list[Sentence], i: int, window: int, title: bool) -> str:
    """What is embedded for sentence i: the sentence with its neighbours and the title."""
    lo, hi = max(0, i - window), min(len(sentences), i + window + 1)
    body = " ".join(s.text for s in sentences[lo:hi])
    if title and doc.title and doc.title != sentences[i].text:
        return f"{doc.title}: {body}"
    return body


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), return_ids=False, show_progress=False)


def build_bm25(index: Index):
    """BM25 over each sentence with its document's title (a sentence window drowns the terms)."""
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index build at DEBUG

    texts = [
        f"{index.documents[s.doc_id].document.title} {s.text}" for s in index.sentences
    ]
    retriever = bm25s.BM25()
    if texts:
        retriever.index(bm25_tokens(texts), show_progress=False)
    return retriever


_STEMMER = None


def stemmer():
    global _STEMMER
    if _STEMMER is None:
        import Stemmer

        _STEMMER = Stemmer.Stemmer("english")
    return _STEMMER


# -- writing ----------------------------------------------------------------------------------
def write(index: Index, settings: Settings) -> Path:
    """Write `index` as a new generation and make it current atomically; return its folder."""
    index_dir = settings.index_dir
    index_dir.mkdir(parents=True, exist_ok=True)
    # Sortable by time to the microsecond: _previous compares generations by name.
    generation = f"{datetime.now().strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}"
    tmp = index_dir / f".gen-{generation}.tmp"
    tmp.mkdir()
    try:
        _write_files(index, tmp, generation, settings.ann_from)
        final = index_dir / f"gen-{generation}"
        os.rename(tmp, final)
        _fsync_dir(index_dir)
        pointer = index_dir / ".CURRENT.tmp"
        with open(pointer, "w") as f:
            f.write(final.name)
            f.flush()
            os.fsync(f.fileno())
        os.replace(pointer, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexProblem(
            f"Could not write the new index in {index_dir} ({exc.strerror or exc}); "
            "the previous index is unchanged. Free some space or fix permissions, then ingest again."
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    index.path = final
    index._searcher = vector_stores.searcher(index.vectors, final)
    _prune(index_dir, keep={final.name, *_previous(index_dir, final.name)})
    return final


def _write_files(index: Index, folder: Path, generation: str, ann_from: int) -> None:
    n = len(index.sentences)
    with open(folder / "documents.jsonl", "w", encoding="utf-8") as f:
        for stored in index.documents.values():
            f.write(json.dumps(record_of(stored), ensure_ascii=False) + "\n")
    with open(folder / "sentences.jsonl", "w", encoding="utf-8") as f:
        for s in index.sentences:
            f.write(json.dumps([s.id, s.doc_id, s.index, s.start, s.end, s.page]) + "\n")
    # Search what readers will load: the float16 vectors, so every store scores alike.
    index.vectors = index.vectors.astype(np.float16)
    np.save(folder / "vectors.npy", index.vectors, allow_pickle=False)
    placed = vector_stores.prepare(index.vectors, folder, ann_from)
    index.bm25.save(str(folder / "bm25"), allow_pickle=False)
    manifest = dict(index.manifest)
    manifest.update(
        format=INDEX_FORMAT,
        generation=generation,
        created=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        documents=len(index.documents),
        sentences=n,
        vector_dtype="float16",
        **placed,
        files={rel: sha256_of(folder / rel) for rel in _files(folder)},
    )
    index.manifest = manifest
    for rel in _files(folder):
        _fsync_file(folder / rel)
    tmp_manifest = folder / "manifest.json.tmp"
    tmp_manifest.write_text(json.dumps(manifest, indent=2))
    _fsync_file(tmp_manifest)
    os.replace(tmp_manifest, folder / "manifest.json")


def record_of(stored: StoredDocument) -> dict:
    """A document as an index keeps it (a line of documents.jsonl; Milvus's document rows)."""
    d = stored.document
    record = {
        "doc_id": d.doc_id,
        "title": d.title,
        "source": d.source,
        "root": stored.root,
        "hash": stored.content_hash,
        "first_row": stored.first_row,
        "rows": stored.rows,
        "page_starts": list(d.page_starts),
        "text": d.text,
    }
    # Written only when present, so an index of plain files reads as before.
    if d.regions:
        record["regions"] = [[start, locator] for start, locator in d.regions]
    if d.ocr_pages:
        record["ocr_pages"] = list(d.ocr_pages)
    if d.fetched:
        record["fetched"] = d.fetched
    return record


def stored_of(r: dict) -> StoredDocument:
    doc = Document(r["doc_id"], r["title"], r["text"], r["source"], tuple(r["page_starts"]),
                   tuple((start, locator) for start, locator in r.get("regions", ())),
                   tuple(r.get("ocr_pages", ())), r.get("fetched", ""))
    return StoredDocument(doc, r["root"], r["hash"], r["first_row"], r["rows"])


def _files(folder: Path) -> list[str]:
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not p.name.startswith("manifest.json")
    )


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    _fsync_file(path)


def _previous(index_dir: Path, current: str) -> list[str]:
    """The newest generation before `current`: readers that opened it a moment ago keep working."""
    older = sorted(p.name for p in index_dir.glob("gen-*") if p.name < current)
    return older[-1:]


def _prune(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        stale_gen = path.name.startswith("gen-") and path.name not in keep
        stale_tmp = path.name.startswith(".gen-") and path.name.endswith(".tmp")
        if path.is_dir() and (stale_gen or stale_tmp):
            shutil.rmtree(path, ignore_errors=True)


# -- reading ----------------------------------------------------------------------------------
def exists(index_dir: Path) -> bool:
    return (index_dir / "CURRENT").is_file()


def recorded_model(index_dir: Path) -> str | None:
    """The model the index's manifest names, unverified (open_index checks everything), so the
    caller can load that model before opening it; None when there is no readable index."""
    try:
        folder = index_dir / (index_dir / "CURRENT").read_text().strip()
        model = json.loads((folder / "manifest.json").read_text()).get("model")
    except (OSError, ValueError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def open_index(index_dir: Path, model: str, dimension: int, fingerprint: str) -> Index:
    """Load and verify the live generation; raise IndexProblem with a fix the user can run."""
    rebuild = f"rebuild it: qa ingest PATH... --index {index_dir} --rebuild"
    if not exists(index_dir):
        raise IndexProblem(f"No index at {index_dir}. Create one first: qa ingest PATH... --index {index_dir}")
    try:
        folder = index_dir / (index_dir / "CURRENT").read_text().strip()
        manifest = json.loads((folder / "manifest.json").read_text())
        if not isinstance(manifest, dict):
            raise ValueError("manifest is not an object")
    except (OSError, ValueError) as exc:
        raise IndexProblem(f"The index at {index_dir} is damaged ({exc}); {rebuild}") from None
    check_manifest(manifest, f"The index at {index_dir}", model, dimension, fingerprint, rebuild)
    if manifest.get("store", "faiss") != "faiss":
        raise IndexProblem(
            f"The index at {index_dir} keeps its vectors in Milvus ({manifest['store']}), a layout this version "
            f"no longer reads: an index in Milvus now lives there whole. Rebuild it: "
            f"qa ingest PATH... --store {manifest['store']} --rebuild (or --index {index_dir} --rebuild for a folder)"
        )
    files = manifest.get("files") or {}
    on_disk = set(_files(folder)) if folder.is_dir() else set()
    if set(files) != on_disk:
        named = "; ".join(f"{label}: {', '.join(sorted(names))}" for label, names in
                          (("missing", set(files) - on_disk), ("not its own", on_disk - set(files))) if names)
        raise IndexProblem(f"The index at {index_dir} is incomplete or has foreign files ({named}); {rebuild}")
    for rel, digest in files.items():
        if sha256_of(folder / rel) != digest:
            raise IndexProblem(f"The index at {index_dir} is damaged ({rel} fails its checksum); {rebuild}")
    try:
        index = _load(folder, manifest)
        index._searcher = vector_stores.searcher(index.vectors, folder)
        return index
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise IndexProblem(f"The index at {index_dir} is damaged ({type(exc).__name__}: {exc}); {rebuild}") from None


def check_manifest(manifest: dict, where: str, model: str, dimension: int, fingerprint: str, rebuild: str) -> None:
    """Refuse an index built by another version, model or settings; `where` starts the message."""
    if manifest.get("format") != INDEX_FORMAT:
        raise IndexProblem(
            f"{where} has format {manifest.get('format')}, this version reads format {INDEX_FORMAT}; {rebuild}"
        )
    if manifest.get("model") != model or manifest.get("dimension") != dimension:
        raise IndexProblem(
            f"{where} was built with the model {manifest.get('model')!r} "
            f"(dimension {manifest.get('dimension')}), not {model!r}; {rebuild}"
        )
    if manifest.get("fingerprint") != fingerprint:
        # The shaping settings a user can change are in the manifest; the rest of the fingerprint
        # (segmenter, sentence limit) changes only with a new version.
        built = ", ".join(f"{name}={value!r}" for name, value in (manifest.get("settings") or {}).items())
        raise IndexProblem(
            f"{where} was built with other index settings ({built or 'not recorded'}; fingerprint "
            f"{manifest.get('fingerprint')}, now {fingerprint}): use those settings again, or {rebuild}"
        )


def _load(folder: Path, manifest: dict) -> Index:
    documents: dict[str, StoredDocument] = {}
    with open(folder / "documents.jsonl", encoding="utf-8") as f:
        for line in f:
            stored = stored_of(json.loads(line))
            documents[stored.document.doc_id] = stored
    # Parsed as one JSON array: half the time of a json.loads per line (0.14 vs 0.27 s at 102,667).
    # Exact: json.dumps escapes every newline inside a value, so newlines only end records.
    lines = (folder / "sentences.jsonl").read_text(encoding="utf-8").rstrip("\n")
    rows = json.loads("[" + lines.replace("\n", ",") + "]")
    sentences = [
        Sentence(sid, doc_id, i, start, end, (doc := documents[doc_id].document).text[start:end], page,
                 doc.locator_at(start))
        for sid, doc_id, i, start, end, page in rows
    ]
    vectors = np.load(folder / "vectors.npy", allow_pickle=False)
    if vectors.shape != (len(sentences), manifest["dimension"]):
        raise ValueError(f"vectors {vectors.shape} do not match {len(sentences)} sentences")
    index = Index(manifest=manifest, documents=documents, sentences=sentences, vectors=vectors, path=folder)
    import bm25s

    index._bm25 = bm25s.BM25.load(str(folder / "bm25"), allow_pickle=False)
    return index
