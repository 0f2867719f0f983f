"""A cited sentence shown where it stands: its page rendered (pypdfium2) with the sentence marked.

The boxes come from the page itself: pdfium's character boxes on a page with a text layer, or
Tesseract's word boxes on a scanned page or an image (the same render OCR read at ingest). The
sentence is found among them by its characters, ignoring white space, since the stored text and
the page's character stream break lines differently.
"""

from __future__ import annotations

import io
import unicodedata
from pathlib import Path

from qa.errors import UserError
from qa.loaders import Skip
from qa.ocr import open_image, read_words, render_for_ocr
from qa.settings import Limits

SCALE = 1.5  # 108 dpi: readable beside the chat, light to send
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
MARK = (255, 214, 0, 110)  # translucent yellow, like the <mark> in the sources panel
EDGE = (214, 40, 40, 255)


class PageUnavailable(UserError):
    """The page cannot be shown; the message says why."""


def can_show(source: str) -> bool:
    suffix = Path(source).suffix.lower()
    return suffix == ".pdf" or suffix in IMAGE_SUFFIXES


def highlighted_page(source: str, page: int, sentence: str, ocr: bool, limits: Limits = Limits()) -> bytes:
    """PNG of `page` (1-based) of the PDF or image at `source`, `sentence` marked on it."""
    path = Path(source)
    if not path.is_file():
        raise PageUnavailable(f"The original file is no longer at {path.name}; ingest it again to see its pages.")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        try:
            scan = open_image(path.read_bytes(), limits)
        except Skip as exc:
            raise PageUnavailable(str(exc)) from None
        image, boxes = scan.convert("RGB"), _ocr_boxes(scan, 1.0)
    else:
        image, boxes = _pdf_page(path, page, ocr)
    spans = _find(sentence, boxes)
    if not spans:
        raise PageUnavailable(f"The sentence could not be located on page {page}.")
    return _png(image, [_merged(spans)])


def _pdf_page(path: Path, page: int, ocr: bool):
    import pypdfium2
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except pypdfium2.PdfiumError as exc:
        raise PageUnavailable(f"The PDF could not be opened ({exc}).") from None
    try:
        if not 1 <= page <= len(pdf):
            raise PageUnavailable(f"The PDF has no page {page}.")
        sheet = pdf[page - 1]
        image = sheet.render(scale=SCALE).to_pil().convert("RGB")
        if ocr:
            scan = render_for_ocr(sheet)
            return image, _ocr_boxes(scan, image.width / scan.width)
        left, bottom, _, top = sheet.get_cropbox()
        text = sheet.get_textpage()
        boxes = []
        for i in range(text.count_chars()):
            char = chr(pdfium_c.FPDFText_GetUnicode(text.raw, i))
            x0, y0, x1, y1 = text.get_charbox(i)
            boxes.append((char, ((x0 - left) * SCALE, (top - y1) * SCALE, (x1 - left) * SCALE, (top - y0) * SCALE)))
        return image, boxes
    finally:
        pdf.close()


def _ocr_boxes(scan, ratio: float) -> list[tuple[str, tuple[float, float, float, float]]]:
    """Tesseract's words as (text, box) scaled to the shown image."""
    text, words = read_words(scan)
    return [(text[w.start : w.end], tuple(v * ratio for v in w.box)) for w in words]


def _normal(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if not ch.isspace())


def _find(sentence: str, units: list[tuple[str, tuple]]) -> list[tuple]:
    """The boxes of the units (characters or words) that spell `sentence`, white space ignored."""
    stream, owner = [], []
    for number, (text, _) in enumerate(units):
        for ch in _normal(text):
            stream.append(ch)
            owner.append(number)
    target = _normal(sentence)
    at = "".join(stream).find(target) if target else -1
    if at < 0:
        return []
    chosen = sorted(set(owner[at : at + len(target)]))
    return [units[n][1] for n in chosen if units[n][1][2] > units[n][1][0]]


def _merged(boxes: list[tuple]) -> list[tuple]:
    """Character boxes joined into one box per line, so the mark reads as a highlighter stroke."""
    lines: list[list[float]] = []
    for x0, y0, x1, y1 in boxes:
        line = lines[-1] if lines else None
        if line and abs((y0 + y1) / 2 - (line[1] + line[3]) / 2) < max(y1 - y0, line[3] - line[1]) / 2 and x0 >= line[0] - 2:
            line[:] = [min(line[0], x0), min(line[1], y0), max(line[2], x1), max(line[3], y1)]
        else:
            lines.append([x0, y0, x1, y1])
    return [tuple(line) for line in lines]


def _png(image, groups: list[list[tuple]]) -> bytes:
    from PIL import Image, ImageDraw

    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for lines in groups:
        for x0, y0, x1, y1 in lines:
            draw.rectangle((x0 - 2, y0 - 2, x1 + 2, y1 + 2), fill=MARK, outline=EDGE, width=2)
    marked = Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")
    out = io.BytesIO()
    marked.save(out, "PNG", optimize=False)
    return out.getvalue()
