"""Web pages -> Documents: fetched with httpx, main text extracted by trafilatura, robots.txt obeyed.

A page is bounded in size (Limits.page_bytes) and in time from request to last byte
(Limits.page_seconds), so a page that never ends is stopped. Its document is cited by its URL and
records when it was fetched; that time is not part of its content, so fetching an unchanged page
again re-embeds nothing.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from qa.loaders import NoText, Skip, decode, html_to_text
from qa.settings import Limits
from qa.types import Document

AGENT = "groundqa"
USER_AGENT = f"{AGENT}/0.1 (document indexer; obeys robots.txt)"
_PAGE_TYPES = {"text/html", "application/xhtml+xml", "text/plain"}
ROBOTS_SECONDS = 3600  # a site's robots.txt is read again after this long (a watching ingest runs for days)
_robots: dict[str, tuple[float, RobotFileParser]] = {}  # site -> (when read, its rules)


def read_url(url: str, limits: Limits) -> tuple[list[Document], str]:
    import httpx

    timeout = httpx.Timeout(limits.page_seconds)
    try:
        with httpx.Client(follow_redirects=True, max_redirects=5, timeout=timeout,
                          headers={"User-Agent": USER_AGENT}) as client:
            if not _allowed(client, url, limits):
                raise Skip(f"robots.txt of {urlsplit(url).netloc} does not allow fetching this page")
            body, content_type = _get(client, url, limits, "page")
    except httpx.TimeoutException:
        raise Skip(f"no response within {limits.page_seconds:.0f} s (stopped)") from None
    except httpx.TooManyRedirects:
        raise Skip("too many redirects") from None
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise Skip(f"not a valid web address ({exc})") from None
    except httpx.HTTPError as exc:
        raise Skip(f"could not be fetched ({type(exc).__name__}: {exc})") from None
    fetched = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if content_type == "text/plain":
        title, text = "", body
    else:
        title, text = extract(body, url)
    if not text.strip():
        raise NoText("no text on the page")
    title = title or text.strip().splitlines()[0][:200]
    return [Document(url, title, text, url, regions=((0, {"url": url}),), fetched=fetched)], ""


def extract(html: str, url: str) -> tuple[str, str]:
    """The page's title and main text (trafilatura), or all its visible text where trafilatura
    finds no main part (short pages, link lists)."""
    import logging

    import trafilatura

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    title, visible = html_to_text(html)
    main = trafilatura.extract(html, url=url, include_comments=False, include_tables=True, favor_recall=True)
    return title, main if main and main.strip() else visible


def _get(client, url: str, limits: Limits, what: str) -> tuple[str, str]:
    """The body of `url` as text and its content type; raises Skip on an error status, a type
    that is not a page, or a body over the size or time limit."""
    deadline = time.monotonic() + limits.page_seconds
    with client.stream("GET", url) as response:
        if response.status_code >= 400:
            raise Skip(f"HTTP {response.status_code} {response.reason_phrase}".rstrip())
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if what == "page" and content_type not in _PAGE_TYPES:
            raise Skip(f"not a web page (content type {content_type or 'unknown'}); download it and ingest the file")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limits.page_bytes:
            raise Skip(f"{what} larger than the {_size(limits.page_bytes)} limit")
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            chunks.append(chunk)
            if size > limits.page_bytes:
                raise Skip(f"{what} larger than the {_size(limits.page_bytes)} limit (stopped)")
            if time.monotonic() > deadline:
                raise Skip(f"{what} took longer than {limits.page_seconds:.0f} s to download (stopped)")
        data = b"".join(chunks)
        charset = response.charset_encoding
    if charset:
        try:
            return data.decode(charset, errors="replace"), content_type
        except LookupError:
            pass
    return decode(data), content_type


def _size(count: int) -> str:
    return f"{count // 1_000_000} MB" if count >= 1_000_000 else f"{count // 1_000} kB"


def _allowed(client, url: str, limits: Limits) -> bool:
    """What the site's robots.txt says of this page for our agent. A missing robots.txt (4xx)
    allows everything; one that cannot be read (5xx, too big, too slow) allows nothing, as
    RFC 9309 asks. A site that cannot be reached at all raises httpx's error."""
    parts = urlsplit(url)
    site = f"{parts.scheme}://{parts.netloc}"
    known = _robots.get(site)
    if known is None or time.monotonic() - known[0] > ROBOTS_SECONDS:
        rules = RobotFileParser(site + "/robots.txt")
        try:
            text, _ = _get(client, site + "/robots.txt", limits, "robots.txt")
            rules.parse(text.splitlines())
        except Skip as exc:
            rules.allow_all = str(exc).startswith("HTTP 4")
            rules.disallow_all = not rules.allow_all
        known = _robots[site] = (time.monotonic(), rules)
    return known[1].can_fetch(AGENT, url)
