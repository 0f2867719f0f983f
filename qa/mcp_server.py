"""The MCP server: tools `ask` and `search` with structured citations, the documents as resources.

    qa mcp [--index DIR]                       stdio, for an assistant or IDE that starts it
    qa mcp --http [--host H] [--port 8001]     streamable HTTP at /mcp (a token beyond loopback)

Built on the official SDK's `MCPServer` (FastMCP's successor in mcp 2.x). A tool returns the same
record as `qa ask --json` and POST /v1/ask (qa/schema.py), as the tool's structured output with
its schema; documents are listed as `groundqa://documents/<doc_id>` resources holding their text.
Stdout belongs to the protocol on stdio: logs go to stderr.
"""

from __future__ import annotations

import logging
import secrets
import sys
from typing import TYPE_CHECKING
from urllib.parse import quote

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from mcp_types import Resource, ToolAnnotations

from qa.errors import UserError
from qa.schema import AnswerRecord, DocumentList, SearchHit, SearchResult

if TYPE_CHECKING:
    from qa.assistant import Assistant

log = logging.getLogger("groundqa.mcp")
SCHEME = "groundqa://documents"
INSTRUCTIONS = (
    "Answers questions about the user's documents. Call `ask` with the question (and the earlier "
    "questions of the conversation as `history`): the answer text holds markers [1], [2] that index "
    "`citations`, each the exact sentence with its document, sentence number and character span. "
    "When `abstained` is true the documents do not answer the question: say so rather than guess. "
    "`search` returns the best-matching sentences without writing an answer."
)


class GroundQAServer(MCPServer):
    """An MCPServer whose resource list is the index's documents, as they are when asked."""

    def __init__(self, assistant: Assistant) -> None:
        super().__init__(name="groundqa", instructions=INSTRUCTIONS, log_level="WARNING")
        self.assistant = assistant

    async def list_resources(self) -> list[Resource]:
        """The fixed resources and the index's first 1,000 documents (this MCP SDK's listing
        takes no cursor; `groundqa://documents` says how many there are in all)."""
        listed = await super().list_resources()
        page = await anyio.to_thread.run_sync(lambda: DocumentList.page_of(self.assistant.index))
        return listed + [Resource(uri=document_uri(d.doc_id), name=d.doc_id, title=d.title, mime_type="text/plain")
                         for d in page.documents]


def document_uri(doc_id: str) -> str:
    return f"{SCHEME}/{quote(doc_id, safe='')}"


def build(assistant: Assistant) -> GroundQAServer:
    server = GroundQAServer(assistant)
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    async def in_thread(fn, *args):
        """Library errors become tool errors with their message; anything else is logged, not shown."""
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except UserError as exc:
            raise ToolError(str(exc)) from None
        except Exception:
            log.exception("%s failed", getattr(fn, "__name__", fn))
            raise ToolError("Something went wrong; it has been logged on the server.") from None

    @server.tool(title="Ask the documents", annotations=read_only)
    async def ask(question: str, history: list[str] | None = None) -> AnswerRecord:
        """Answer a question from the indexed documents, citing the exact sentences.

        Args:
            question: the question
            history: earlier user questions of the conversation, oldest first (for follow-ups)
        """
        answer = await in_thread(assistant.ask, question, history or [])
        return AnswerRecord.model_validate(answer.to_json())

    @server.tool(title="Search the documents", annotations=read_only)
    async def search(query: str, k: int = 10, history: list[str] | None = None) -> SearchResult:
        """The sentences that best match a query, ranked, with where each sits in its document.

        Args:
            query: what to look for
            k: how many sentences (1-100)
            history: earlier user questions, for a follow-up query
        """
        from qa.retrieve import resolve

        hits = await in_thread(assistant.search, query, history or [], max(1, min(k, 100)))
        return SearchResult(query=resolve(query.strip(), history or []), hits=[SearchHit.of(hit) for hit in hits])

    @server.resource(SCHEME, name="documents", title="Indexed documents", mime_type="application/json")
    async def documents() -> str:
        """The indexed documents (the first 1,000; `total` counts them all): each one's id, title
        and sentence count."""
        listed = await anyio.to_thread.run_sync(lambda: DocumentList.page_of(assistant.index))
        return listed.model_dump_json()

    @server.resource(SCHEME + "/{doc_id}", name="document", title="A document's text", mime_type="text/plain")
    async def document(doc_id: str) -> str:
        """The text of one document exactly as indexed (citations' start/end index into it)."""
        index = await anyio.to_thread.run_sync(lambda: assistant.index)
        stored = index.documents.get(doc_id)
        if stored is None:
            raise ResourceError(f"No document {doc_id!r} in the index: read {SCHEME} for the list.")
        return stored.document.text

    return server


class _BearerToken:
    """Streamable HTTP beyond loopback: every request carries the token, as for the HTTP API."""

    def __init__(self, app, token: str) -> None:
        self.app, self.token = app, token.encode()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not (given.startswith(b"Bearer ") and secrets.compare_digest(given[7:], self.token)):
                from starlette.responses import JSONResponse

                response = JSONResponse({"error": "A valid token is required: Authorization: Bearer <QA_API_TOKEN>."},
                                        401, headers={"WWW-Authenticate": "Bearer"})
                return await response(scope, receive, send)
        await self.app(scope, receive, send)


def serve(settings, http: bool = False, host: str = "127.0.0.1", port: int = 8001, token: str | None = None) -> int:
    """`qa mcp`: load the model and index, then serve on stdio or streamable HTTP until stopped."""
    from qa.assistant import Assistant
    from qa.server import require_token

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if http:
        require_token(host, token)
    assistant = Assistant(settings)
    assistant.warm_up()
    server = build(assistant)
    if not http:
        server.run("stdio")
        return 0
    import uvicorn

    app = server.streamable_http_app(host=host)
    print(f"groundqa MCP server at http://{host}:{port}/mcp", file=sys.stderr, flush=True)
    uvicorn.run(_BearerToken(app, token) if token else app, host=host, port=port, log_level="warning")
    return 0
