"""One file of every format in one folder, plus a web page on a loopback server: each is ingested,
and a question about it is answered with a citation whose locator names the right place and
whose text is exactly what the stored document holds at its offsets."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT
from formats import (csv_file, docx_file, eml_file, epub_file, mbox_file, odt_file, png_file, pptx_file,
                     scanned_pdf, xlsx_file)
from loopback import ARTICLE, serving
from pdfs import text_pdf

from qa.render import format_report
from qa.ingest import ingest
from qa.settings import Settings

PAGES = {"/keepers.html": (200, "text/html; charset=utf-8", ARTICLE.encode())}


@pytest.fixture(scope="module")
def library(tmp_path_factory, encoder):
    """The folder, its index and the ingest report, shared by every test here."""
    from qa import ocr

    if ocr.missing():
        if os.environ.get("CI"):
            raise AssertionError(f"{ocr.missing()}: make test installs it (scripts/install-ocr.sh)")
        pytest.skip(ocr.missing())
    docs = tmp_path_factory.mktemp("formats") / "docs"
    docs.mkdir()
    docx_file(docs / "harbour.docx")
    pptx_file(docs / "review.pptx")
    xlsx_file(docs / "sales.xlsx")
    csv_file(docs / "wildlife.csv")
    epub_file(docs / "valley.epub")
    eml_file(docs / "budget.eml")
    mbox_file(docs / "team.mbox")
    odt_file(docs / "notes.odt")
    scanned_pdf(docs / "memo.pdf", [["The ferry leaves Molde at seven", "every morning."],
                                    ["Second page: return tickets", "cost forty crowns."]])
    png_file(docs / "sign.png", ["The museum opens at nine on Sundays."])
    (docs / "report.pdf").write_bytes(text_pdf(["The annual report covers the fjord ferries.",
                                                "Passenger numbers doubled after the new timetable."]))
    (docs / "notes.txt").write_text("Zebra notes.\n\nThe zebra migration starts in July.\n")
    index_dir = tmp_path_factory.mktemp("formats") / "index"
    with serving(PAGES) as site:
        report = ingest([docs, f"{site}/keepers.html"], Settings(index_dir=index_dir), encoder=encoder)
        yield docs, index_dir, report, site


@pytest.fixture(scope="module")
def ask(library):
    from qa.assistant import Assistant

    assistant = Assistant(Settings(index_dir=library[1]))

    def asked(question: str, expect: str, doc_id: str):
        answer = assistant.ask(question)
        assert expect in answer.answer, (question, answer.answer)
        cited = [c for c in answer.citations if c.doc_id == doc_id and expect in c.text]
        assert cited, (question, [(c.doc_id, c.text) for c in answer.citations])
        stored = assistant.index.documents[doc_id].document
        for c in answer.citations:  # every citation resolves to the text at its offsets
            assert assistant.index.documents[c.doc_id].document.text[c.start : c.end] == c.text
        assert json.loads(json.dumps(answer.to_json()))["citations"][0]["locator"] == answer.citations[0].locator
        return cited[0], stored

    return asked


def test_every_format_is_indexed(library):
    docs, _, report, site = library
    outcomes = {f.path: f for f in report.files}
    assert all(f.status == "indexed" for f in report.files), format_report(report, "index")
    assert len(outcomes) == 13
    assert outcomes[str(docs / "memo.pdf")].ocr_pages == 2 and outcomes[str(docs / "sign.png")].ocr_pages == 1
    assert "3 pages read by OCR" in format_report(report, "index")


# A known regression of the reader (issue 12): it was trained on prose, and a spreadsheet row read
# as "Region: North; Manager: Ingrid Dahl" scores below the abstention threshold, where
# resemblance alone answered. Strict: the day a reader answers them, these marks must go.
ROWS_NOT_YET_READ = pytest.mark.xfail(strict=True, reason="the reader does not yet read spreadsheet rows (issue 12)")


@pytest.mark.parametrize("question, expect, doc_id, locator", [
    ("Who rebuilt the harbour of Velmora?", "fishing cooperative", "harbour.docx", {"paragraph": 2}),
    ("Who owns the boat Tern?", "Jon Mikkelsen", "harbour.docx", {"table": 1, "row": 3}),
    ("How many engineers did the Oslo office hire?", "twelve engineers", "review.pptx", {"slide": 2}),
    pytest.param("Who is the manager of the North region?", "Ingrid Dahl", "sales.xlsx", {"sheet": "Sales", "row": 2},
                 marks=ROWS_NOT_YET_READ),
    ("What is the capacity of the Bremen warehouse?", "7100", "sales.xlsx", {"sheet": "Warehouses", "row": 3}),
    pytest.param("Where does the lynx live?", "Dovrefjell", "wildlife.csv", {"sheet": "wildlife.csv", "row": 3},
                 marks=ROWS_NOT_YET_READ),
    ("Who ran the old forge?", "Taavi", "valley.epub", {"chapter": 2, "paragraph": 4}),
    ("How big is the bridge repair budget?", "2.4 million euros", "budget.eml",
     {"message": "Budget for the bridge", "from": "Lena Berg <lena@example.org>", "date": "2025-03-04T09:15:00+01:00"}),
    ("When did the council approve the bridge repair?", "3 March", "budget.eml",
     {"message": "Budget for the bridge", "from": "Lena Berg <lena@example.org>", "date": "2025-03-04T09:15:00+01:00",
      "attachment": "minutes.txt"}),
    ("Where does the mail server move?", "Bergen data centre", "team.mbox#2",
     {"message": "Server move", "from": "Ruth Adler <ruth@example.org>", "date": "2025-06-09T08:30:00+00:00"}),
    ("How high is the beaver dam on the Orkla river?", "three metres", "notes.odt", {"paragraph": 2}),
    ("When does the ferry leave Molde?", "seven", "memo.pdf", {"page": 1}),
    ("What do return tickets cost?", "forty crowns", "memo.pdf", {"page": 2}),
    ("When does the museum open on Sundays?", "nine", "sign.png", {"page": 1}),
    ("What happened to passenger numbers after the new timetable?", "doubled", "report.pdf", {"page": 2}),
    ("When does the zebra migration start?", "July", "notes.txt", {"paragraph": 2}),
])
def test_answer_cites_the_right_place(ask, question, expect, doc_id, locator):
    citation, _ = ask(question, expect, doc_id)
    assert citation.locator == locator


def test_web_page_is_cited_by_its_url(ask, library):
    url = f"{library[3]}/keepers.html"
    citation, stored = ask("Who kept the Marstein lighthouse?", "Olsen family", url)
    assert citation.locator == {"url": url}
    assert stored.fetched and stored.source == url and stored.title == "Lighthouse keepers of Hordaland"
    assert "Copyright" not in stored.text and "Home" not in stored.text  # the main text, not the page's frame


def test_spreadsheet_values_never_formulas(library):
    from qa.store import open_index

    index = open_index(library[1], *_model(library[1]))
    sales = index.documents["sales.xlsx"].document.text
    assert "Region: Total; Revenue: 200" in sales and "SUM" not in sales and "=" not in sales


def test_ask_json_gives_each_citation_its_locator(library):
    done = subprocess.run(
        [sys.executable, "-m", "qa.cli", "ask", "How many engineers did the Oslo office hire?",
         "--index", str(library[1]), "--json"],
        capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    citation = json.loads(done.stdout)["citations"][0]
    assert citation["locator"] == {"slide": 2} and citation["page"] is None and citation["doc_id"] == "review.pptx"


def _model(index_dir):
    from qa import store
    from qa.embedding import encoder_for

    encoder = encoder_for(store.recorded_model(index_dir), Settings().embedding)
    return encoder.name, encoder.dimension, Settings().index_fingerprint(encoder.name)
