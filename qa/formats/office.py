"""Word, PowerPoint, Excel, CSV and OpenDocument text -> Documents.

python-docx, python-pptx and openpyxl read the files (llama-index's DocxReader flattens a file
through docx2txt and loses the slide and row a sentence came from, which citations need).
"""

from __future__ import annotations

import csv
import io

from qa.formats import Builder, cell_text, checked_zip, row_text
from qa.loaders import Skip, decode
from qa.settings import Limits
from qa.types import Document


def read_docx(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """Paragraphs and headings in order, each table row as a line carrying its header row."""
    import docx
    from docx.table import Table

    archive = checked_zip(data, ".docx", limits)
    try:
        word = docx.Document(archive.fp)
    except Exception as exc:  # noqa: BLE001 - any parse failure means a malformed file
        raise Skip(f"damaged .docx file ({type(exc).__name__})") from None
    built = Builder()
    paragraph, tables = 0, 0
    for block in word.iter_inner_content():
        if isinstance(block, Table):
            tables += 1
            rows = [[cell_text(cell.text) for cell in row.cells] for row in block.rows]
            header = rows[0] if len(rows) > 1 else []
            for number, values in enumerate(rows[1:] if header else rows, start=2 if header else 1):
                built.add(row_text(header, _distinct(values)), {"table": tables, "row": number})
        elif block.text.strip():
            paragraph += 1
            built.add(block.text, {"paragraph": paragraph})
    return [built.document(doc_id, word.core_properties.title or "", source)], ""


def _distinct(values: list[str]) -> list[str]:
    """Merged cells repeat their text in every column they span; keep it once."""
    return [v if i == 0 or v != values[i - 1] else "" for i, v in enumerate(values)]


def read_pptx(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """Slide by slide: the title first, then every text frame and table, then the speaker notes."""
    from pptx import Presentation

    archive = checked_zip(data, ".pptx", limits)
    try:
        deck = Presentation(archive.fp)
    except Exception as exc:  # noqa: BLE001
        raise Skip(f"damaged .pptx file ({type(exc).__name__})") from None
    built = Builder()
    first_title = ""
    for number, slide in enumerate(deck.slides, start=1):
        where = {"slide": number}
        title = slide.shapes.title
        if title is not None and title.has_text_frame:
            built.add(title.text_frame.text, where)
            first_title = first_title or title.text_frame.text
        for shape in _shapes(slide.shapes):
            if title is not None and shape.shape_id == title.shape_id:
                continue
            if getattr(shape, "has_text_frame", False):
                for paragraph in shape.text_frame.paragraphs:
                    built.add("".join(run.text for run in paragraph.runs), where)
            elif getattr(shape, "has_table", False):
                rows = [[cell_text(cell.text) for cell in row.cells] for row in shape.table.rows]
                header = rows[0] if len(rows) > 1 else []
                for values in rows[1:] if header else rows:
                    built.add(row_text(header, values), where)
        if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
            built.add(slide.notes_slide.notes_text_frame.text, where)
    return [built.document(doc_id, deck.core_properties.title or first_title, source)], ""


def _shapes(shapes):
    """Every shape, those inside groups included, in slide order."""
    for shape in shapes:
        if shape.shape_type == 6:  # MSO_SHAPE_TYPE.GROUP
            yield from _shapes(shape.shapes)
        else:
            yield shape


def read_xlsx(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """Each row one line with its header; formulas give the value last saved, never their text."""
    import openpyxl

    archive = checked_zip(data, ".xlsx", limits)
    try:
        book = openpyxl.load_workbook(archive.fp, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001
        raise Skip(f"damaged .xlsx file ({type(exc).__name__})") from None
    built = Builder()
    try:
        for sheet in book.worksheets:
            add_rows(built, sheet.title, sheet.iter_rows(values_only=True))
        title = book.properties.title or ""
    finally:
        book.close()
    return [built.document(doc_id, title or _stem(source), source)], ""


def add_rows(built: Builder, sheet: str, rows) -> list[str]:
    """A sheet's rows after its header (its first non-empty row), each a unit with the header's
    names and located by sheet and 1-based row; returns the header (empty for an empty sheet)."""
    header: list[str] = []
    for number, row in enumerate(rows, start=1):
        values = [cell_text(v) for v in row]
        if not any(values):
            continue
        if not header:
            header = values
            continue
        built.add(row_text(header, values), {"sheet": sheet, "row": number})
    return header


def read_csv(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """Like a one-sheet workbook named after the file; the delimiter is sniffed (, ; tab |)."""
    text = decode(data)
    try:
        dialect = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    sheet = source.replace("\\", "/").rsplit("/", 1)[-1]
    built = Builder()
    try:
        header = add_rows(built, sheet, csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise Skip(f"malformed CSV ({exc})") from None
    if not header:
        raise Skip("no rows in it")
    if not built.regions:  # a header alone is still text worth finding
        built.add(row_text([], header), {"sheet": sheet, "row": 1})
    return [built.document(doc_id, _stem(source), source)], ""


def _stem(source: str) -> str:
    """A spreadsheet's title when it has none: its file name, not its first row."""
    return source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


_ODF_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"


def read_odt(data: bytes, doc_id: str, source: str, limits: Limits) -> tuple[list[Document], str]:
    """Headings and paragraphs of an OpenDocument text, in order (content.xml, read by the stdlib)."""
    import xml.etree.ElementTree as ET

    archive = checked_zip(data, ".odt", limits)
    try:
        root = ET.fromstring(archive.read("content.xml"))
    except (KeyError, ET.ParseError) as exc:
        raise Skip(f"damaged .odt file ({type(exc).__name__})") from None
    built = Builder()
    blocks = {f"{{{_ODF_TEXT}}}p", f"{{{_ODF_TEXT}}}h"}
    number = 0

    def walk(element) -> None:
        nonlocal number
        for child in element:
            if child.tag in blocks:  # its text includes any paragraph nested in it (a footnote's)
                text = "".join(child.itertext())
                if text.strip():
                    number += 1
                    built.add(text, {"paragraph": number})
            else:
                walk(child)

    walk(root)
    return [built.document(doc_id, "", source)], ""
