"""Shared fixtures: the real packaged model and the real sample corpus, built once per session."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
GROUND_TROOPS = {"000_03cab0ef675863a0.txt": 6, "001_7b5fe780b854878b.txt": 9}


@pytest.fixture(scope="session")
def encoder():
    from qa.embedding import default_encoder

    from qa.settings import Settings

    model = default_encoder(Settings().embedding)  # what embeds documents (questions: fp32)
    model.warm_up()
    return model


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, encoder) -> Path:
    """An index of the sample corpus. Tests must not modify it: copy it (see `index_copy`)."""
    from qa.ingest import ingest
    from qa.settings import Settings

    index_dir = tmp_path_factory.mktemp("sample") / "index"
    ingest([CORPUS], Settings(index_dir=index_dir), encoder=encoder)
    return index_dir


@pytest.fixture
def index_copy(sample_index, tmp_path) -> Path:
    target = tmp_path / "index"
    shutil.copytree(sample_index, target, ignore=shutil.ignore_patterns(".lock"))
    return target


@pytest.fixture(scope="session")
def assistant(sample_index):
    """As the front ends make it: questions embedded at full precision."""
    from qa.assistant import Assistant
    from qa.settings import Settings

    return Assistant(Settings(index_dir=sample_index))


def add_change_and_remove(corpus: Path) -> None:
    """One of each update an incremental ingest must handle, on a copy of the sample corpus: a new
    note (2 sentences), an article with one sentence changed (16 sentences), the other removed."""
    (corpus / "notes.md").write_text("# Notes\nThe zebra migration starts in July.\n")
    changed = corpus / "000_03cab0ef675863a0.txt"
    changed.write_text(changed.read_text().replace("ground troops", "naval forces"))
    (corpus / "001_7b5fe780b854878b.txt").unlink()


def keeps_answering_while(ingesting, assistant) -> None:
    """Runs `ingesting()` in a thread and asks `assistant` the sample question until it is done
    (three times at least): every answer must still name ground troops, and the ingest must not fail."""
    errors: list[BaseException] = []
    done = threading.Event()

    def in_background():
        try:
            ingesting()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=in_background)
    worker.start()
    answered = 0
    while not done.is_set() or answered < 3:
        assert "ground troops" in assistant.ask("What did the US rule out?").answer
        answered += 1
    worker.join()
    assert not errors


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    target = tmp_path / "docs"
    shutil.copytree(CORPUS, target)
    return target
