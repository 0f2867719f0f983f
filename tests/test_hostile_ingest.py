"""A folder of hostile and malformed files: each ends as exactly one outcome, and the summary says which."""

from collections import Counter
from pathlib import Path

from pdfs import bomb_pdf, encrypted_pdf, image_only_pdf, text_pdf

from qa.cli import format_report
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
}


def test_every_file_ends_as_exactly_one_outcome_with_a_reason(tmp_path, encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, data in FILES.items():
        (docs / name).write_bytes(data)
    report = ingest([docs], Settings(index_dir=tmp_path / "index"), encoder=encoder)

    seen = Counter(Path(f.path).name for f in report.files)
    assert seen == Counter(set(FILES)), "a file was reported twice or not at all"
    outcome = {Path(f.path).name: f for f in report.files}
    assert {n for n, f in outcome.items() if f.status == "indexed"} == {"good.txt", "cp1252.txt", "deep.html", "report.pdf"}
    assert all(f.status in ("indexed", "skipped", "failed") for f in report.files)
    assert "encrypted" in outcome["locked.pdf"].reason
    assert "no text layer" in outcome["scan.pdf"].reason
    assert "unsupported" in outcome["photo.png"].reason
    summary = format_report(report, tmp_path / "index")
    for name, f in outcome.items():
        if f.status != "indexed":
            assert f.reason and f"{f.status}: {docs / name}: {f.reason}" in summary
    assert "4 files indexed" in summary and f"{len(FILES) - 4} skipped" in summary
