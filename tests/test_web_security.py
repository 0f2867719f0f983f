"""What the web server hands out, and who may reach it."""

import urllib.error
import urllib.request

import pytest
from conftest import ROOT
from webapp import running_app

from qa.errors import UserError


def status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_file_routes_refuse_paths_outside_the_app(index_copy):
    secrets = ["/etc/passwd", str(ROOT / "pyproject.toml"), str(index_copy / "CURRENT"), str(ROOT / "app.py")]
    with running_app(index_copy) as url:
        assert status(url) == 200
        for path in secrets:
            for route in ("/file=", "/gradio_api/file="):
                assert status(f"{url}{route}{path}") in (403, 404), f"{route}{path} was served"
        assert status(f"{url}/gradio_api/file=../../../../etc/passwd") in (403, 404)


def test_open_host_needs_a_password_or_an_explicit_flag(monkeypatch):
    from app import credentials

    monkeypatch.delenv("QA_WEB_USER", raising=False)
    monkeypatch.delenv("QA_WEB_PASSWORD", raising=False)
    assert credentials("127.0.0.1", False) is None
    assert credentials("localhost", False) is None
    with pytest.raises(UserError, match="QA_WEB_USER"):
        credentials("0.0.0.0", False)
    assert credentials("0.0.0.0", True) is None
    monkeypatch.setenv("QA_WEB_USER", "ana")
    monkeypatch.setenv("QA_WEB_PASSWORD", "s3cret")
    assert credentials("0.0.0.0", False) == ("ana", "s3cret")


def test_text_is_escaped_for_html_and_markdown():
    from qa.types import Answer
    from qa.web import answer_html, text

    shown = text('<img src=x onerror="alert(1)"> ![x](http://evil/?q=1) [a](javascript:alert(1))')
    assert "<" not in shown and "[" not in shown and "(" not in shown and "!" not in shown
    assert 'class="abstained"' in answer_html(Answer(question="q", answer="The documents don't say.", abstained=True))


def test_the_short_answer_and_its_words_in_the_source_are_escaped_and_set_apart():
    from qa.types import Answer, Citation, ShortAnswer
    from qa.web import answer_html, sources_html

    sentence = "Reported by <b>The *Times*</b> [x](http://evil) on Monday."
    words = "<b>The *Times*</b>"
    at = sentence.index(words)
    citation = Citation(id="s1", doc_id="a.txt", sentence_index=0, start=0, end=len(sentence), text=sentence,
                        page=None, score=0.9)
    answer = Answer(question="q", answer=sentence + " [1]", abstained=False, citations=[citation],
                    short_answer=ShortAnswer(words, 1, at, at + len(words)))
    lead = answer_html(answer)
    assert lead.startswith('<div class="short-answer"><b>') and "<b>The" not in lead
    shown = sources_html(answer, lambda c: ("", c.text, ""))
    assert '<strong class="answer-words">&#60;b&#62;The &#42;Times&#42;&#60;/b&#62;</strong>' in shown
    assert "http://evil" not in shown and "<b>The" not in shown
