"""`qa mcp` driven by the official MCP SDK's own client over stdio, as an assistant or IDE starts it."""

from __future__ import annotations

import os
import sys

import anyio
import pytest
from ask_json import SAMPLE_QUESTION, ask_json

pytest.importorskip("mcp")

from mcp import Client, StdioServerParameters  # noqa: E402


@pytest.fixture(scope="module")
def session_results(sample_index):
    """One `qa mcp` process answers every call of this module (starting it loads the model)."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "qa.cli", "mcp", "--index", str(sample_index)],
                                   env={**os.environ, "HF_HUB_OFFLINE": "1"})
    results = {}

    async def talk() -> None:
        async with Client(params, read_timeout_seconds=120) as client:
            results["tools"] = (await client.list_tools()).tools
            results["ask"] = await client.call_tool("ask", {"question": SAMPLE_QUESTION})
            results["follow_up"] = await client.call_tool("ask", {
                "question": "How many countries are ready to send personnel to it?",
                "history": ["Who leads the Coalition of the Willing?"]})
            results["empty"] = await client.call_tool("ask", {"question": "  "})
            results["search"] = await client.call_tool("search", {"query": "ground troops", "k": 3})
            results["resources"] = (await client.list_resources()).resources
            results["templates"] = (await client.list_resource_templates()).resource_templates
            results["document"] = await client.read_resource("groundqa://documents/000_03cab0ef675863a0.txt")
            results["listing"] = await client.read_resource("groundqa://documents")
            try:
                await client.read_resource("groundqa://documents/nothing-here.txt")
            except Exception as exc:  # noqa: BLE001 - the SDK's error type is what we look at
                results["missing"] = exc

    anyio.run(talk)
    return results


def test_ask_tool_gives_what_qa_ask_json_gives(session_results, sample_index):
    expected = ask_json(sample_index)
    result = session_results["ask"]
    assert not result.is_error
    assert result.structured_content["answer"] == expected["answer"]
    assert result.structured_content["citations"] == expected["citations"]
    assert result.structured_content["abstained"] is False
    assert "10 countries" in session_results["follow_up"].structured_content["answer"]


def test_tools_declare_their_structured_output(session_results):
    tools = {tool.name: tool for tool in session_results["tools"]}
    assert set(tools) == {"ask", "search"}
    citation = tools["ask"].output_schema["$defs"]["CitationRecord"]["properties"]
    assert {"doc_id", "sentence_index", "start", "end", "text"} <= set(citation)
    assert tools["ask"].annotations.read_only_hint is True
    assert "history" in tools["ask"].input_schema["properties"]


def test_a_bad_question_is_a_tool_error_with_its_message(session_results):
    empty = session_results["empty"]
    assert empty.is_error and "question is empty" in empty.content[0].text


def test_search_and_documents_as_resources(session_results):
    hits = session_results["search"].structured_content["hits"]
    assert len(hits) == 3 and any("ground troops" in hit["text"] for hit in hits)
    uris = {str(resource.uri) for resource in session_results["resources"]}
    assert {"groundqa://documents", "groundqa://documents/000_03cab0ef675863a0.txt",
            "groundqa://documents/001_7b5fe780b854878b.txt"} <= uris
    assert session_results["templates"][0].uri_template == "groundqa://documents/{doc_id}"
    text = session_results["document"].contents[0].text
    cited = session_results["ask"].structured_content["citations"]
    for citation in (c for c in cited if c["doc_id"] == "000_03cab0ef675863a0.txt"):
        assert text[citation["start"] : citation["end"]] == citation["text"]  # offsets index the resource
    assert '"sentences":35' in session_results["listing"].contents[0].text
    assert "No document 'nothing-here.txt'" in str(session_results["missing"])


def test_streamable_http_needs_its_token(sample_index, monkeypatch, capsys):
    import subprocess
    import time

    import httpx
    import httpx2
    from mcp.client.streamable_http import streamable_http_client
    from webapp import free_port

    from qa.cli import main

    monkeypatch.delenv("QA_API_TOKEN", raising=False)
    assert main(["mcp", "--http", "--host", "0.0.0.0", "--index", str(sample_index)]) == 1
    assert "without a token" in capsys.readouterr().err

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "mcp", "--http", "--port", str(port), "--index",
                               str(sample_index)], env={**os.environ, "QA_API_TOKEN": "mcp-token"})
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None and time.monotonic() < deadline, "qa mcp --http did not start"
            try:
                refused = httpx.post(url, json={})
                break
            except httpx.TransportError:
                time.sleep(0.3)
        assert refused.status_code == 401

        async def search() -> dict:
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer mcp-token"}) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    return (await client.call_tool("search", {"query": "ground troops", "k": 2})).structured_content

        assert "ground troops" in anyio.run(search)["hits"][0]["text"]
    finally:
        server.terminate()
        server.wait(timeout=20)
