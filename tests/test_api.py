"""The HTTP API driven by real clients (httpx, the official openai client) against uvicorn on loopback."""

from __future__ import annotations

import json
import threading

import anyio
import httpx
import pytest
from ask_json import SAMPLE_QUESTION, ask_json, same_answer
from webapp import Uvicorn

from qa.server import ApiError, Queue, RateLimit, create_app

TOKEN = "test-token-5f0c"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def expected(sample_index) -> dict:
    return ask_json(sample_index)


@pytest.fixture(scope="module")
def api(assistant):
    server = Uvicorn(create_app(assistant, token=TOKEN))
    yield server.url
    server.stop()


def test_ask_gives_what_qa_ask_json_gives(api, expected):
    response = httpx.post(f"{api}/v1/ask", json={"question": SAMPLE_QUESTION}, headers=AUTH, timeout=60)
    assert response.status_code == 200
    same_answer(response.json(), expected)
    assert "ground troops" in expected["answer"] and len(expected["citations"]) >= 2

    debug = httpx.post(f"{api}/v1/ask", json={"question": SAMPLE_QUESTION, "debug": True}, headers=AUTH, timeout=60).json()
    assert debug["hits"] and debug["retrieval_query"] == SAMPLE_QUESTION


def test_a_follow_up_uses_its_history(api):
    response = httpx.post(f"{api}/v1/ask", headers=AUTH, timeout=60, json={
        "question": "How many countries are ready to send personnel to it?",
        "history": ["Who leads the Coalition of the Willing?"]})
    assert "10 countries" in response.json()["answer"]


def test_openai_client_gets_the_answer_its_citations_and_a_sources_block(api, expected):
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key=TOKEN, max_retries=0)
    assert [m.id for m in client.models.list()] == ["groundqa", "groundqa-extractive"]
    completion = client.chat.completions.create(
        model="groundqa", messages=[{"role": "system", "content": "Be brief."},
                                    {"role": "user", "content": SAMPLE_QUESTION}])
    text = completion.choices[0].message.content
    assert text.startswith(expected["answer"] + "\n\nSources:\n[1] ")
    for number, citation in enumerate(expected["citations"], start=1):
        line = next(line for line in text.splitlines() if line.startswith(f"[{number}] "))
        assert f"{citation['doc_id']}, sentence {citation['sentence_index'] + 1}" in line
        assert line.endswith(f": “{citation['text']}”")
    assert completion.model_extra["citations"] == expected["citations"]
    assert completion.model_extra["abstained"] is False

    stream = client.chat.completions.create(model="groundqa", stream=True,
                                            messages=[{"role": "user", "content": SAMPLE_QUESTION}])
    chunks = list(stream)
    assert len(chunks) > 3, "the text arrives in pieces"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == expected["citations"]


def test_openai_client_follow_up_and_abstention(api):
    from openai import OpenAI

    client = OpenAI(base_url=f"{api}/v1", api_key=TOKEN, max_retries=0)
    follow_up = client.chat.completions.create(model="groundqa", messages=[
        {"role": "user", "content": "Who leads the Coalition of the Willing?"},
        {"role": "assistant", "content": "The United Kingdom and France [1]."},
        {"role": "user", "content": [{"type": "text", "text": "How many countries are ready to send personnel to it?"}]},
    ])
    assert "10 countries" in follow_up.choices[0].message.content
    peru = client.chat.completions.create(model="groundqa", messages=[{"role": "user", "content": "What is the capital of Peru?"}])
    assert peru.model_extra["abstained"] is True and peru.model_extra["citations"] == []
    assert "Sources" not in peru.choices[0].message.content


def test_wrong_or_missing_token_gets_401(api):
    import openai

    for headers in ({"Authorization": "Bearer not-the-token"}, {}):
        response = httpx.post(f"{api}/v1/ask", json={"question": SAMPLE_QUESTION}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in response.json()["error"]["message"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{api}/v1", api_key="wrong", max_retries=0).chat.completions.create(
            model="groundqa", messages=[{"role": "user", "content": SAMPLE_QUESTION}])
    assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}  # a probe needs no token


def test_a_10_mb_question_gets_413_and_bad_requests_clear_json_errors(api):
    huge = json.dumps({"question": "x" * 10_000_000})
    response = httpx.post(f"{api}/v1/ask", content=huge, headers={**AUTH, "Content-Type": "application/json"})
    assert response.status_code == 413 and "too large" in response.json()["error"]["message"]

    def error(path: str, body, status: int) -> str:
        response = httpx.post(f"{api}{path}", json=body, headers=AUTH, timeout=60)
        assert response.status_code == status, response.text
        return response.json()["error"]["message"]

    assert "at most 2000 characters" in error("/v1/ask", {"question": "x" * 2001}, 422)
    assert "question is empty" in error("/v1/ask", {"question": "   "}, 400)
    assert "question: Field required" in error("/v1/ask", {"query": "?"}, 422)
    assert "does not exist" in error("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}, 404)
    assert "last message" in error("/v1/chat/completions", {"messages": [{"role": "assistant", "content": "Hi"}]}, 400)
    assert "openai" in error("/v1/ask", {"question": SAMPLE_QUESTION, "answerer": "openai"}, 400).lower()


def test_search_and_documents(api, sample_index):
    found = httpx.post(f"{api}/v1/search", json={"query": "ground troops", "k": 3}, headers=AUTH, timeout=60).json()
    assert len(found["hits"]) == 3
    texts = {h["doc_id"]: h for h in found["hits"]}
    assert {"000_03cab0ef675863a0.txt", "001_7b5fe780b854878b.txt"} <= set(texts)
    listed = httpx.get(f"{api}/v1/documents", headers=AUTH).json()
    by_id = {d["doc_id"]: d for d in listed["documents"]}
    assert by_id["000_03cab0ef675863a0.txt"]["sentences"] == 16 and listed["sentences"] == 35
    assert (listed["total"], listed["next_offset"]) == (2, None)
    first = httpx.get(f"{api}/v1/documents?limit=1", headers=AUTH).json()
    second = httpx.get(f"{api}/v1/documents?offset={first['next_offset']}&limit=1", headers=AUTH).json()
    assert [first["documents"] + second["documents"], second["next_offset"]] == [listed["documents"], None]
    assert httpx.get(f"{api}/v1/documents?limit=0", headers=AUTH).status_code == 422
    schema = httpx.get(f"{api}/openapi.json").json()
    answer = schema["components"]["schemas"]["AnswerRecord"]["properties"]
    assert "numbered markers" in answer["answer"]["description"]
    assert "bearer" in json.dumps(schema["components"]["securitySchemes"]).lower()


def test_upload_then_ask_about_it(index_copy, tmp_path):
    from qa.assistant import Assistant
    from qa.settings import Settings

    server = Uvicorn(create_app(Assistant(Settings(index_dir=index_copy))))
    try:
        files = [("files", ("harbour.txt", b"The harbour of Velmora was rebuilt by the fishing cooperative.\n", "text/plain")),
                 ("files", ("broken.pdf", b"%PDF-1.4 not really a pdf", "application/pdf"))]
        report = httpx.post(f"{server.url}/v1/documents", files=files, timeout=120)
        assert report.status_code == 201, report.text
        outcome = {f["name"]: f for f in report.json()["files"]}
        assert outcome["harbour.txt"]["status"] == "indexed"
        assert outcome["broken.pdf"]["status"] == "skipped" and str(index_copy) not in report.text
        answer = httpx.post(f"{server.url}/v1/ask", json={"question": "Who rebuilt the harbour of Velmora?"}, timeout=60)
        assert "fishing cooperative" in answer.json()["answer"]
    finally:
        server.stop()


def test_an_unexpected_failure_is_logged_not_shown(assistant, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals at /srv/index")

    monkeypatch.setattr(assistant, "ask", broken)
    client = TestClient(create_app(assistant), raise_server_exceptions=False)
    response = client.post("/v1/ask", json={"question": SAMPLE_QUESTION})
    assert response.status_code == 500
    assert response.json()["error"]["message"].startswith("Something went wrong")
    assert "secret" not in response.text and "Traceback" not in response.text
    assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records if r.name == "groundqa.api")


def test_a_client_past_its_rate_is_told_when_to_retry(assistant):
    from fastapi.testclient import TestClient

    client = TestClient(create_app(assistant, rate_per_minute=6))
    statuses = [client.get("/v1/models").status_code for _ in range(40)]
    assert statuses[:30] == [200] * 30 and statuses.count(429) >= 9
    refused = client.get("/v1/models")
    assert int(refused.headers["retry-after"]) >= 1 and "a minute" in refused.json()["error"]["message"]

    limit = RateLimit(per_minute=60, burst=2)
    assert [limit.take("a"), limit.take("a"), limit.take("b")] == [0, 0, 0]
    assert 0 < limit.take("a") <= 1


def test_past_the_queue_a_request_is_refused_as_busy():
    queue = Queue(concurrency=1, waiting=1)
    release = threading.Event()
    outcomes: list[str] = []

    async def one() -> None:
        try:
            await queue.run(release.wait)
            outcomes.append("answered")
        except ApiError as exc:
            outcomes.append(f"{exc.status} {exc.kind}")
            release.set()

    async def three() -> None:
        async with anyio.create_task_group() as group:
            for _ in range(3):
                group.start_soon(one)
                await anyio.sleep(0.05)

    anyio.run(three)
    assert sorted(outcomes) == ["503 server_busy", "answered", "answered"]


def test_serve_refuses_a_non_loopback_host_without_a_token(sample_index, monkeypatch, capsys):
    from qa.cli import main

    monkeypatch.delenv("QA_API_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--index", str(sample_index)]) == 1
    assert "without a token: set QA_API_TOKEN" in capsys.readouterr().err


@pytest.mark.browser
def test_app_py_serves_the_api_beside_the_web_chat(index_copy):
    """`app.py --api`: one process, the chat at / and the API at /v1 with its own token."""
    from webapp import running_app

    with running_app(index_copy, "--api", env={"QA_API_TOKEN": TOKEN}) as url:
        assert "groundqa" in httpx.get(url, timeout=30).text
        answer = httpx.post(f"{url}/v1/ask", json={"question": SAMPLE_QUESTION}, headers=AUTH, timeout=60)
        assert answer.status_code == 200 and "ground troops" in answer.json()["answer"]
        assert httpx.post(f"{url}/v1/ask", json={"question": SAMPLE_QUESTION}, timeout=60).status_code == 401
        assert httpx.get(f"{url}/config", timeout=30).status_code == 200  # Gradio's own routes still answer


def test_32_clients_at_once_get_answers_and_no_errors(api, monkeypatch):
    """What eval/load_api.py measures, briefly: 32 clients, each from its own loopback address."""
    import importlib.util
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parent.parent / "eval"
    monkeypatch.syspath_prepend(str(folder))  # load_api reuses load_web's questions and helpers
    spec = importlib.util.spec_from_file_location("load_api", folder / "load_api.py")
    load_api = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "load_api", load_api)
    spec.loader.exec_module(load_api)

    latencies, errors, _ = anyio.run(load_api.run, api, TOKEN, 32, 3.0, 0.0, "ask")
    assert errors == [] and len(latencies) >= 32
