"""The ONNX encoder serves the same vectors as the torch model it was exported from."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

SENTENCES = [
    "US to Back Ukraine's Postwar Security.",
    "The Eiffel Tower was completed in 1889 for the World's Fair.",
    "short",
    "A much longer sentence about a treaty, signed in Geneva by twelve countries after two years of talks. " * 3,
]


def test_onnx_vectors_match_torch(encoder):
    from qa.embedding import MiniLM, OnnxMiniLM

    assert isinstance(encoder, OnnxMiniLM)  # the default
    onnx = encoder.encode(SENTENCES, batch_size=3)  # two batches, of unequal lengths
    torch = MiniLM().encode(SENTENCES)
    assert onnx.shape == torch.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * torch).sum(axis=1).min() > 0.9999
    assert MiniLM.name == OnnxMiniLM.name  # so indexes built by either are served by the other


def test_order_is_kept_when_batching_by_length(encoder):
    together = encoder.encode(SENTENCES, batch_size=2)
    alone = np.stack([encoder.encode([s])[0] for s in SENTENCES])
    assert np.allclose(together, alone, atol=1e-5)
    assert encoder.encode([]).shape == (0, 384)


def test_encoding_a_query_does_not_import_torch(encoder):
    code = (
        "import sys; from qa.embedding import OnnxMiniLM; OnnxMiniLM().encode(['hello']); "
        "print([m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
