"""E-books (.epub) -> a Document: the chapters in reading order, located by chapter and paragraph."""

from __future__ import annotations

import io

from qa.formats import Builder, checked_zip
from qa.loaders import Skip, html_to_text
from qa.settings import Limits
from qa.types import Document


def read_epub(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    import warnings

    import ebooklib
    from ebooklib import epub

    archive = checked_zip(data, ".epub", limits)
    try:
        with warnings.catch_warnings():  # ebooklib warns about its own future defaults
            warnings.simplefilter("ignore")
            book = epub.read_epub(io.BytesIO(archive.fp.getvalue()), options={"ignore_ncx": True})
    except Exception as exc:  # noqa: BLE001 - any parse failure means a malformed file
        raise Skip(f"damaged .epub file ({type(exc).__name__})") from None
    built = Builder()
    chapter, paragraph = 0, 0
    for item_id, _ in book.spine:
        item = book.get_item_with_id(item_id)
        if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT or not item.is_chapter():
            continue  # the navigation page repeats the chapter titles
        _, text = html_to_text(item.get_content().decode("utf-8", errors="replace"))
        if not text.strip():
            continue
        chapter += 1
        for line in text.splitlines():
            paragraph += 1
            built.add(line, {"chapter": chapter, "paragraph": paragraph})
    titles = book.get_metadata("DC", "title")
    return [built.document(doc_id, titles[0][0] if titles else "", source)], ""
