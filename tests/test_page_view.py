"""The web chat shows a cited PDF sentence marked on its rendered page, in a real headless Chromium."""

from __future__ import annotations

import io

import pytest
from pdfs import lines_pdf
from webapp import CHROMIUM, CHROMIUM_FLAGS, ask, browser, running_app

pytestmark = pytest.mark.browser

LINES = ["The harbour authority published its yearly review.", "Cargo volumes were flat in the spring.",
         "The new container crane arrived from Rotterdam in August.", "Night shifts were cut to save power.",
         "The ferry terminal will be repainted next year."]
TARGET = 2  # the cited line: the third of page 2, not the first thing on the page


def marked_rows(png: bytes) -> list[int]:
    """Rows of the image holding the highlighter's translucent yellow over white paper."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pixels = image.load()
    return [y for y in range(height)
            if sum(1 for x in range(0, width, 2) if pixels[x, y][0] > 240 and 220 < pixels[x, y][1] < 250 and pixels[x, y][2] < 175) > 40]


def test_cited_pdf_sentence_is_marked_on_its_page(tmp_path, encoder):
    from qa.ingest import ingest
    from qa.page_image import SCALE
    from qa.settings import Settings

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "review.pdf").write_bytes(lines_pdf([["Contents: a review of the harbour year."], LINES]))
    index_dir = tmp_path / "index"
    ingest([docs], Settings(index_dir=index_dir), encoder=encoder)
    with running_app(index_dir) as url, browser() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1400})
        page.goto(url)
        ask(page, "Where did the new container crane come from?", "Rotterdam")
        page.get_by_text("review.pdf · page 2").first.wait_for(timeout=30_000)
        view = page.locator("#page-view img")
        view.wait_for(timeout=60_000)
        shown = page.request.get(view.get_attribute("src")).body()
        page.locator("#page-view").screenshot(path=str(tmp_path / "page-view.png"))
        page.screenshot(path=str(tmp_path / "chat-with-page.png"), full_page=True)
        chromium.close()
    rows = marked_rows(shown)
    assert rows, "no highlight on the page image"
    # Line n's baseline is 16 points below line n-1's, from y=720 on a 792-point page.
    baseline = (792 - (720 - 16 * TARGET)) * SCALE
    assert baseline - 14 * SCALE <= min(rows) and max(rows) <= baseline + 6 * SCALE, (min(rows), max(rows), baseline)
    print(f"page view screenshot: {tmp_path / 'page-view.png'}")
