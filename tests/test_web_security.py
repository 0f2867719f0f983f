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
