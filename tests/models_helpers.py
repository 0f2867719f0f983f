"""Broken copies of a shipped ONNX model's files, for the tests that the packaged models
(test_reader.py, test_short_answer.py) refuse them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def damaged_copy(onnx_file: Path, folder: Path) -> Path:
    """A copy of the weights in `folder` with 64 bytes zeroed at offset 1000 (its sha256 no longer
    matches the description's)."""
    damaged = folder / onnx_file.name
    shutil.copy(onnx_file, damaged)
    with open(damaged, "r+b") as f:
        f.seek(1000)
        f.write(b"\x00" * 64)
    return damaged


def other_format_copy(meta_file: Path, folder: Path) -> Path:
    """A copy of the description in `folder` that says the model was trained for another input."""
    meta = json.loads(meta_file.read_text())
    meta["format"] = "something older"
    other = folder / meta_file.name
    other.write_text(json.dumps(meta))
    return other
