"""Start app.py as a real server on a free loopback port, and drive it with headless Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from conftest import ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(index_dir, *extra, env=None):
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--index", str(index_dir), "--port", str(port), *map(str, extra)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(f"app exited: {process.stdout.read()}")
            with contextlib.suppress(OSError):
                urllib.request.urlopen(url, timeout=2)
                break
            time.sleep(0.5)
        else:
            raise AssertionError("app did not start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Uvicorn:
    """uvicorn serving an ASGI `app` (the HTTP API) on a free loopback port, in a thread of this process."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            raise AssertionError(f"{CHROMIUM} is missing: make test installs it (scripts/install-browser.sh)")
        pytest.skip(f"{CHROMIUM} is not installed (bash scripts/install-browser.sh)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def ask(page, question: str, expect: str, timeout_ms: int = 60_000) -> None:
    """Send a question and wait until its answer, containing `expect`, is complete."""
    answers = page.locator('[data-testid="bot"]')
    before = answers.count()
    box = page.get_by_placeholder("Ask about the documents…")
    box.fill(question)
    box.press("Enter")
    page.wait_for_function(
        "([n, text]) => { const bots = document.querySelectorAll('[data-testid=\"bot\"]');"
        " return bots.length > n && bots[bots.length - 1].innerText.includes(text); }",
        arg=[before, expect], timeout=timeout_ms,
    )
    # The sources panel arrives with the last streamed piece; the chat is idle once it has.
    page.wait_for_function("() => !document.querySelector('.generating, .pending')", timeout=timeout_ms)
