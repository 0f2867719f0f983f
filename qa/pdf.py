"""PDF text extraction in a child process with a time and memory bound.

pypdf has a history of decompression-bomb and infinite-loop advisories, so one hostile PDF must
not be able to stall or exhaust the ingest that meets it: the child is killed at the limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qa import ocr
from qa.loaders import NoText, Skip
from qa.settings import Limits


def read_pdf(path: Path, limits: Limits) -> tuple[str, list[int], list[int], str]:
    """Return the text, the character offset where each page starts, the 1-based pages read by
    OCR (those without a text layer) and a note on pages left unread; raise Skip."""
    def bound_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limits.pdf_memory_bytes, limits.pdf_memory_bytes))

    try:
        done = subprocess.run(
            [sys.executable, "-m", "qa.pdf", str(path), str(limits.max_pdf_pages), str(limits.pdf_memory_bytes)],
            capture_output=True,
            timeout=limits.pdf_seconds,
            preexec_fn=bound_memory,
        )
    except subprocess.TimeoutExpired:
        raise Skip(f"PDF took longer than {limits.pdf_seconds:.0f} s to read (stopped)") from None
    if done.returncode != 0:
        raise Skip("PDF could not be read (the reader ran out of memory or crashed)")
    result = json.loads(done.stdout)
    if "skip" in result:
        raise Skip(result["skip"])
    pages = [page.strip() for page in result["pages"]]
    ocr_pages, note = _ocr_where_needed(path, pages, limits)
    if not any(pages):
        raise NoText(f"PDF has no text layer (scanned images?); {note}")
    text, starts = "", []
    for page in pages:
        starts.append(len(text))
        text += page + "\n\n"
    return text, starts, ocr_pages, note


def _ocr_where_needed(path: Path, pages: list[str], limits: Limits) -> tuple[list[int], str]:
    """Fill in `pages` without text by OCR; return the 1-based pages read so and a note on the rest."""
    empty = [number for number, page in enumerate(pages) if not page]
    if not empty:
        return [], ""
    unavailable = ocr.missing()
    if unavailable:
        return [], f"{_pages(empty)} without a text layer not read: {unavailable}"
    chosen = empty[: limits.max_ocr_pages]
    try:
        read_by_ocr = ocr.ocr_pdf_pages(path, chosen, limits)
    except Skip as exc:  # the pages with a text layer are still worth keeping
        return [], f"{_pages(empty)} without a text layer not read: {exc}"
    for number, text in read_by_ocr.items():
        pages[number] = text.strip()
    read = [n + 1 for n in chosen if pages[n]]
    notes = []
    if len(read) < len(chosen):
        notes.append(f"OCR found no text on {_pages([n for n in chosen if not pages[n]])}")
    if len(chosen) < len(empty):
        notes.append(f"{len(empty) - len(chosen)} more pages without a text layer not read "
                     f"(OCR stops at {limits.max_ocr_pages} pages a file)")
    return read, "; ".join(notes)


def _pages(numbers: list[int]) -> str:
    """0-based page numbers as people count them: "page 3", "pages 1, 2 and 5 more"."""
    shown = ", ".join(str(n + 1) for n in numbers[:5])
    more = f" and {len(numbers) - 5} more" if len(numbers) > 5 else ""
    return f"page {shown}" if len(numbers) == 1 else f"pages {shown}{more}"


def _extract(path: str, max_pages: int, memory_bytes: int) -> dict:
    import logging

    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError

    logging.disable(logging.WARNING)  # pypdf logs every oddity of a malformed file
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            return {"skip": "encrypted PDF (needs a password)"}
        if len(reader.pages) > max_pages:
            return {"skip": f"PDF has {len(reader.pages)} pages, more than the {max_pages} limit"}
        pages = [page.extract_text() or "" for page in reader.pages]
    except FileNotDecryptedError:
        return {"skip": "encrypted PDF (needs a password)"}
    except MemoryError:
        return {"skip": f"PDF needs more than the {memory_bytes // 2**20} MB memory limit to read (stopped)"}
    except Exception as exc:  # noqa: BLE001 - in this child, any failure means a malformed file
        return {"skip": f"malformed PDF ({type(exc).__name__})"}
    return {"pages": pages}


if __name__ == "__main__":
    json.dump(_extract(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])), sys.stdout)
