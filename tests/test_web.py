"""The web chat in a real headless Chromium, against app.py started as users start it."""

import pytest
from webapp import CHROMIUM, CHROMIUM_FLAGS, ask, browser, running_app

pytestmark = pytest.mark.browser


def test_ask_follow_up_and_see_sources(index_copy, tmp_path):
    with running_app(index_copy) as url, browser() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        ask(page, "What did the US rule out?", "ground troops")
        sources = page.locator(".sources")
        sources.get_by_text("000_03cab0ef675863a0.txt").first.wait_for(timeout=30_000)
        assert sources.get_by_text("001_7b5fe780b854878b.txt").count() >= 1
        assert "reported by 2 sources" in sources.inner_text()
        assert sources.locator("mark").count() >= 2
        page.screenshot(path=str(tmp_path / "sources.png"), full_page=True)

        ask(page, "Who leads the Coalition of the Willing?", "United Kingdom and France")
        ask(page, "How many countries are ready to send personnel to it?", "10 countries")
        # A one-claim answer leads with its short answer, whose words are set apart inside the
        # quoted sentence.
        ask(page, "How many countries are ready to send personnel?", "about 10")
        assert page.locator(".short-answer").last.inner_text().startswith("about 10")
        assert page.locator(".sources mark .answer-words").first.inner_text() == "about 10"
        ask(page, "What is the capital of Peru?", "Nothing in them answers")
        assert page.locator(".abstained").count() >= 1
        page.screenshot(path=str(tmp_path / "chat.png"), full_page=True)
        chromium.close()


def test_document_markup_never_executes(tmp_path, encoder):
    from qa.ingest import ingest
    from qa.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "hostile.txt").write_text(
        "The zebra report says <script>window.__pwned=1</script> migration starts in July.\n"
        'The zebra herd <img src=x onerror="window.__pwned=1"> crossed the river [link](http://evil.example).\n'
    )
    index_dir = tmp_path / "index"
    ingest([docs], Settings(index_dir=index_dir), encoder=encoder)
    with running_app(index_dir) as url, browser() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = chromium.new_page()
        page.goto(url)
        ask(page, "When does the zebra migration start?", "migration starts in July")
        page.wait_for_timeout(1000)
        assert page.evaluate("window.__pwned") is None
        assert page.get_by_text("<script>window.__pwned=1</script>").count() >= 1
        assert page.locator("a[href*='evil.example']").count() == 0
        assert page.locator("img[src='x']").count() == 0
        chromium.close()


def test_upload_documents_a_bad_one_is_reported_and_the_rest_answer(index_copy, tmp_path):
    good = tmp_path / "harbour.txt"
    good.write_text("The harbour of Velmora was rebuilt by the fishing cooperative.\n")
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really a pdf")
    with running_app(index_copy) as url, browser() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_text("Documents", exact=True).click()
        page.locator("input[type=file]").set_input_files([str(good), str(bad)])
        page.get_by_role("button", name="Add to index").click()
        report = page.locator("pre").filter(has_text="files indexed")
        report.wait_for(timeout=120_000)
        assert "skipped: broken.pdf: malformed PDF" in report.inner_text()  # the server's paths stay private
        assert "1 files indexed" in report.inner_text()
        ask(page, "Who rebuilt the harbour of Velmora?", "fishing cooperative")
        page.screenshot(path=str(tmp_path / "upload.png"), full_page=True)
        chromium.close()
