"""A folder of hostile and malformed files: each ends as exactly one outcome, and the summary says which."""

from collections import Counter
from pathlib import Path

from pdfs import bomb_pdf, encrypted_pdf, image_only_pdf, text_pdf

from qa.render import format_report
from qa.ingest import ingest
from qa.settings import Settings

FILES = {
    "good.txt": "The harbour opens at dawn.".encode(),
    "cp1252.txt": "Café prices rose 5 € today.".encode("cp1252"),
    "deep.html": ("<div>" * 50_000 + "The deep page says hello." + "</div>" * 50_000).encode(),
    "report.pdf": text_pdf(["The report has one page."]),
    "bomb.pdf": bomb_pdf(),
    "locked.pdf": encrypted_pdf("Secret text.", "pw"),
    "scan.pdf": image_only_pdf(),
    "truncated.pdf": text_pdf(["Cut short."])[:80],
    "binary.txt": bytes(range(256)) * 8,
    "empty.md": b"",
    "photo.png": b"\x89PNG\r\n",
    "slides.pptx": b"PK\x03\x04" + bytes(200),
    "book.epub": b"PK\x05\x06" + bytes(18),
    "program.exe": b"MZ\x90\x00",
}


def office_files(folder: Path) -> None:
    """Hostile and broken Office files, made by the libraries that write the real ones."""
    from formats import docx_file, encrypted_xlsx, zip_bomb

    docx_file(folder / "whole.docx")
    (folder / "corrupt.docx").write_bytes((folder / "whole.docx").read_bytes()[:3000])
    (folder / "whole.docx").unlink()
    encrypted_xlsx(folder / "locked.xlsx", "pw")
    zip_bomb(folder / "bomb.docx")  # 1 GB from 1 MB
    zip_bomb(folder / "liar.docx", declared=4096)  # the same, its headers claiming 4 kB
    with open(folder / "huge.mbox", "wb") as f:  # sparse: the test writes almost nothing
        f.write(b"From someone@example.org Mon Jan  1 00:00:00 2024\n")
        f.truncate(600_000_000)


OFFICE = {"corrupt.docx", "locked.xlsx", "bomb.docx", "liar.docx", "huge.mbox"}


def test_every_file_ends_as_exactly_one_outcome_with_a_reason(tmp_path, encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, data in FILES.items():
        (docs / name).write_bytes(data)
    office_files(docs)
    report = ingest([docs], Settings(index_dir=tmp_path / "index"), encoder=encoder)

    names = set(FILES) | OFFICE
    seen = Counter(Path(f.path).name for f in report.files)
    assert seen == Counter(names), "a file was reported twice or not at all"
    outcome = {Path(f.path).name: f for f in report.files}
    assert {n for n, f in outcome.items() if f.status == "indexed"} == {"good.txt", "cp1252.txt", "deep.html", "report.pdf"}
    assert all(f.status in ("indexed", "skipped", "failed") for f in report.files)
    assert "encrypted" in outcome["locked.pdf"].reason
    assert "no text layer" in outcome["scan.pdf"].reason
    assert "damaged or unknown image" in outcome["photo.png"].reason
    assert "unsupported" in outcome["program.exe"].reason
    assert "damaged .pptx" in outcome["slides.pptx"].reason and "damaged .epub" in outcome["book.epub"].reason
    assert "damaged .docx file (not a readable zip archive)" == outcome["corrupt.docx"].reason
    assert "password-protected .xlsx" in outcome["locked.xlsx"].reason
    assert "would unpack to 1000 MB, over the 300 MB limit (a zip bomb?)" in outcome["bomb.docx"].reason
    assert "damaged .docx" in outcome["liar.docx"].reason
    assert "larger than the 500 MB limit for mailboxes" in outcome["huge.mbox"].reason
    summary = format_report(report, tmp_path / "index")
    for name, f in outcome.items():
        if f.status != "indexed":
            assert f.reason and f"{f.status}: {docs / name}: {f.reason}" in summary
    assert "4 files indexed" in summary and f"{len(names) - 4} skipped" in summary
    assert f"no text at all in 2 files: {docs / 'empty.md'}, {docs / 'scan.pdf'}" in summary
