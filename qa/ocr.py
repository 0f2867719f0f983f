"""Text from images and from PDF pages without a text layer, read by Tesseract (pytesseract).

Tesseract is Debian's `tesseract-ocr` (scripts/install-ocr.sh). Without it, images and scanned
pages are reported as unread, never indexed as empty. The words' boxes come back with the text
so a cited sentence can be shown where it stands on the page (qa/page_image.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from qa.loaders import NoText, Skip
from qa.settings import Limits
from qa.types import Document

# Tesseract reads best at about 300 dpi; the cap keeps a huge page from costing minutes.
OCR_DPI = 300
MAX_RENDER_SIDE = 4000


def missing() -> str:
    """Why OCR cannot run here, or "" when it can."""
    if shutil.which("tesseract") is None:
        return "Tesseract is not installed (apt-get install tesseract-ocr, or bash scripts/install-ocr.sh)"
    try:
        import pytesseract  # noqa: F401
    except ImportError:
        return "pytesseract is not installed (pip install pytesseract)"
    return ""


@dataclass(frozen=True)
class Word:
    start: int  # offsets of the word in the text read from its image
    end: int
    box: tuple[int, int, int, int]  # left, top, right, bottom in the image's pixels


def read_words(image, timeout: float = 0) -> tuple[str, list[Word]]:
    """The image's text, a line per line and a blank line between paragraphs, and its words' boxes."""
    import pytesseract

    data = pytesseract.image_to_data(image, output_type=pytesseract.Output.DICT, timeout=timeout)
    text, words = "", []
    previous = None
    for i, word in enumerate(data["text"]):
        word = word.strip()
        if not word or float(data["conf"][i]) < 0:
            continue
        paragraph = (data["block_num"][i], data["par_num"][i])
        line = (*paragraph, data["line_num"][i])
        if previous is not None:
            text += " " if line == previous else ("\n" if paragraph == previous[:2] else "\n\n")
        previous = line
        left, top = data["left"][i], data["top"][i]
        words.append(Word(len(text), len(text) + len(word), (left, top, left + data["width"][i], top + data["height"][i])))
        text += word
    return text, words


def render_for_ocr(page):
    """A PDF page (pypdfium2) as a PIL image at OCR resolution, capped in size."""
    width, height = page.get_size()
    scale = min(OCR_DPI / 72, MAX_RENDER_SIDE / max(width, height, 1))
    return page.render(scale=scale, grayscale=True).to_pil()


def read_image(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """A photo or scan of text: one page, read by OCR."""
    reason = missing()
    if reason:
        raise NoText(f"image not read: {reason}")
    image = open_image(data, limits)
    try:
        text, _ = read_words(image, timeout=limits.ocr_page_seconds)
    except RuntimeError:  # pytesseract's timeout
        raise Skip(f"OCR took longer than {limits.ocr_page_seconds:.0f} s (stopped)") from None
    if not text.strip():
        raise NoText("OCR found no text in the image")
    title = text.strip().splitlines()[0][:200]
    return [Document(doc_id, title, text + "\n\n", source, page_starts=(0,), ocr_pages=(1,))], ""


def open_image(data: bytes, limits: Limits):
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = limits.max_image_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Skip(f"image larger than the {limits.max_image_pixels // 1_000_000} megapixel limit") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise Skip(f"damaged or unknown image ({type(exc).__name__})") from None
    return image.convert("L")


def ocr_pdf_pages(path: Path, pages: list[int], limits: Limits) -> dict[int, str]:
    """OCR text of the given 0-based pages of a PDF, read in a child process bounded in memory
    and time like the text layer's reader (qa/pdf.py); raises Skip when it cannot finish."""
    def bound_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limits.pdf_memory_bytes, limits.pdf_memory_bytes))

    seconds = limits.ocr_page_seconds * len(pages)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "qa.ocr", str(path), ",".join(map(str, pages))],
            capture_output=True, timeout=seconds, preexec_fn=bound_memory,
        )
    except subprocess.TimeoutExpired:
        raise Skip(f"OCR of {len(pages)} pages took longer than {seconds:.0f} s (stopped)") from None
    if done.returncode != 0:
        raise Skip("OCR could not read the PDF's pages (the reader ran out of memory or crashed)")
    return {int(page): text for page, text in json.loads(done.stdout).items()}


def _ocr_child(path: str, pages: list[int]) -> dict[int, str]:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(path)
    try:
        return {page: read_words(render_for_ocr(pdf[page]))[0] for page in pages}
    finally:
        pdf.close()


if __name__ == "__main__":
    json.dump(_ocr_child(sys.argv[1], [int(p) for p in sys.argv[2].split(",")]), sys.stdout)
