"""The reader: a cross-encoder that reads a question and one sentence together and scores how
likely the sentence states (part of) the answer.

Cosine and word overlap judge a sentence by its resemblance to the question, so they miss a
paraphrase ("Which publication broke the story?" / "…the Financial Times reported") and rate a
near miss (the right subject, another fact) highly. A cross-encoder attends across both texts at
once. No such model ships in any package reachable here, so this one is trained by
eval/train_reader.py from the packaged all-MiniLM-L6-v2 weights on the train/dev splits of the
benchmarks, exported to ONNX, quantized to int8 and shipped in the package (qa/models/). It
runs with onnxruntime and the packaged model's tokenizer: queries never import torch.

`reader.json` beside the weights names the base model, the training data, the seed, the dev
figures and the file's sha256 (a file that does not match it is refused), and the calibration
that eval/calibrate_reader.py fitted on held-out dev questions: a logistic combination of the
reader's logit with resemblance (qa/support.py's FEATURES), read as the chance that the documents
answer the question when this is their best sentence, and the answerer's thresholds on that scale.
"""

from __future__ import annotations

import json
import os
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from qa.errors import UserError
from qa.files import sha256_of

# Question plus sentence (with its document's title): long enough for nearly every benchmark
# pair; a longer sentence is cut, never the question.
MAX_TOKENS = 160
FORMAT = "question | title: sentence (v1)"


def passage(title: str, sentence: str) -> str:
    """The second text the reader sees: the sentence after its document's title, which names
    the subject a sentence like "He was born in Ohio." leaves out. A headline-like title that
    is the sentence itself is not repeated."""
    title = " ".join(title.split())
    if not title or sentence.strip().startswith(title):
        return sentence
    return f"{title}: {sentence}"


def combined(features: np.ndarray, combination: dict) -> np.ndarray:
    """The logistic combination of feature rows that eval/calibrate_reader.py fitted."""
    return 1.0 / (1.0 + np.exp(-(features @ np.asarray(combination["weights"]) + combination["bias"])))


_shared: dict[tuple[type, Path], PackagedModel] = {}
_shared_lock = threading.Lock()


class ReaderError(UserError):
    """The shipped reader cannot be used (missing or damaged file)."""


def model_files() -> tuple[Path, Path]:
    folder = resources.files("qa") / "models"
    return Path(str(folder / "reader-int8.onnx")), Path(str(folder / "reader.json"))


class PackagedModel:
    """What the shipped ONNX readers share (this one and qa/short_answer.py's): the description
    beside the weights is checked before the weights are trusted (its input format, then the
    file's sha256), one onnxruntime session and the packaged tokenizer are loaded on first use
    under a lock, and a missing or damaged file is refused with what to do. A subclass names
    itself, its format, its error and the script that trains it."""

    NOUN: str
    FORMAT: str
    SCRIPT: str
    Error: type[UserError]

    def __init__(self, onnx_file: Path, meta_file: Path) -> None:
        self.onnx_file = onnx_file
        self.meta_file = meta_file
        self._session = None
        self._tokenizer = None
        self.meta: dict = {}
        self._lock = threading.Lock()

    def warm_up(self):
        with self._lock:
            if self._session is None:
                self.meta = self._checked_meta()
                import onnxruntime
                from tokenizers import Tokenizer

                from qa.embedding import model_path, offline

                offline()
                options = onnxruntime.SessionOptions()
                options.log_severity_level = 3
                options.intra_op_num_threads = 1
                try:
                    self._session = onnxruntime.InferenceSession(
                        str(self.onnx_file), options, providers=["CPUExecutionProvider"])
                except Exception as exc:  # onnxruntime raises its own untyped errors
                    raise self.Error(f"The {self.NOUN} model {self.onnx_file} cannot be loaded ({exc}); "
                                     f"reinstall groundqa or run {self.SCRIPT} again.") from exc
                tokenizer = Tokenizer.from_file(str(model_path() / "tokenizer.json"))
                tokenizer.enable_truncation(MAX_TOKENS, strategy="only_second")
                tokenizer.no_padding()
                self._tokenizer = tokenizer
        return self._session

    @staticmethod
    def feed(encoding) -> dict[str, np.ndarray]:
        """One tokenized pair as the exported model's three inputs (a batch of one)."""
        ids = np.array([encoding.ids], dtype=np.int64)
        return {"input_ids": ids, "attention_mask": np.ones_like(ids),
                "token_type_ids": np.array([encoding.type_ids], dtype=np.int64)}

    @classmethod
    def shared(cls, onnx_file: Path):
        """One model per class, file and process: the web app, eval and CLI share its weights."""
        with _shared_lock:
            if (cls, onnx_file) not in _shared:
                _shared[(cls, onnx_file)] = cls(onnx_file)
            return _shared[(cls, onnx_file)]

    def _checked_meta(self) -> dict:
        try:
            meta = json.loads(self.meta_file.read_text())
        except (OSError, ValueError) as exc:
            raise self.Error(f"The {self.NOUN}'s description {self.meta_file} is missing or unreadable ({exc}); "
                             f"reinstall groundqa or run {self.SCRIPT} again.") from exc
        if meta.get("format") != self.FORMAT:
            raise self.Error(f"The {self.NOUN} in {self.onnx_file} was trained for input {meta.get('format')!r}, "
                             f"this version reads {self.FORMAT!r}: run {self.SCRIPT} again.")
        try:
            actual = sha256_of(self.onnx_file)
        except OSError as exc:
            raise self.Error(f"The {self.NOUN} model {self.onnx_file} is missing ({exc}); "
                             "reinstall groundqa.") from exc
        if actual != meta.get("sha256"):
            raise self.Error(f"The {self.NOUN} model {self.onnx_file} is damaged (its checksum does not match "
                             f"{self.meta_file.name}); reinstall groundqa or run {self.SCRIPT} again.")
        return meta


class Reader(PackagedModel):
    """Scores (question, sentence) pairs; probabilities in 0..1, comparable across questions.

    One onnxruntime session, loaded on first use. Each pair runs alone, the pairs shared out
    among one thread per core. Dynamic int8 quantization scales activations per run, so in a
    padded batch a pair's score moved with its batch-mates (by up to 0.4 logit on the sample
    corpus): the same sentence scored differently with other sentences retrieved beside it, or
    on a machine with another number of cores. Alone, a score depends on its pair only, as the
    probes in reader.json were scored; and ten short runs took less time than two padded batches.
    """

    NOUN = "reader"
    FORMAT = FORMAT
    SCRIPT = "eval/train_reader.py"
    Error = ReaderError

    def __init__(self, onnx_file: Path | None = None, meta_file: Path | None = None) -> None:
        onnx_file = onnx_file or model_files()[0]
        super().__init__(onnx_file, meta_file or onnx_file.with_name("reader.json"))

    def support(self, features: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
        """Calibrated support from the reader's logit and resemblance (qa/support.py's FEATURES),
        by the weights eval/calibrate_reader.py fitted."""
        combination = self.calibration().get("support")
        if combination is None:  # not yet fitted: the reader alone
            return 1.0 / (1.0 + np.exp(-features[:, 0]))
        if tuple(combination["features"]) != names:
            raise ReaderError(f"{self.meta_file} was calibrated on features {combination['features']}, this version "
                              f"computes {list(names)}: run eval/calibrate_reader.py again.")
        return combined(features, combination)

    def calibration(self) -> dict:
        self.warm_up()
        return self.meta.get("calibration") or {}

    def score(self, question: str, passages: list[str]) -> np.ndarray:
        """The probability that each passage states (part of) the answer to `question`."""
        if not passages:
            return np.zeros(0, dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-self.logits(question, passages)))

    def logits(self, question: str, passages: list[str]) -> np.ndarray:
        session = self.warm_up()
        out = np.zeros(len(passages), dtype=np.float32)
        encodings = self._tokenizer.encode_batch([(question, p) for p in passages])

        def run(rows: range) -> None:
            for i in rows:
                out[i] = session.run(None, self.feed(encodings[i]))[0].reshape(-1)[0]

        from qa.embedding import side_by_side

        cores = min(len(os.sched_getaffinity(0)), len(passages))
        side_by_side(run, [range(core, len(passages), cores) for core in range(cores)], "reader")
        return out
