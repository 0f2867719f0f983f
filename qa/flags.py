"""The flags every command that answers or ingests takes, and the settings they give.

Commands live in several modules (qa/cli.py, qa/evaluate.py, qa/slack.py, qa/feedback.py); they
all build their flags and settings here, so `--config`, `--set`, `--index` mean the same to each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from qa.errors import UserError
from qa.settings import Resolved, Settings, resolve


def add_index_flags(p: argparse.ArgumentParser) -> None:
    """The flags every command that builds settings takes (see `settings_from`)."""
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="settings file (default: ./groundqa.toml when present, or env QA_CONFIG)")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="set_",
                   help="any setting, e.g. --set top_k=20 (repeatable; `qa config` lists them)")
    p.add_argument("--index", type=Path, default=None, metavar="DIR", help="index folder (default: index/default)")
    p.add_argument("--store", default=None, metavar="STORE",
                   help="where the index lives: faiss (an index folder, the default) or wholly in Milvus: "
                        "milvus://HOST:PORT[/NAME] or PATH.db (Milvus Lite), no folder needed; env QA_STORE")


def add_answerer_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--answerer", choices=["extractive", "openai", "gguf"], default=None,
                   help="extractive (default, no LLM), openai (QA_LLM_BASE_URL, QA_LLM_MODEL) or gguf (QA_GGUF_PATH)")


def settings_from(args) -> Settings:
    return resolved_from(args).settings


def resolved_from(args) -> Resolved:
    """The settings a command runs with: defaults < config file < environment < flags."""
    flags = {"index_dir": getattr(args, "index", None), "vector_store": getattr(args, "store", None),
             "answerer": getattr(args, "answerer", None)}
    for item in getattr(args, "set_", None) or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UserError(f"--set {item!r}: write it as NAME=VALUE, e.g. --set top_k=20")
        flags[name.strip()] = value
    return resolve(getattr(args, "config", None), flags)
