"""The ONNX encoder serves the same vectors as the torch model it was exported from; the int8
default stays close to them and is told apart from them in every index it builds."""

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


def test_onnx_vectors_match_torch():
    from qa.embedding import MiniLM, default_encoder

    fp32 = default_encoder("fp32")
    onnx = fp32.encode(SENTENCES, batch_size=3)  # two batches, of unequal lengths
    torch = MiniLM()
    vectors = torch.encode(SENTENCES)
    assert onnx.shape == vectors.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    assert (onnx * vectors).sum(axis=1).min() > 0.9999
    assert torch.name == fp32.name  # so indexes built by either are served by the other


def test_int8_document_encoder_is_close_to_fp32_but_named_apart():
    from qa.embedding import default_encoder
    from qa.settings import Settings

    encoder = default_encoder(Settings().embedding)
    assert encoder.int8  # the default for documents
    fp32 = default_encoder("fp32").encode(SENTENCES)
    int8 = encoder.encode(SENTENCES)
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosine = (int8 * fp32).sum(axis=1)
    assert cosine.min() > 0.98 and cosine.mean() > 0.99
    # One text per run: its vector does not depend on what else is embedded with it.
    assert np.allclose(encoder.encode(SENTENCES[:1]), int8[:1], atol=1e-6)
    assert not np.allclose(int8, fp32, atol=1e-3)  # really quantized, so really another model
    assert encoder.name != default_encoder("fp32").name


def test_answering_reads_sentences_in_the_int8_variant_of_the_question_model(assistant):
    from qa.embedding import default_encoder, sentence_encoder

    # Each candidate's own vector is made while the user waits: by the int8 variant.
    evidence = assistant.evidence("What did the US rule out?", []).evidence
    own = default_encoder("int8").encode([e.hit.sentence.text for e in evidence])
    assert np.allclose(np.stack([e.vector for e in evidence]), own, atol=1e-6)
    assert not np.allclose(default_encoder("fp32").encode([evidence[0].hit.sentence.text]), own[:1], atol=1e-3)

    class OtherModel:  # an encoder of another model: its question vectors fit only its own
        name, dimension = "another model", 384

    other = OtherModel()
    assert sentence_encoder(other) is other


def test_an_index_is_updated_with_its_document_encoder_and_queried_at_full_precision(tmp_path):
    from qa.assistant import Assistant
    from qa.ingest import ingest
    from qa.settings import Settings
    from qa.store import recorded_model

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The Eiffel Tower was completed in 1889 for the World's Fair.\n")
    fp32 = Settings(index_dir=tmp_path / "index", embedding="fp32")
    ingest([docs], fp32)
    built_with = recorded_model(fp32.index_dir)
    assert "int8" not in built_with

    default = Settings(index_dir=fp32.index_dir)  # int8 documents for new indexes
    answer = Assistant(default).ask("When was the Eiffel Tower completed?")
    assert not answer.abstained and "1889" in answer.answer
    (docs / "b.txt").write_text("The Louvre opened in 1793.\n")
    report = ingest([docs], default)  # an update: the unchanged file is not embedded again
    assert report.embedded == 1 and recorded_model(fp32.index_dir) == built_with

    ingest([docs], default, rebuild=True)
    assert "int8" in recorded_model(fp32.index_dir)
    assert "1793" in Assistant(default).ask("When did the Louvre open?").answer


def test_order_is_kept_when_batching_by_length():
    from qa.embedding import default_encoder

    encoder = default_encoder("fp32")
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
