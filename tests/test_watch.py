"""`qa ingest --watch`: a file added to the watched folder is indexed without another command."""

from __future__ import annotations

import threading
import time

from qa import store
from qa.settings import Settings
from qa.watch import watch


def indexed(index_dir) -> set[str]:
    if not store.exists(index_dir):
        return set()
    folder = index_dir / (index_dir / "CURRENT").read_text().strip()
    return {line.split('"doc_id": "')[1].split('"')[0] for line in (folder / "documents.jsonl").read_text().splitlines()}


def wait_for(condition, seconds: float = 120) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.5)
    return False


def test_added_and_removed_files_are_picked_up(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "first.txt").write_text("The first note is about tides.\n")
    settings = Settings(index_dir=tmp_path / "index")
    stop = threading.Event()
    worker = threading.Thread(target=watch, args=([docs], settings), kwargs={"progress": False, "stop": stop})
    worker.start()
    try:
        assert wait_for(lambda: indexed(settings.index_dir) == {"first.txt"})
        time.sleep(1)  # the watcher is running once the first round is written
        (docs / "second.md").write_text("The second note is about currents.\n")
        (docs / "ignored.bin").write_bytes(b"\0")
        assert wait_for(lambda: indexed(settings.index_dir) == {"first.txt", "second.md"})
        (docs / "first.txt").unlink()
        assert wait_for(lambda: indexed(settings.index_dir) == {"second.md"})
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive()
