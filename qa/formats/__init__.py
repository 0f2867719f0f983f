"""Readers of structured formats (Office, e-mail, e-books, images) into one Document text.

Each reader builds the stored text itself, block by block, and notes where each block came from
(slide, sheet row, message), so a sentence's offsets point into exactly the text that is stored
and its locator names the place in the original.
"""

from __future__ import annotations

import io
import zipfile

from qa.loaders import NoText, Skip
from qa.settings import Limits
from qa.types import Document


class Builder:
    """Stored text, one block per line, with the locator each block starts."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.regions: list[tuple[int, dict]] = []

    def add(self, block: str, locator: dict) -> None:
        block = block.strip()
        if not block:
            return
        if not self.regions or self.regions[-1][1] != locator:
            self.regions.append((self._length, locator))
        self._parts.append(block + "\n")
        self._length += len(block) + 1

    def document(self, doc_id: str, title: str, source: str, **extra) -> Document:
        text = "".join(self._parts)
        if not text.strip():
            raise NoText("no text in it")
        title = title.strip() or text.splitlines()[0][:200]
        return Document(doc_id=doc_id, title=title, text=text, source=source, regions=tuple(self.regions), **extra)


def checked_zip(data: bytes, kind: str, limits: Limits) -> zipfile.ZipFile:
    """The archive inside an Office file or e-book, once its contents are known to be bounded.

    zipfile never inflates a member past the size the archive declares for it (a member that
    claims less than it holds fails its CRC instead), so the declared sizes bound what any
    library reading this archive can unpack.
    """
    if data.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE2 compound file, not a zip
        if "EncryptedPackage".encode("utf-16-le") in data:
            raise Skip(f"password-protected {kind} file; save a copy without the password and ingest that")
        raise Skip(f"legacy binary Office file, not {kind}; save it in the current format ({kind}) first")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError):
        raise Skip(f"damaged {kind} file (not a readable zip archive)") from None
    declared = sum(m.file_size for m in members)
    if declared > limits.max_unzipped_bytes:
        raise Skip(f"{kind} file would unpack to {declared // 1_000_000} MB, over the "
                   f"{limits.max_unzipped_bytes // 1_000_000} MB limit (a zip bomb?)")
    return archive


def cell_text(value) -> str:
    """A spreadsheet or table value as a person reads it: 3 not 3.0, dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:-9] if text.endswith("T00:00:00") else text
    return " ".join(str(value).split())


def row_text(header: list[str], values: list[str]) -> str:
    """A table row as one line that carries its header: "Region: North; Revenue: 120"."""
    pairs = []
    for column, value in enumerate(values):
        if not value:
            continue
        name = header[column] if column < len(header) and header[column] else ""
        pairs.append(f"{name}: {value}" if name else value)
    return "; ".join(pairs)
