"""Tiny real PDFs written byte by byte, so tests need no PDF-writing dependency."""

from __future__ import annotations


def text_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    font_id = 3
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for text in pages:
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        content_id = len(objects)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (content_id, font_id)
        )
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids),
        len(kids),
    )
    return _assembled(objects)


def lines_pdf(pages: list[list[str]]) -> bytes:
    """Several lines of text a page, 16 points apart from y=720 down, as a typed report has."""
    pdf = text_pdf(["@%d@" % number for number in range(len(pages))])
    for number, lines in enumerate(pages):
        old = b"BT /F1 12 Tf 72 720 Td (@%d@) Tj ET" % number
        new = b"BT /F1 12 Tf 16 TL 72 720 Td " + b" T* ".join(b"(%s) Tj" % line.encode("latin-1") for line in lines) + b" ET"
        pdf = pdf.replace(b"<< /Length %d >>\nstream\n" % len(old) + old, b"<< /Length %d >>\nstream\n" % len(new) + new)
    return _reindexed(pdf)


def encrypted_pdf(text: str, password: str) -> bytes:
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf([text]))))
    writer.encrypt(user_password=password, owner_password="owner", algorithm="AES-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def image_only_pdf() -> bytes:
    """A page with no text operators at all, as a scanned document has."""
    return text_pdf([""]).replace(b"BT /F1 12 Tf 72 720 Td () Tj ET", b"0 0 m 10 10 l S          ")


def bomb_pdf(inflated_bytes: int = 400_000_000) -> bytes:
    """One page whose content stream is a few hundred kB of deflate that inflates to `inflated_bytes`."""
    import zlib

    packer = zlib.compressobj(9)
    chunk = b" " * 1_000_000
    stream = b"".join(packer.compress(chunk) for _ in range(inflated_bytes // len(chunk))) + packer.flush()
    page = text_pdf(["x"])
    content = b"BT /F1 12 Tf 72 720 Td (x) Tj ET"
    bomb = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream"
    return _reindexed(page.replace(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream", bomb))


def many_pages_pdf(count: int) -> bytes:
    """`count` pages sharing one content stream: small on disk, huge once its page tree is walked."""
    one = text_pdf(["Same page."])
    page = one[one.index(b"<< /Type /Page ") : one.index(b"\nendobj", one.index(b"<< /Type /Page "))]
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length 37 >>\nstream\nBT /F1 12 Tf 72 720 Td (Same page.) Tj ET\nendstream"]
    objects += [page] * count  # its /Contents 4 0 R and font 3 0 R are the objects above
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in range(5, 5 + count)), count)
    return _assembled(objects)


def _assembled(objects: list[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _reindexed(pdf: bytes) -> bytes:
    """The same objects with a fresh cross-reference table, after a body was swapped."""
    import re

    bodies = re.findall(rb"\d+ 0 obj\n(.*?)\nendobj\n", pdf, re.DOTALL)
    return _assembled(bodies)
