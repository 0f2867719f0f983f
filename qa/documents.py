"""Files and JSONL records -> Documents. Each reader either returns documents or raises Skip.

`doc_id` is the path relative to the folder the user named (or the record's own `doc_id` in a
JSONL file), so the same folder ingested from another machine gives the same ids.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

from qa import fetch, ocr, pdf
from qa.formats import epub, mail, office
from qa.loaders import NoText, Skip, decode, html_to_text
from qa.settings import Limits
from qa.types import Document

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
# Readers of the structured formats (qa/formats, qa/ocr.py); each imports its parser at use.
FORMATS = {
    ".docx": office.read_docx,
    ".pptx": office.read_pptx,
    ".xlsx": office.read_xlsx,
    ".csv": office.read_csv,
    ".odt": office.read_odt,
    ".epub": epub.read_epub,
    ".eml": mail.read_eml,
    ".png": ocr.read_image,
    ".jpg": ocr.read_image,
    ".jpeg": ocr.read_image,
    ".tif": ocr.read_image,
    ".tiff": ocr.read_image,
}
URL_LISTS = {".urls"}  # one web address a line, fetched by qa.fetch
SUPPORTED = TEXT_SUFFIXES | HTML_SUFFIXES | {".pdf", ".jsonl", ".mbox"} | set(FORMATS) | URL_LISTS


@dataclass(frozen=True)
class Found:
    path: Path
    base: Path  # doc ids are paths relative to this folder
    given: Path | None  # what the user named: files gone from under it are dropped from the index
    url: str = ""  # a web page to fetch instead of a file (given: the .urls file naming it, if any)

    @property
    def label(self) -> str:
        """How the ingest report names it."""
        return self.url or str(self.path)

    @property
    def doc_key(self) -> str:
        """The doc_id its document gets (a JSONL file's records name their own)."""
        return self.url or self.path.relative_to(self.base).as_posix()

    @property
    def root(self) -> str:
        """What the user named, as recorded with its documents."""
        return str(self.given.resolve()) if self.given is not None else self.url


def is_url(value) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def discover(paths: list[Path | str]) -> tuple[list[Found], list[tuple[str, str]]]:
    """Walk the given files, folders and web addresses; return what can be read and
    (path, reason) for the rest."""
    found: list[Found] = []
    problems: list[tuple[str, str]] = []
    for given in paths:
        if is_url(given):
            found.append(Found(Path(), Path(), None, url=given))
            continue
        given = Path(given)
        if given.suffix.lower() in URL_LISTS and given.is_file():
            _url_list(given, found, problems)
        elif not given.exists():
            problems.append((str(given), "no such file or folder"))
        elif given.is_file():
            if given.suffix.lower() in SUPPORTED:
                found.append(Found(given, given.parent, given))
            else:
                problems.append((str(given), f"unsupported type {given.suffix or '(none)'}"))
        else:
            for dirpath, dirnames, filenames in os.walk(given):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    path = Path(dirpath, name)
                    if name.startswith("."):
                        continue
                    if path.suffix.lower() in URL_LISTS:
                        _url_list(path, found, problems, given)
                    elif path.suffix.lower() in SUPPORTED:
                        found.append(Found(path, given, given))
                    else:
                        problems.append((str(path), f"unsupported type {path.suffix or '(none)'}"))
    return found, problems


def _url_list(path: Path, found: list[Found], problems: list[tuple[str, str]], given: Path | None = None) -> None:
    """A .urls file: one web address a line; blank lines and # comments are ignored."""
    try:
        lines = decode(path.read_bytes()[: 1_000_000]).splitlines()
    except (OSError, Skip) as exc:
        problems.append((str(path), f"list of web addresses not readable ({exc})"))
        return
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            found.append(Found(path, path.parent, given or path, url=line))
        else:
            problems.append((f"{path}:{number}", "not a web address (http:// or https://)"))


def load(found: Found, limits: Limits) -> tuple[list[Document], str]:
    """Read one file or web page into documents and a note on anything dropped; raises Skip with a reason."""
    if found.url:
        return fetch.read_url(found.url, limits)
    path = found.path
    suffix = path.suffix.lower()
    limit = limits.max_mailbox_bytes if suffix == ".mbox" else limits.max_file_bytes
    try:
        size = path.stat().st_size
        if size > limit:
            raise Skip(f"larger than the {limit // 1_000_000} MB limit" + (" for mailboxes" if suffix == ".mbox" else ""))
        if suffix == ".mbox":  # read message by message, never whole
            if not size:
                raise NoText("empty file")
            return mail.read_mbox(path, path.relative_to(found.base).as_posix(), limits)
        data = path.read_bytes()
    except PermissionError:
        raise Skip("not readable (permission denied)") from None
    except OSError as exc:
        raise Skip(f"could not be read ({exc.strerror or exc})") from None
    if not data.strip():
        raise NoText("empty file")
    doc_id = path.relative_to(found.base).as_posix()
    if suffix == ".pdf":
        text, page_starts, ocr_pages, note = pdf.read_pdf(path, limits)
        document = _document(doc_id, _first_line(text), text, path, tuple(page_starts))
        return [replace(document, ocr_pages=tuple(ocr_pages))], note
    if suffix in FORMATS:
        try:
            return FORMATS[suffix](data, doc_id, str(path), limits)
        except Skip:
            raise
        except Exception as exc:  # noqa: BLE001 - the parsers raise anything on a malformed file (fuzzed)
            raise Skip(f"damaged {suffix} file ({type(exc).__name__})") from None
    if suffix == ".jsonl":
        return _jsonl_documents(decode(data), path)
    text = decode(data)
    if suffix in HTML_SUFFIXES:
        title, text = html_to_text(text)
        return [_document(doc_id, title or _first_line(text), text, path)], ""
    return [_document(doc_id, _first_line(text), text, path)], ""


def _document(doc_id: str, title: str, text: str, path: Path, pages: tuple[int, ...] = ()) -> Document:
    if not text.strip():
        raise NoText("no text in it")
    return Document(doc_id=doc_id, title=title, text=text, source=str(path), page_starts=pages)


def _jsonl_documents(text: str, path: Path) -> tuple[list[Document], str]:
    """Records shaped like the benchmarks' documents.jsonl: {"doc_id", "title", "text"}."""
    documents: list[Document] = []
    bad: list[int] = []
    first_problem = ""  # said once, for the first bad line: what a line must hold
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            problem = "not JSON"
        else:
            problem = _record_problem(record)
        if problem:
            bad.append(number)
            first_problem = first_problem or f"line {number}: {problem}"
            continue
        title = str(record.get("title") or "")
        documents.append(Document(doc_id=str(record["doc_id"]), title=title, text=record["text"], source=str(path)))
    if not documents:
        raise Skip("no valid {doc_id, title, text} records"
                   + (f" (bad lines: {_lines(bad)}; {first_problem})" if bad else ""))
    return documents, (f"skipped malformed lines {_lines(bad)} ({first_problem})" if bad else "")


def _record_problem(record) -> str:
    """Why a .jsonl line is no document ("" when it is one)."""
    if not isinstance(record, dict):
        return 'not a JSON object {"doc_id", "title", "text"}'
    missing = [f'"{key}"' for key in ("doc_id", "text") if key not in record]
    if missing:
        return f"no {' or '.join(missing)}"
    if not isinstance(record["text"], str) or not record["text"].strip():
        return 'its "text" is empty or not a string'
    return ""


def _lines(numbers: list[int]) -> str:
    shown = ", ".join(map(str, numbers[:5]))
    return shown + (f" and {len(numbers) - 5} more" if len(numbers) > 5 else "")


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip().lstrip("#").strip()
        if line and not line.startswith("- "):
            return line[:200]
    return ""
