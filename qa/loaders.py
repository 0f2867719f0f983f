"""What every reader of files and pages shares: the Skip it raises and the text helpers.

It sits below every reader (qa/pdf.py, qa/ocr.py, qa/formats/, qa/fetch.py) and below
qa/documents.py, which dispatches to them, so the readers never need qa/documents.py back.
"""

from __future__ import annotations

import codecs
from html.parser import HTMLParser

_INVISIBLE = {"script", "style", "noscript", "template", "svg", "iframe", "object"}
_BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "li", "tr", "td", "th", "dt", "dd",
               "blockquote", "pre", "section", "article", "header", "footer", "title", "table",
               "ul", "ol", "figcaption", "caption", "main", "nav", "aside"}


class Skip(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


class NoText(Skip):
    """A file that was read but yielded no text at all (a scan that was not OCR'd, an empty sheet)."""


def decode(data: bytes) -> str:
    """Bytes -> text without silently dropping characters (unlike errors="ignore").

    UTF-8 and BOM-marked UTF-16 are taken as such; other bytes are decoded as cp1252 only when
    they look like text, since almost any byte string "decodes" as cp1252.
    """
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise Skip("marked as UTF-16 but not valid UTF-16") from None
    if b"\x00" in data[:8192]:
        raise Skip("binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise Skip("not valid UTF-8 and not cp1252 text; re-save it as UTF-8") from None
    controls = sum(1 for ch in text[:8192] if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > 0.01 * min(len(text), 8192):
        raise Skip("binary content, not text")
    return text


def html_to_text(html: str) -> tuple[str, str]:
    """Visible text of an HTML page, one line per block, and its <title>.

    The stdlib's streaming parser keeps no tree, so time is linear and a page nested 100,000
    levels deep costs no more than a flat one (BeautifulSoup took minutes on such a page).
    """
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.text).splitlines())
    return " ".join("".join(parser.title).split()), "\n".join(line for line in lines if line)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.title: list[str] = []
        self._hidden = 0  # depth inside script, style and other invisible elements
        self._in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag == "title":
            self._in_title = True
        elif tag in _BLOCK_TAGS or tag == "br":
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag == "title":
            self._in_title = False
        elif tag in _BLOCK_TAGS:
            self.text.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._hidden:
            self.text.append(data)
