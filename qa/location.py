"""Where the index a Settings names lives: a folder (qa/store.py) or, with a Milvus store, wholly
in Milvus (qa/milvus.py). Front ends and the ingest ask here, so neither cares which."""

from __future__ import annotations

from pathlib import Path

from qa import milvus, store
from qa.milvus import MilvusIndex, MilvusRetriever
from qa.retrieve import Retriever
from qa.settings import Settings
from qa.store import Index


def describe(settings: Settings) -> str:
    """The index as messages name it."""
    target = milvus.target_of(settings.vector_store)
    return f"Milvus at {target}" if target else str(settings.index_dir)


def exists(settings: Settings) -> bool:
    target = milvus.target_of(settings.vector_store)
    return milvus.exists(target) if target else store.exists(Path(settings.index_dir))


def recorded_model(settings: Settings) -> str | None:
    """The model the live index was built with, unverified; None when there is none."""
    target = milvus.target_of(settings.vector_store)
    return milvus.recorded_model(target) if target else store.recorded_model(Path(settings.index_dir))


def generation(settings: Settings) -> str:
    """A cheap name for the live generation ("" when none), to notice that an ingest swapped it."""
    target = milvus.target_of(settings.vector_store)
    if target:
        return milvus.live_collection(target) or ""
    try:
        return (Path(settings.index_dir) / "CURRENT").read_text().strip()
    except OSError:
        return ""


def open_live(settings: Settings, model: str, dimension: int) -> Index | MilvusIndex:
    """The live index, verified against the model and the settings that shape it."""
    fingerprint = settings.index_fingerprint(model)
    target = milvus.target_of(settings.vector_store)
    if target:
        return milvus.open_index(target, model, dimension, fingerprint)
    return store.open_index(Path(settings.index_dir), model, dimension, fingerprint)


def retriever_for(index: Index | MilvusIndex, encoder, settings: Settings) -> Retriever | MilvusRetriever:
    """What searches `index`: the engine's own hybrid search in Milvus, FAISS and bm25s here."""
    if isinstance(index, MilvusIndex):
        return MilvusRetriever(index, encoder, settings)
    return Retriever(index, encoder, settings)
