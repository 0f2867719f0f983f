"""Scans without Tesseract are reported, never indexed as empty; with it (test_formats) they answer."""

from __future__ import annotations

import io

import pytest
from formats import png_file, scanned_pdf
from pdfs import text_pdf

from qa.render import format_report
from qa.documents import Found, Skip, load
from qa.ingest import ingest
from qa.settings import Limits, Settings


@pytest.fixture
def no_tesseract(monkeypatch, tmp_path):
    """As on a machine without it: nothing named tesseract on PATH."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))


def mixed_pdf(path):
    """Page 1 has a text layer, page 2 is a scanned image."""
    from pypdf import PdfReader, PdfWriter

    scanned_pdf(path, [["A scanned second page."]])
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(text_pdf(["The typed first page."]))))
    writer.append(PdfReader(path))
    writer.write(path)


def test_without_tesseract_scans_are_named_with_the_reason(tmp_path, encoder, no_tesseract):
    docs = tmp_path / "docs"
    docs.mkdir()
    scanned_pdf(docs / "scan.pdf", [["Nothing here is typed."]])
    png_file(docs / "photo.png", ["A photographed sign."])
    mixed_pdf(docs / "mixed.pdf")
    report = ingest([docs], Settings(index_dir=tmp_path / "index"), encoder=encoder)
    outcome = {f.path: f for f in report.files}
    summary = format_report(report, "index")
    assert outcome[str(docs / "mixed.pdf")].status == "indexed"
    assert ("note: " + str(docs / "mixed.pdf") + ": page 2 without a text layer not read: Tesseract is not installed") in summary
    assert "PDF has no text layer (scanned images?); page 1 without a text layer not read: Tesseract is not installed" \
        in outcome[str(docs / "scan.pdf")].reason
    assert "image not read: Tesseract is not installed" in outcome[str(docs / "photo.png")].reason
    assert f"no text at all in 2 files: {docs / 'photo.png'}, {docs / 'scan.pdf'}" in summary
    assert "read by OCR" not in summary


def test_mixed_pdf_reads_only_the_scanned_page_by_ocr(tmp_path):
    from qa import ocr

    if ocr.missing():
        pytest.skip(ocr.missing())
    mixed_pdf(tmp_path / "mixed.pdf")
    [doc], note = load(Found(tmp_path / "mixed.pdf", tmp_path, tmp_path), Limits())
    assert doc.ocr_pages == (2,) and not note
    assert doc.page_at(doc.text.index("typed first page")) == 1
    assert doc.page_at(doc.text.index("scanned second page")) == 2


def test_an_image_bomb_is_refused(tmp_path):
    from PIL import Image

    from qa import ocr

    if ocr.missing():
        pytest.skip(ocr.missing())
    Image.new("L", (12_000, 12_000), 255).save(tmp_path / "huge.png")  # 144 megapixels, a few kB
    with pytest.raises(Skip, match="larger than the 50 megapixel limit"):
        load(Found(tmp_path / "huge.png", tmp_path, tmp_path), Limits())
