"""Web pages from a server on 127.0.0.1: main text, robots.txt, limits, errors, incremental re-ingest."""

from __future__ import annotations

import socket
import time

import pytest
from loopback import ARTICLE, serving

from qa.documents import Found, Skip, discover, load
from qa.ingest import ingest
from qa.settings import Limits, Settings

PAGES = {
    "/keepers.html": (200, "text/html; charset=utf-8", ARTICLE.encode()),
    "/report.pdf": (200, "application/pdf", b"%PDF-1.4 ..."),
    "/private/secret.html": (200, "text/html", b"<p>Staff only.</p>"),
    "/big.html": (200, "text/html", b"<p>" + b"word " * 400_000 + b"</p>"),
    "/notes.txt": (200, "text/plain; charset=utf-8", "Plain notes: the tide turns at noon.\n".encode()),
}


@pytest.fixture(scope="module")
def site():
    with serving(PAGES) as url:
        yield url


def fetch(url: str, limits: Limits = Limits()):
    return load(Found(None, None, None, url=url), limits)


def test_main_text_title_and_fetch_time(site):
    [doc], note = fetch(f"{site}/keepers.html")
    assert doc.doc_id == doc.source == f"{site}/keepers.html" and not note
    assert doc.title == "Lighthouse keepers of Hordaland" and "Olsen family" in doc.text
    assert doc.locator_at(doc.text.index("Olsen")) == {"url": f"{site}/keepers.html"}
    assert doc.fetched.endswith("+00:00")
    [plain], _ = fetch(f"{site}/notes.txt")
    assert plain.text == "Plain notes: the tide turns at noon.\n"


@pytest.mark.parametrize("path, limits, reason", [
    ("/missing.html", Limits(), "HTTP 404 Not Found"),
    ("/report.pdf", Limits(), "not a web page (content type application/pdf)"),
    ("/private/secret.html", Limits(), "robots.txt of 127.0.0.1:"),
    ("/big.html", Limits(page_bytes=100_000), "larger than the 100 kB limit"),
    ("/never-ends", Limits(page_seconds=2), "took longer than 2 s to download (stopped)"),
    ("/silent", Limits(page_seconds=1), "no response within 1 s"),
])
def test_bad_pages_are_refused_with_a_reason_in_bounded_time(site, path, limits, reason):
    began = time.monotonic()
    with pytest.raises(Skip, match=reason.replace("(", r"\(").replace(")", r"\)")):
        fetch(site + path, limits)
    assert time.monotonic() - began < limits.page_seconds * 2 + 5


def test_unreachable_site():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(Skip, match="could not be fetched"):
        fetch(f"http://127.0.0.1:{port}/page.html")


def test_a_list_of_addresses(tmp_path, site):
    listing = tmp_path / "reading.urls"
    listing.write_text(f"# my reading list\n{site}/keepers.html\n\nnot-a-url\n{site}/notes.txt\n")
    found, problems = discover([listing])
    assert [f.url for f in found] == [f"{site}/keepers.html", f"{site}/notes.txt"]
    assert problems == [(f"{listing}:4", "not a web address (http:// or https://)")]


def test_reingest_is_incremental_by_content(tmp_path, encoder):
    pages = {"/news.html": (200, "text/html", b"<html><body><p>The ferry to Hirtshals is cancelled today.</p></body></html>")}
    settings = Settings(index_dir=tmp_path / "index")
    with serving(pages) as url:
        first = ingest([f"{url}/news.html", f"{url}/gone.html"], settings, encoder=encoder)
        assert [f.status for f in first.files] == ["indexed", "skipped"] and first.embedded == 1
        assert first.files[1].reason == "HTTP 404 Not Found" and first.files[1].path == f"{url}/gone.html"
        again = ingest([f"{url}/news.html"], settings, encoder=encoder)
        assert [f.status for f in again.files] == ["unchanged"] and again.embedded == 0
        pages["/news.html"] = (200, "text/html", b"<html><body><p>The ferry to Hirtshals sails again.</p></body></html>")
        changed = ingest([f"{url}/news.html"], settings, encoder=encoder)
        assert [f.status for f in changed.files] == ["indexed"] and changed.embedded == 1
