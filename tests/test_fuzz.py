"""Mutated inputs for every loader: a file is read or skipped with a reason, nothing else escapes."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdfs import text_pdf

from qa.documents import Found, Skip, load
from qa.sentences import split
from qa.settings import Limits

SEEDS = {
    ".txt": "US to Back Ukraine’s Postwar Security.\nMr. Smith said $685 million.\n".encode(),
    ".md": b"# Title\n\n- item one\n- item two\n\nSome *markdown* text. [link](http://x.y)\n",
    ".html": b"<html><head><title>T</title><style>a{}</style></head><body><div><p>One <b>two</b></p>"
             b"<script>var x = '<p>';</script><table><tr><td>cell</td></tr></table></div></body></html>",
    ".jsonl": (json.dumps({"doc_id": "a", "title": "A", "text": "Alpha. Beta."}) + "\n").encode(),
    ".pdf": text_pdf(["Page one text.", "Page two text."]),
}
EXAMPLES = int(os.environ.get("QA_FUZZ_EXAMPLES", "60"))


@st.composite
def mutated(draw, seed: bytes) -> bytes:
    data = bytearray(seed)
    for _ in range(draw(st.integers(0, 8))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "repeat"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "truncate":
            del data[at:]
        elif action == "repeat":
            data[at:at] = data[at : at + 32] * draw(st.integers(1, 50))
    return bytes(data)


def check(tmp_path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        documents, _ = load(Found(path, tmp_path, tmp_path), Limits(pdf_seconds=20))
    except Skip as skip:
        assert str(skip)
        return
    for doc in documents:
        for sentence in split(doc):
            assert doc.text[sentence.start : sentence.end] == sentence.text


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".jsonl"])
def test_text_loaders_survive_mutation(tmp_path_factory, suffix):
    @settings(max_examples=EXAMPLES, deadline=5000, suppress_health_check=list(HealthCheck))
    @given(mutated(SEEDS[suffix]))
    def run(data):
        check(tmp_path_factory.mktemp("fuzz"), suffix, data)

    run()


def test_pdf_loader_survives_mutation(tmp_path_factory):
    @settings(max_examples=max(10, EXAMPLES // 3), deadline=30000, suppress_health_check=list(HealthCheck))
    @given(mutated(SEEDS[".pdf"]))
    def run(data):
        check(tmp_path_factory.mktemp("fuzz"), ".pdf", data)

    run()


def _office_seeds() -> dict[str, bytes]:
    """One small real file of each structured format, written by the tests' own makers."""
    import tempfile
    from pathlib import Path

    import formats

    makers = {".docx": formats.docx_file, ".pptx": formats.pptx_file, ".xlsx": formats.xlsx_file,
              ".csv": formats.csv_file, ".epub": formats.epub_file, ".eml": formats.eml_file,
              ".mbox": formats.mbox_file, ".odt": formats.odt_file}
    seeds = {}
    with tempfile.TemporaryDirectory() as folder:
        for suffix, make in makers.items():
            path = Path(folder) / f"seed{suffix}"
            make(path)
            seeds[suffix] = path.read_bytes()
    return seeds


@pytest.fixture(scope="module")
def office_seeds():
    return _office_seeds()


@pytest.mark.parametrize("suffix", [".docx", ".pptx", ".xlsx", ".csv", ".epub", ".eml", ".mbox", ".odt"])
def test_structured_loaders_survive_mutation(tmp_path_factory, office_seeds, suffix):
    @settings(max_examples=max(10, EXAMPLES // 2), deadline=10000, suppress_health_check=list(HealthCheck))
    @given(mutated(office_seeds[suffix]))
    def run(data):
        check(tmp_path_factory.mktemp("fuzz"), suffix, data)

    run()
