"""The command line the tuning tools share (eval/calibrate.py, eval/retrieval.py): gold questions,
an index, and a split that is never test."""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.evaluate import tuning_split


def tuning_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the gold questions, --index, --split (train or dev; test is refused) and
    --distractor; the tool adds its own arguments after these."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("gold", type=Path)
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--split", type=tuning_split, default="dev", help="train or dev (default dev); never test")
    parser.add_argument("--distractor", action="store_true")
    return parser
