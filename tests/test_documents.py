import json
import os

import pytest
from pdfs import bomb_pdf, encrypted_pdf, image_only_pdf, many_pages_pdf, text_pdf

from qa.documents import Found, Skip, discover, load
from qa.settings import Limits


def read(path, limits=Limits()):
    found, problems = discover([path])
    assert not problems, problems
    return load(found[0], limits)


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b"  \n\t\n", "empty file"),
        ("binary.txt", bytes(range(256)) * 10, "binary"),
        ("random.pdf", os.urandom(4096), "PDF"),
        ("truncated.pdf", text_pdf(["Some text."])[:60], "PDF"),
        ("image.pdf", image_only_pdf(), "no text layer"),
        ("locked.pdf", encrypted_pdf("Secret.", "pw"), "encrypted"),
        ("bad.jsonl", b'{"doc_id": 1\nnot json\n', "no valid"),
        ("bad16.txt", b"\xff\xfe\x00\xd8", "UTF-16"),
    ],
)
def test_bad_files_are_skipped_with_a_reason(tmp_path, name, data, reason):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(Skip, match=reason):
        read(path)


def test_text_encodings_are_decoded_not_mangled(tmp_path):
    (tmp_path / "cp1252.txt").write_bytes("Café costs 5 € – “quoted”.".encode("cp1252"))
    (tmp_path / "utf16.txt").write_bytes("Ünïcode text.".encode("utf-16"))
    (tmp_path / "bom.md").write_bytes(b"\xef\xbb\xbf# Title\nBody.")
    assert read(tmp_path / "cp1252.txt")[0][0].text == "Café costs 5 € – “quoted”."
    assert read(tmp_path / "utf16.txt")[0][0].text == "Ünïcode text."
    doc = read(tmp_path / "bom.md")[0][0]
    assert doc.text == "# Title\nBody." and doc.title == "Title"


def test_html_keeps_visible_text_only(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>The Title</title><style>p {color: red}</style></head><body>"
        "<script>alert('x')</script><h1>Heading</h1><p>First <b>bold</b> para.</p>"
        "<!-- a comment --><p>Second&nbsp;para &amp; more.</p></body></html>"
    )
    doc = read(page)[0][0]
    assert doc.title == "The Title"
    assert doc.text == "Heading\nFirst bold para.\nSecond para & more."


def test_pdf_text_and_pages(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(text_pdf(["Page one says hello.", "Page two says goodbye."]))
    doc = read(path)[0][0]
    assert doc.doc_id == "report.pdf"
    assert doc.page_at(doc.text.index("goodbye")) == 2 and doc.page_at(0) == 1


def test_pdf_with_empty_password_opens(tmp_path):
    path = tmp_path / "open.pdf"
    path.write_bytes(encrypted_pdf("Readable after all.", ""))
    assert "Readable after all." in read(path)[0][0].text


def test_jsonl_records_and_malformed_lines(tmp_path):
    path = tmp_path / "docs.jsonl"
    lines = [json.dumps({"doc_id": "a", "title": "A", "text": "Alpha text."}), "{broken", json.dumps({"doc_id": "b", "text": "Beta."})]
    path.write_text("\n".join(lines))
    documents, note = read(path)
    assert [d.doc_id for d in documents] == ["a", "b"] and documents[0].title == "A"
    assert note == "skipped malformed lines 2 (line 2: not JSON)"
    # A file with no document says what its first bad line lacks, not just its number.
    path.write_text(json.dumps({"title": "T", "text": "No id."}) + "\n" + json.dumps(["a list"]) + "\n")
    with pytest.raises(Skip, match=r'bad lines: 1, 2; line 1: no "doc_id"\)'):
        read(path)


def test_size_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_text("x " * 1000)
    with pytest.raises(Skip, match="limit"):
        read(path, Limits(max_file_bytes=100))


def test_discover_reports_missing_and_unsupported(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("A.")
    (tmp_path / "program.exe").write_bytes(b"MZ\x90")
    (tmp_path / ".hidden.txt").write_text("hidden")
    found, problems = discover([tmp_path, tmp_path / "nope"])
    assert [f.path.relative_to(tmp_path).as_posix() for f in found] == ["sub/a.txt"]
    assert found[0] == Found(tmp_path / "sub" / "a.txt", tmp_path, tmp_path)
    reasons = dict(problems)
    assert "unsupported" in reasons[str(tmp_path / "program.exe")]
    assert reasons[str(tmp_path / "nope")] == "no such file or folder"


def test_deeply_nested_html_is_read_in_bounded_time(tmp_path):
    import time

    page = tmp_path / "deep.html"
    page.write_text("<div>" * 100_000 + "Deep text." + "</div>" * 100_000)
    began = time.perf_counter()
    assert read(page)[0][0].text == "Deep text."
    assert time.perf_counter() - began < 30  # linear: about a second here, minutes with a tree builder


def test_html_without_closing_head_still_shows_its_body(tmp_path):
    page = tmp_path / "sloppy.htm"
    page.write_text("<html><head><title>Sloppy</title><body><p>Body text.")
    doc = read(page)[0][0]
    assert doc.text == "Body text."


def test_hostile_pdfs_are_refused_with_a_reason_in_bounded_time(tmp_path):
    """A deflate bomb (400 MB from under 1 MB) and a 100,000-page PDF (16 MB on disk)."""
    import time

    (tmp_path / "bomb.pdf").write_bytes(bomb_pdf())
    (tmp_path / "pages.pdf").write_bytes(many_pages_pdf(100_000))
    began = time.perf_counter()
    with pytest.raises(Skip, match="malformed PDF"):
        read(tmp_path / "bomb.pdf")
    with pytest.raises(Skip, match="100000 pages, more than the 2000 limit"):
        read(tmp_path / "pages.pdf")
    assert time.perf_counter() - began < Limits().pdf_seconds * 2


def test_pdf_reading_stops_at_the_memory_limit(tmp_path):
    path = tmp_path / "inflates.pdf"
    path.write_bytes(bomb_pdf(60_000_000))  # under pypdf's own inflate cap, over this bound
    with pytest.raises(Skip, match="more than the 100 MB memory limit"):
        read(path, Limits(pdf_memory_bytes=100 * 2**20))


def test_pdf_reading_stops_at_the_time_limit(tmp_path):
    path = tmp_path / "pages.pdf"
    path.write_bytes(many_pages_pdf(100_000))  # its page tree alone takes seconds to walk
    with pytest.raises(Skip, match="longer than 1 s"):
        read(path, Limits(pdf_seconds=1))


def test_a_200_mb_page_is_refused_before_it_is_read(tmp_path):
    page = tmp_path / "huge.html"
    with open(page, "wb") as f:  # sparse: the test writes almost nothing
        f.write(b"<html><body><p>")
        f.truncate(200_000_000)
    with pytest.raises(Skip, match="larger than the 50 MB limit"):
        read(page)
