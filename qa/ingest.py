"""Files -> documents -> sentences -> vectors -> a new index generation, incrementally.

Unchanged documents (same content hash) keep their stored vectors; changed ones are re-split and
re-embedded; documents whose files vanished from an ingested folder are dropped. The previous
generation stays live until the new one is completely written.

A rebuild keeps only what is ingested now, but still takes the vectors of unchanged documents
from the old index when it is sound and built the same way (see _live).
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, nullcontext
from pathlib import Path

import numpy as np

from qa import location, milvus, store
from qa.documents import discover, is_url, load
from qa.embedding import Encoder, encoder_for
from qa.errors import UserError
from qa.loaders import NoText, Skip
from qa.sentences import split_all
from qa.settings import Settings
from qa.store import Index, IndexProblem, StoredDocument, window_text
from qa.types import Document, FileOutcome, IngestReport, Sentence


EMBED_CHUNK = 512  # sentences: enough to keep every core busy, small enough to start early


class IndexBusy(UserError):
    """Another ingest holds the index's lock."""


def ingest(
    paths: list[Path],
    settings: Settings,
    encoder: Encoder | None = None,
    rebuild: bool = False,
    progress: bool = False,
    wait: float = -1,
    ray: str | None = None,
) -> IngestReport:
    """Add or refresh the documents under `paths` in the index the settings name (qa/location.py).

    `wait` is how long to wait for another ingest of the same index (-1: as long as it takes).
    `ray` splits and embeds on a Ray cluster at that address ("" for a local Ray on this machine's
    cores; None: in this process).
    Two ingests of one index are serialized by an OS file lock, which the kernel releases when
    its holder dies, so a killed ingest never leaves a stale lock behind.
    """
    from filelock import FileLock, Timeout

    began = time.perf_counter()
    # An index is updated with the encoder that built it; a new or rebuilt one gets the setting's.
    encoder = encoder or encoder_for(None if rebuild else location.recorded_model(settings), settings.embedding)
    if milvus.target_of(settings.vector_store):
        # Milvus Lite serves one process at a time; a Milvus server takes one ingest per alias at a
        # time by convention (docs/scale.md): a lock file here could not see other machines.
        report = _ingest_locked(paths, settings, encoder, rebuild, progress, ray)
    else:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(settings.index_dir / ".lock"))
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise IndexBusy(f"The index at {settings.index_dir} is busy: another ingest is running.") from None
        try:
            report = _ingest_locked(paths, settings, encoder, rebuild, progress, ray)
        finally:
            lock.release()
    report.seconds = time.perf_counter() - began
    return report


def _live(settings: Settings, encoder: Encoder, rebuild: bool) -> tuple[Index | None, Index | None]:
    """The index this ingest updates (None on a rebuild), and where vectors of unchanged documents
    come from: the live index when sound and built the same way, whatever a rebuild changes. A
    first ingest into Milvus takes them from the index folder, when there is one: that is how an
    index moves to Milvus without embedding everything again."""
    fingerprint = settings.index_fingerprint(encoder.name)
    target = milvus.target_of(settings.vector_store)
    if target:
        try:
            found = milvus.verified(target, encoder.name, encoder.dimension, fingerprint)
        except IndexProblem:
            if not rebuild:
                raise
            found = None  # built another way, or damaged: everything is embedded again
        if found is not None:
            live = milvus.load(target, *found)
            return (None if rebuild else live), live
    elif store.exists(settings.index_dir) and not rebuild:
        live = store.open_index(settings.index_dir, encoder.name, encoder.dimension, fingerprint)
        return live, live
    if store.exists(settings.index_dir):
        try:
            return None, store.open_index(settings.index_dir, encoder.name, encoder.dimension, fingerprint)
        except UserError:
            pass  # damaged or built another way: everything is embedded again
    return None, None


def _ingest_locked(paths, settings: Settings, encoder: Encoder, rebuild: bool, progress: bool,
                   ray: str | None) -> IngestReport:
    fingerprint = settings.index_fingerprint(encoder.name)
    previous, donor = _live(settings, encoder, rebuild)

    report = IngestReport()
    found, problems = discover(list(paths))
    report.files += [FileOutcome(path, "skipped", reason) for path, reason in problems]

    loaded: dict[str, tuple[Document, str, str]] = {}  # doc_id -> (document, root, content hash)
    by_hash: dict[str, str] = {}
    kept_despite_failure: set[str] = set()
    outcomes: dict[str, FileOutcome] = {}
    for item in _progress(found, progress, "reading"):
        outcome = FileOutcome(item.label, "indexed")
        try:
            documents, note = load(item, settings.limits)
        except Skip as exc:
            outcome.status, outcome.reason = "skipped", str(exc)
            outcome.no_text = isinstance(exc, NoText)
            documents, note = [], ""
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not end the ingest
            outcome.status, outcome.reason = "failed", f"{type(exc).__name__}: {exc}"
            documents, note = [], ""
        if outcome.status != "indexed":
            stale = previous and previous.documents.get(item.doc_key)
            if stale:
                kept_despite_failure.add(stale.document.doc_id)
                outcome.reason += " (its previously indexed version is kept)"
        outcome.reason = outcome.reason or note
        outcome.ocr_pages = sum(len(doc.ocr_pages) for doc in documents)
        dupes = []
        for doc in documents:
            digest = content_hash(doc)
            if doc.doc_id in loaded:
                dupes.append(f"{doc.doc_id} (id already taken by {loaded[doc.doc_id][0].source})")
            elif digest in by_hash:
                dupes.append(f"{doc.doc_id} (same text as {by_hash[digest]})")
            else:
                by_hash[digest] = doc.doc_id
                loaded[doc.doc_id] = (doc, item.root, digest)
        if dupes and len(dupes) == len(documents):
            outcome.status, outcome.reason = "skipped", "duplicate: " + "; ".join(dupes)
        elif dupes:
            outcome.reason = "; ".join(filter(None, [outcome.reason, "duplicates skipped: " + "; ".join(dupes)]))
        outcomes[item.label] = outcome
        report.files.append(outcome)

    # Everything already indexed stays unless its file vanished from a folder ingested now.
    roots_now = {item.root for item in found} | {str(Path(p).resolve()) for p in paths if not is_url(p)}
    final: dict[str, tuple[Document, str, str]] = {}
    reuse: dict[str, StoredDocument] = {}
    if previous:
        for doc_id, stored in previous.documents.items():
            vanished = stored.root in roots_now and doc_id not in loaded and doc_id not in kept_despite_failure
            if vanished:
                report.removed += 1
            elif doc_id not in loaded:
                final[doc_id] = (stored.document, stored.root, stored.content_hash)
                reuse[doc_id] = stored
    for doc_id, (doc, root, digest) in loaded.items():
        final[doc_id] = (doc, root, digest)
        old = donor.documents.get(doc_id) if donor else None
        if old and old.content_hash == digest:
            reuse[doc_id] = old
            outcome = outcomes.get(doc.source)
            if outcome and outcome.status == "indexed":
                outcome.status = "unchanged"

    documents: dict[str, StoredDocument] = {}
    sentences: list[Sentence] = []
    vector_parts: list[np.ndarray] = []
    bar = _progress(None, progress, "splitting and embedding", "sentence")

    def embedded(count: int) -> None:
        report.embedded += count
        if bar is not None:
            bar.update(count)

    to_split = [doc for doc_id, (doc, _, _) in final.items() if doc_id not in reuse]
    if ray is None:
        splits = split_and_embed(to_split, settings, encoder, embedded)
    else:
        from qa.ray_ingest import split_and_embed_on_ray

        splits = split_and_embed_on_ray(to_split, settings, encoder.name, ray or None, embedded)
    with closing(splits) as fresh, \
            bar if bar is not None else nullcontext():
        for doc_id, (doc, root, digest) in final.items():
            if doc_id in reuse:
                old = reuse[doc_id]
                doc_sentences = donor.document_sentences(doc_id)
                doc_vectors = donor.vectors[old.first_row : old.first_row + old.rows]
            else:
                doc_sentences, doc_vectors = next(fresh)
                if not doc_sentences:
                    _mark(outcomes, doc, "skipped", "no sentences with words in it")
                    continue
            documents[doc_id] = StoredDocument(doc, root, digest, len(sentences), len(doc_sentences))
            sentences.extend(doc_sentences)
            vector_parts.append(doc_vectors)
            if doc.source in outcomes:
                outcomes[doc.source].sentences += len(doc_sentences)

    unchanged = previous is not None and not report.embedded and list(documents) == list(previous.documents)
    if not documents or unchanged:
        return _finish(report, previous)
    manifest = {
        "model": encoder.name,
        "dimension": encoder.dimension,
        "fingerprint": fingerprint,
        "settings": {"window": settings.window, "embed_title": settings.embed_title},
    }
    index = Index(manifest=manifest, documents=documents, sentences=sentences, vectors=np.concatenate(vector_parts))
    target = milvus.target_of(settings.vector_store)
    if target:
        bar = _progress(None, progress, f"writing to Milvus at {target}", "sentence")
        with bar if bar is not None else nullcontext():
            milvus.write(index, target, settings.ann_from, bar.update if bar is not None else lambda n: None)
    else:
        store.write(index, settings)
    return _finish(report, index)


def split_and_embed(
    docs: list[Document], settings: Settings, encoder: Encoder, embedded: Callable[[int], None] = lambda n: None
) -> Iterator[tuple[list[Sentence], np.ndarray]]:
    """Each document's sentences and their vectors, in the order given.

    Sentences are embedded a chunk at a time across documents as they come, so a worker splits
    the next documents meanwhile (sentences.split_all). `embedded` hears each chunk's size.
    """
    pending: list[tuple[list[Sentence], list[str]]] = []
    waiting = 0
    with closing(split_all(docs, settings.limits)) as splits:
        for doc, doc_sentences in zip(docs, splits):
            texts = [window_text(doc, doc_sentences, i, settings.window, settings.embed_title)
                     for i in range(len(doc_sentences))]
            pending.append((doc_sentences, texts))
            waiting += len(texts)
            if waiting >= EMBED_CHUNK:
                yield from _embed(pending, encoder, embedded)
                pending, waiting = [], 0
    yield from _embed(pending, encoder, embedded)


def _embed(pending, encoder: Encoder, embedded) -> Iterator[tuple[list[Sentence], np.ndarray]]:
    texts = [text for _, doc_texts in pending for text in doc_texts]
    vectors = encoder.encode(texts) if texts else np.zeros((0, encoder.dimension), dtype=np.float32)
    if texts:
        embedded(len(texts))
    cursor = 0
    for doc_sentences, doc_texts in pending:
        yield doc_sentences, vectors[cursor : cursor + len(doc_texts)]
        cursor += len(doc_texts)


def _finish(report: IngestReport, index: Index | None) -> IngestReport:
    if index is not None:
        report.documents, report.sentences = len(index.documents), len(index.sentences)
    return report


def _mark(outcomes: dict[str, FileOutcome], doc: Document, status: str, reason: str) -> None:
    outcome = outcomes.get(doc.source)
    if outcome is not None:
        outcome.status, outcome.reason = status, reason


def content_hash(doc: Document) -> str:
    parts = [doc.title, doc.text, ",".join(map(str, doc.page_starts))]
    if doc.regions:  # where each part came from (slide, row, message) is part of the content
        parts.append(json.dumps(doc.regions, sort_keys=True, ensure_ascii=False))
    key = "\x00".join(parts)
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()


def _progress(items, enabled: bool, label: str, unit: str = "file"):
    """`items` with a progress bar on stderr, or a bare bar to update by hand for items=None;
    without `enabled`, items as they are."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=label, unit=unit, file=sys.stderr)
