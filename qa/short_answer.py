"""The short answer: the words inside a cited sentence that answer the question ("Which
publication broke the story?" → "Financial Times" in "The plan was first reported by the
Financial Times on August 26.").

A whole cited sentence makes the reader hunt for the answer in it. An extractive span model
reads the question and the sentence together and scores every token as the answer's first and
as its last; the best span (start ≤ end, at most MAX_SPAN tokens, inside the sentence, never in
the "title: " prefix that passage() adds) is the answer, and softmax(start) × softmax(end) its
probability. No such model ships in any package reachable here, so this one is trained by
eval/train_short_answer.py from the packaged all-MiniLM-L6-v2 weights on the train/dev splits
of SQuAD 2.0 and HotpotQA, exported to ONNX, quantized to int8 and shipped in the package
(qa/models/). It reads the same input as the reader (qa/reader.py) and shares its loading and
file checks; queries never import torch.

The model was trained only on sentences that contain the answer, so a low probability means
"no clear answer words here": `pick` returns None below the `lead_threshold` in
`short-answer.json`, which eval/train_short_answer.py chose on held-out questions so that the
shown short answers overlap the gold answer (token F1 ≥ 0.5) at least 85% of the time.
The trade-off is coverage: trained on 1,153 examples, the shipped model leads with a short
answer for only about 29% of held-out sentences that do hold the answer (its token F1 there 0.61
on SQuAD, 0.47 on HotpotQA; the JSON records the figures and the whole threshold table). It also
finds the right words below the threshold ("Financial Times" at 0.17): those are not shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from qa.reader import PackagedModel, ReaderError, passage

FORMAT = "question | title: sentence -> start/end token logits (v1)"
# The longest answer considered, in tokens: SQuAD's and HotpotQA's answers are names, dates and
# short phrases; a longer "answer" is a clause, which the cited sentence shows anyway.
MAX_SPAN = 30
# Trimmed from both ends of a span: quotes, brackets and commas are not part of the answer
# (unless their partner is).
_STRIP = set(" \t\n\r\v\f" + ".,;:\"'()[]{}<>“”‘’«»–—…-*_/\\|`~")
_PAIRS = {"(": ")", "[": "]", "“": "”", "‘": "’", '"': '"'}
_OPENERS = {close: open_ for open_, close in _PAIRS.items()}


class ShortAnswerError(ReaderError):
    """The shipped short-answer model cannot be used (missing or damaged file)."""


def model_files() -> tuple[Path, Path]:
    folder = resources.files("qa") / "models"
    return Path(str(folder / "short-answer-int8.onnx")), Path(str(folder / "short-answer.json"))


@dataclass(frozen=True)
class Pick:
    """A short answer: `sentence[start:end] == text`, character offsets into the sentence."""

    start: int
    end: int
    text: str
    probability: float


def best_span(logits: np.ndarray, allowed: np.ndarray, inside: np.ndarray) -> tuple[int, int, float]:
    """The most probable span (first token, last token, probability) of one input.

    `logits` is (tokens, 2): start and end. The softmax runs over the `allowed` tokens (the
    passage, as in training); the span lies within the `inside` ones (the sentence). Shared by
    training's held-out figures and the shipped model, so both decode alike. (-1, -1, 0.0) when
    no token is inside.
    """
    if not inside.any():
        return -1, -1, 0.0
    probabilities = []
    for column in (0, 1):
        scores = np.where(allowed, logits[:, column].astype(np.float64), -np.inf)
        scores = np.exp(scores - scores.max())
        probabilities.append(scores / scores.sum())
    start, end = (np.where(inside, p, 0.0) for p in probabilities)
    grid = np.triu(np.outer(start, end)) - np.triu(np.outer(start, end), MAX_SPAN)
    first, last = np.unravel_index(int(np.argmax(grid)), grid.shape)
    return int(first), int(last), float(grid[first, last])


def token_masks(offsets: list[tuple[int, int]], type_ids: list[int], prefix: int) -> tuple[np.ndarray, np.ndarray]:
    """(allowed, inside) for best_span: the passage's tokens (the second text, no [SEP]), and of
    those the ones at or after `prefix`, the length of the "title: " that passage() put before the
    sentence. Offsets are into the passage, as the tokenizer gives them for a pair's second text."""
    allowed = np.array([t == 1 and b > a for (a, b), t in zip(offsets, type_ids)], dtype=bool)
    inside = allowed & np.array([a >= prefix for a, _ in offsets], dtype=bool)
    return allowed, inside


def trimmed(sentence: str, start: int, end: int) -> tuple[int, int]:
    """The span without surrounding punctuation and spaces. A bracket or quote stays when its
    partner is inside the span ("in (1889)", "“Reuters” and “AP”"), a final period when another
    is ("U.S."); a pair around the whole span goes ("(1889)" → "1889")."""
    while start < end:
        first, last, inner = sentence[start], sentence[end - 1], sentence[start:end]
        if first in _STRIP and not (first in _PAIRS and _PAIRS[first] in inner[1:]):
            start += 1
        elif last in _STRIP and not (last in _OPENERS and _OPENERS[last] in inner[:-1]) \
                and not (last == "." and "." in inner[:-1]):
            end -= 1
        elif first in _PAIRS and last == _PAIRS[first] and inner.count(first) + inner.count(last) == 2 + 2 * (first == last):
            start, end = start + 1, end - 1
        else:
            break
    return start, end


def span_of(sentence: str, prefix: int, offsets: list[tuple[int, int]], type_ids: list[int],
            logits: np.ndarray) -> Pick | None:
    """The best span of one tokenized (question, passage) pair as a Pick into `sentence`, which
    starts `prefix` characters into the passage; None when nothing is left once trimmed."""
    allowed, inside = token_masks(offsets, type_ids, prefix)
    first, last, probability = best_span(logits[: len(offsets)], allowed, inside)
    if first < 0:
        return None
    start, end = trimmed(sentence, offsets[first][0] - prefix, offsets[last][1] - prefix)
    if start >= end:
        return None
    return Pick(start, end, sentence[start:end], probability)


class ShortAnswers(PackagedModel):
    """Finds the answer words in a sentence; one onnxruntime session, loaded on first use, safe to
    share between threads (onnxruntime's run is)."""

    NOUN = "short-answer reader"
    FORMAT = FORMAT
    SCRIPT = "eval/train_short_answer.py"
    Error = ShortAnswerError

    def __init__(self, onnx_file: Path | None = None, meta_file: Path | None = None) -> None:
        onnx_file = onnx_file or model_files()[0]
        super().__init__(onnx_file, meta_file or onnx_file.with_name("short-answer.json"))

    @property
    def lead_threshold(self) -> float:
        self.warm_up()
        return float(self.meta["lead_threshold"])

    def pick(self, question: str, title: str, sentence: str) -> Pick | None:
        """The short answer to lead with, or None when the model is not sure enough (below the
        calibrated `lead_threshold`) or finds only punctuation."""
        best = self.best(question, title, sentence)
        if best is None or best.probability < self.lead_threshold:
            return None
        return best

    def best(self, question: str, title: str, sentence: str) -> Pick | None:
        """The most probable span whatever its probability; None only when it is empty once
        trimmed (or the sentence is cut off by MAX_TOKENS before it starts)."""
        session = self.warm_up()
        text = passage(title, sentence)
        if not text.endswith(sentence):  # passage() only ever puts a title before the sentence
            raise ValueError("passage() changed the sentence; the short answer's offsets would be wrong")
        encoding = self._tokenizer.encode(question, text)
        logits = session.run(None, self.feed(encoding))[0][0]
        return span_of(sentence, len(text) - len(sentence), encoding.offsets, encoding.type_ids, logits)
