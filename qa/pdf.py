"""PDF text extraction in a child process with a time and memory bound.

pypdf has a history of decompression-bomb and infinite-loop advisories, so one hostile PDF must
not be able to stall or exhaust the ingest that meets it: the child is killed at the limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from qa.settings import Limits


def read_pdf(path: Path, limits: Limits) -> tuple[str, list[int]]:
    """Return the text layer and the character offset where each page starts; raise Skip."""
    from qa.documents import Skip

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
    return result["text"], result["page_starts"]


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
    if not any(p.strip() for p in pages):
        return {"skip": "PDF has no text layer (scanned images?); run OCR first"}
    text, starts = "", []
    for page in pages:
        starts.append(len(text))
        text += page.strip() + "\n\n"
    return {"text": text, "page_starts": starts}


if __name__ == "__main__":
    json.dump(_extract(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])), sys.stdout)
