"""Small real files of every format, written by the libraries that write them (or the stdlib)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage
from pathlib import Path


def docx_file(path: Path) -> None:
    import docx

    word = docx.Document()
    word.core_properties.title = "Harbour works"
    word.add_heading("Harbour works", level=1)
    word.add_paragraph("The harbour of Velmora was rebuilt by the fishing cooperative in 2019.")
    word.add_paragraph("Its lighthouse is painted green.")
    table = word.add_table(rows=3, cols=2)
    for row, values in enumerate([("Boat", "Owner"), ("Gull", "Ana Petrova"), ("Tern", "Jon Mikkelsen")]):
        for column, value in enumerate(values):
            table.cell(row, column).text = value
    word.add_paragraph("The quay was extended by forty metres.")
    word.save(path)


def pptx_file(path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for title, body in [("Quarterly review", "Revenue grew in every region."),
                        ("Staffing", "The Oslo office hired twelve engineers."),
                        ("Outlook", "The board expects a new office in Tallinn next spring.")]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text_frame.text = body
    slide = deck.slides[1]
    box = slide.shapes.add_textbox(Inches(1), Inches(6), Inches(4), Inches(1))
    box.text_frame.text = "Attrition fell to four percent."
    deck.save(path)


def xlsx_file(path: Path) -> None:
    """Two sheets; a formula whose last computed value is saved, as a spreadsheet app saves it."""
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Sales"
    sheet.append(["Region", "Revenue", "Manager"])
    sheet.append(["North", 120, "Ingrid Dahl"])
    sheet.append(["South", 80, "Marco Rossi"])
    sheet.append(["Total", "=SUM(B2:B3)", ""])
    other = book.create_sheet("Warehouses")
    other.append(["City", "Capacity"])
    other.append(["Gdansk", 5400])
    other.append(["Bremen", 7100])
    buffer = io.BytesIO()
    book.save(buffer)
    _with_cached_value(buffer.getvalue(), "xl/worksheets/sheet1.xml", "SUM(B2:B3)", "200", path)


def _with_cached_value(data: bytes, member: str, formula: str, value: str, path: Path) -> None:
    source = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for item in source.infolist():
            body = source.read(item)
            if item.filename == member:
                text = body.decode()
                assert f"<f>{formula}</f><v></v>" in text or f"<f>{formula}</f><v />" in text, text
                text = text.replace(f"<f>{formula}</f><v></v>", f"<f>{formula}</f><v>{value}</v>")
                text = text.replace(f"<f>{formula}</f><v />", f"<f>{formula}</f><v>{value}</v>")
                body = text.encode()
            out.writestr(item, body)


def csv_file(path: Path) -> None:
    path.write_text("Species,Habitat,Count\nOtter,River Tana,34\nLynx,Dovrefjell forest,12\n")


def epub_file(path: Path) -> None:
    from ebooklib import epub

    book = epub.EpubBook()
    book.set_identifier("groundqa-test")
    book.set_title("The Glass Valley")
    book.set_language("en")
    chapters = []
    for number, body in enumerate(["<h1>Arrival</h1><p>Mira reached the glass valley at dusk.</p>",
                                   "<h1>The Forge</h1><p>The old forge was run by her uncle Taavi.</p>"
                                   "<p>He made lenses for the observatory.</p>"], start=1):
        chapter = epub.EpubHtml(title=f"Chapter {number}", file_name=f"ch{number}.xhtml", lang="en")
        chapter.content = f"<html><body>{body}</body></html>"
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)


def message(subject: str, sender: str, date: str, body: str, attachment: tuple[str, str] | None = None) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"], mail["Date"] = subject, sender, "team@example.org", date
    mail.set_content(body)
    if attachment:
        mail.add_attachment(attachment[1], filename=attachment[0])
    return mail


def eml_file(path: Path) -> None:
    path.write_bytes(message(
        "Budget for the bridge", "Lena Berg <lena@example.org>", "Tue, 04 Mar 2025 09:15:00 +0100",
        "Hello all,\nThe bridge repair budget is 2.4 million euros.\nLena\n",
        ("minutes.txt", "The council approved the bridge repair on 3 March."),
    ).as_bytes())


def mbox_file(path: Path) -> None:
    import mailbox

    box = mailbox.mbox(path)
    box.add(message("Picnic", "Omar Haddad <omar@example.org>", "Fri, 06 Jun 2025 12:00:00 +0000",
                    "The summer picnic moves to Frogner park.\n"))
    box.add(message("Server move", "Ruth Adler <ruth@example.org>", "Mon, 09 Jun 2025 08:30:00 +0000",
                    "The mail server moves to the Bergen data centre on Saturday.\n"))
    box.flush()
    box.close()


def odt_file(path: Path) -> None:
    """An OpenDocument text written by hand: a mimetype and a content.xml suffice for readers."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:text>"
        "<text:h>Field notes</text:h>"
        "<text:p>The beaver dam on the Orkla river is three metres high.</text:p>"
        "</office:text></office:body></office:document-content>"
    )
    with zipfile.ZipFile(path, "w") as out:
        out.writestr("mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED)
        out.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)


def text_image(lines: list[str], size: tuple[int, int] = (1240, 1754)):
    """A white page with black text drawn on it: what a scanner sends back."""
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("L", size, 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    for number, line in enumerate(lines):
        draw.text((100, 150 + 52 * number), line, fill=0, font=font)
    return page


def scanned_pdf(path: Path, pages: list[list[str]]) -> None:
    """An image-only PDF (no text layer), one drawn page each, as a scanner writes them."""
    images = [text_image(lines) for lines in pages]
    images[0].save(path, "PDF", resolution=150, save_all=True, append_images=images[1:])


def png_file(path: Path, lines: list[str]) -> None:
    text_image(lines, (1400, 500)).save(path)


def encrypted_xlsx(path: Path, password: str) -> None:
    """A workbook saved with a password, as Excel saves one: an OLE2 file holding the encrypted zip."""
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = path.with_suffix(".plain.xlsx")
    xlsx_file(plain)
    with open(plain, "rb") as source, open(path, "wb") as target:
        OOXMLFile(source).encrypt(password, target)
    plain.unlink()


def zip_bomb(path: Path, inflated_bytes: int = 1_000_000_000, declared: int | None = None) -> None:
    """A .docx-named zip whose one member inflates from about a megabyte to `inflated_bytes`.
    `declared` is the size its headers claim (a hostile archive may claim less)."""
    import struct
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = b"\0" * 1_000_000
    stream = b"".join(packer.compress(chunk) for _ in range(inflated_bytes // len(chunk))) + packer.flush()
    crc = 0
    for _ in range(inflated_bytes // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    size = inflated_bytes if declared is None else declared
    name = b"word/document.xml"
    local = struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 8, 0, 0, crc, len(stream), size, len(name), 0) + name
    central = struct.pack("<4s6H3L5H2L", b"PK\1\2", 20, 20, 0, 8, 0, 0, crc, len(stream), size, len(name),
                          0, 0, 0, 0, 0, 0) + name
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    path.write_bytes(local + stream + central + end)
