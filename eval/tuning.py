"""The command line the tuning tools share (eval/calibrate.py, eval/retrieval.py): gold questions,
an index, and a split that is never test."""

from __future__ import annotations

import argparse
from pathlib import Path

from qa import milvus
from qa.evaluate import tuning_split
from qa.settings import Settings


def tuning_parser(description: str) -> argparse.ArgumentParser:
    """A parser with the gold questions, --index and --store (as qa's flags: an index folder, or
    wholly in Milvus), --split (train or dev; test is refused) and --distractor; the tool adds its
    own arguments after these. `tuning_settings` turns its answers into settings."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("gold", type=Path)
    parser.add_argument("--index", type=Path, default=None, metavar="DIR",
                        help="index folder (required unless --store names Milvus)")
    parser.add_argument("--store", default=None, metavar="STORE",
                        help="where the index lives, as qa ingest/ask --store: faiss (the --index folder, the "
                             "default) or wholly in Milvus: milvus://HOST:PORT[/NAME] or PATH.db (Milvus Lite)")
    parser.add_argument("--split", type=tuning_split, default="dev", help="train or dev (default dev); never test")
    parser.add_argument("--distractor", action="store_true")
    return parser


def tuning_settings(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Settings:
    """The settings the parsed --index and --store name (defaults < config file < environment < these)."""
    settings = Settings.load(index_dir=args.index, vector_store=args.store)
    if args.index is None and not milvus.target_of(settings.vector_store):
        parser.error("--index is required unless --store names Milvus (milvus://HOST:PORT or PATH.db)")
    return settings
