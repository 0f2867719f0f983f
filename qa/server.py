"""The HTTP API: a thin FastAPI layer over `Assistant.ask`, with an OpenAI-compatible route beside it.

    qa serve [--index DIR] [--host 127.0.0.1] [--port 8000] [--token T | QA_API_TOKEN=T]

    POST /v1/ask               question, history -> the answer record (`qa ask --json`'s)
    POST /v1/search            query -> ranked sentences
    GET  /v1/documents         what is indexed
    POST /v1/documents         upload files (multipart) and ingest them, as the web chat does
    POST /v1/chat/completions  OpenAI's chat completions, streaming or not, citations kept
    GET  /v1/models            the answerers, as OpenAI model ids
    POST /v1/feedback          a rating of an answer (qa feedback export makes gold questions of it)
    GET  /healthz              liveness, without a token

The request and response models (qa/schema.py) are the OpenAPI schema at /openapi.json. Every
error is JSON in OpenAI's shape ({"error": {"message", "type", "code"}}); no traceback reaches a
client. A bearer token is required once the server listens beyond loopback; bodies are limited
(413), each client is rate limited (429), and answering runs in a bounded queue (503 when full),
as in the web chat.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import secrets
import shutil
import sys
import time
import uuid
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import anyio
from fastapi import Depends, FastAPI, File, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa import feedback
from qa.errors import UserError
from qa.schema import (
    AnswerRecord,
    AskRequest,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    MAX_LISTED,
    DocumentList,
    ErrorResponse,
    FeedbackRequest,
    FeedbackStored,
    FileOutcomeRecord,
    IngestResult,
    Model,
    ModelList,
    SearchHit,
    SearchRequest,
    SearchResult,
)

if TYPE_CHECKING:
    from qa.assistant import Assistant
    from qa.types import Answer

log = logging.getLogger("groundqa.api")

DEFAULT_PORT = 8000
# As the web chat (app.py): two cores answer about one question at a time; a few run together so
# one slow LLM reply does not hold everyone up, the rest wait in a bounded queue, and past it a
# client is told at once that the server is busy.
CONCURRENCY = 4
MAX_QUEUE = 64
MAX_BODY_BYTES = 1_000_000  # a question is at most 2,000 characters; history and citations fit many times over
MAX_UPLOAD_BYTES = 200 * 1024**2  # one upload request, all files together
MAX_UPLOAD_FILE_BYTES = 20 * 1024**2  # each file, as in the web chat
MAX_UPLOAD_FILES = 50
# Per client (address): a person or a portal asks far less; a runaway script is stopped without
# starving the others. 32 clients asking back to back each got about one answer a second.
RATE_PER_MINUTE = 120
RATE_BURST = 30
STREAM_WORDS = 12  # words per streamed chunk
MODEL = "groundqa"

_bearer = HTTPBearer(auto_error=False, description="The server's QA_API_TOKEN (required beyond loopback)")
_ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 413, 422, 429, 503)}


def is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_token(host: str, token: str | None) -> None:
    """Anyone who can reach a non-loopback address could use the API and read the documents."""
    if not token and not is_loopback(host):
        raise UserError(f"Refusing to serve the API on {host} without a token: set QA_API_TOKEN "
                        "(clients then send Authorization: Bearer <token>).")


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers


def error_response(status: int, message: str, kind: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


class RateLimit:
    """A token bucket per client: `burst` requests at once, refilled at `per_minute`."""

    def __init__(self, per_minute: float, burst: int = RATE_BURST, clients: int = 10_000) -> None:
        self.rate = per_minute / 60
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, when)
        self._clients = clients

    def take(self, client: str) -> float:
        """0 when the request may go ahead, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(self.burst, tokens + (now - then) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1 if not wait else tokens, now)
        while len(self._buckets) > self._clients:  # forget the longest idle
            self._buckets.popitem(last=False)
        return wait


class Queue:
    """At most `concurrency` answers at once in worker threads, `waiting` more queued, the rest refused."""

    def __init__(self, concurrency: int = CONCURRENCY, waiting: int = MAX_QUEUE) -> None:
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.capacity = concurrency + waiting
        self.pending = 0

    async def run(self, fn, *args):
        if self.pending >= self.capacity:
            raise ApiError(503, "The server is busy answering other questions: try again in a moment.",
                           "server_busy", {"Retry-After": "1"})
        self.pending += 1
        try:
            return await anyio.to_thread.run_sync(fn, *args, limiter=self.limiter)
        finally:
            self.pending -= 1


class _TooLarge(StarletteHTTPException):
    def __init__(self) -> None:
        super().__init__(413)


class BodyLimit:
    """Refuses request bodies over the limit (uploads have a larger one) with a JSON 413: at once
    when Content-Length says so, else as soon as the bytes read pass it.

    Starlette's own limit answers in plain text from outside the exception handlers.
    """

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):  # e.g. a web chat mounted beside
            return await self.app(scope, receive, send)
        limit = MAX_UPLOAD_BYTES if scope["path"] == "/v1/documents" else MAX_BODY_BYTES
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > limit:
            return await _too_large()(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge()
            return message

        await self.app(scope, counted, send)


def _too_large() -> JSONResponse:
    return error_response(413, f"The request is too large: at most {MAX_BODY_BYTES:,} bytes "
                               f"({MAX_UPLOAD_BYTES // 1024**2} MB for uploads).", "invalid_request_error")


def create_app(assistant: Assistant, token: str | None = None, max_queue: int = MAX_QUEUE,
               rate_per_minute: float = RATE_PER_MINUTE) -> FastAPI:
    """The API over `assistant`. With `token`, every /v1 route needs `Authorization: Bearer <token>`."""
    settings = assistant.settings
    queue = Queue(CONCURRENCY, max_queue)
    ingesting = anyio.CapacityLimiter(1)
    limit = RateLimit(rate_per_minute)

    async def authorized(request: Request,
                         credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
        if token and not (credentials and secrets.compare_digest(credentials.credentials.encode(), token.encode())):
            raise ApiError(401, "A valid token is required: send the header Authorization: Bearer <QA_API_TOKEN>.",
                           "authentication_error", {"WWW-Authenticate": "Bearer"})
        wait = limit.take(request.client.host if request.client else "?")
        if wait:
            raise ApiError(429, f"Too many requests from this client: at most {rate_per_minute:g} a minute. "
                                f"Retry in {math.ceil(wait)} s.", "rate_limit_error", {"Retry-After": str(math.ceil(wait))})

    app = FastAPI(
        title="groundqa",
        summary="Answers about your documents, every claim cited to exact sentences.",
        version="1",
        responses=_ERRORS,
    )
    app.add_middleware(BodyLimit)
    guarded = [Depends(authorized)]

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> JSONResponse:
        from qa.ingest import IndexBusy
        from qa.store import IndexProblem

        # The index missing or busy is the server's state, not the request's fault.
        unavailable = isinstance(exc, IndexProblem | IndexBusy)
        return error_response(503 if unavailable else 400, str(exc), "server_busy" if unavailable else "invalid_request_error")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Field names and reasons only: the rejected values are the client's own data.
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                             for e in exc.errors()[:5])
        return error_response(422, f"The request is not valid: {problems}", "invalid_request_error")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return _too_large()
        return error_response(exc.status_code, str(exc.detail), "invalid_request_error", getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def failed(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return error_response(500, "Something went wrong; it has been logged. Please try again.", "server_error")

    # -- the native API ------------------------------------------------------------------------
    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/v1/ask", dependencies=guarded, response_model=AnswerRecord, response_model_exclude_unset=True,
              tags=["answers"])
    async def ask(request: AskRequest) -> dict:
        """Answer a question from the documents, citing the sentences it relies on."""
        answer = await queue.run(partial(assistant.ask, request.question, request.history, request.doc_ids,
                                         request.answerer))
        return answer.to_json(debug=request.debug)

    @app.post("/v1/search", dependencies=guarded, tags=["answers"])
    async def search(request: SearchRequest) -> SearchResult:
        """The sentences retrieval ranks highest for a query (no answer is written)."""
        from qa.retrieve import resolve

        hits = await queue.run(partial(assistant.search, request.query, request.history, request.k, request.doc_ids))
        return SearchResult(query=resolve(request.query.strip(), [t.strip() for t in request.history if t.strip()]),
                            hits=[SearchHit.of(hit) for hit in hits])

    @app.get("/v1/documents", dependencies=guarded, tags=["documents"])
    async def documents(offset: Annotated[int, Query(ge=0)] = 0,
                        limit: Annotated[int, Query(ge=1, le=MAX_LISTED)] = MAX_LISTED) -> DocumentList:
        """What is indexed, a page at a time (`next_offset` asks for the next)."""
        return await queue.run(lambda: DocumentList.page_of(assistant.index, offset, limit))

    @app.post("/v1/documents", dependencies=guarded, tags=["documents"], status_code=201)
    async def add_documents(files: Annotated[list[UploadFile], File(description="Documents to index")]) -> IngestResult:
        """Upload files into <index>/uploads/ and ingest them incrementally, as the web chat does."""
        if len(files) > MAX_UPLOAD_FILES:
            raise ApiError(400, f"At most {MAX_UPLOAD_FILES} files at a time.", "invalid_request_error")
        uploads = Path(settings.index_dir) / "uploads"
        uploads.mkdir(parents=True, exist_ok=True)
        for upload in files:
            name = Path(upload.filename or "").name
            if not name or name.startswith("."):
                raise ApiError(400, f"Give each file a name: {upload.filename!r} is not one.", "invalid_request_error")
            if (upload.size or 0) > MAX_UPLOAD_FILE_BYTES:
                raise ApiError(413, f"{name} is larger than {MAX_UPLOAD_FILE_BYTES // 1024**2} MB.", "invalid_request_error")
            with open(uploads / name, "wb") as out:
                shutil.copyfileobj(upload.file, out)
        from qa.ingest import ingest

        report = await anyio.to_thread.run_sync(partial(ingest, [uploads], settings, wait=60), limiter=ingesting)
        return IngestResult(
            # File names, not the server's paths.
            files=[FileOutcomeRecord(name=Path(f.path).name, status=f.status, reason=f.reason.replace(f"{uploads}/", ""),
                                     sentences=f.sentences) for f in report.files],
            documents=report.documents, sentences=report.sentences, seconds=round(report.seconds, 2),
        )

    @app.post("/v1/feedback", dependencies=guarded, status_code=201, tags=["feedback"])
    async def give_feedback(request: FeedbackRequest) -> FeedbackStored:
        """Rate an answer; down-votes and corrections become gold questions (qa feedback export)."""
        record = request.model_dump(exclude={"rating", "history", "flags", "comment", "correction", "correct_sentence"})
        item = feedback.of_answer(
            record, request.rating, "api", settings, request.history, flags=list(request.flags),
            comment=request.comment, correction=request.correction,
            correct_sentence=request.correct_sentence.model_dump() if request.correct_sentence else None,
        )
        await anyio.to_thread.run_sync(feedback.record, settings.index_dir, item)
        return FeedbackStored(id=item.id, flagged=item.flagged)

    # -- OpenAI-compatible ---------------------------------------------------------------------
    def answerer_of(model: str) -> str | None:
        names = {MODEL: None, **{f"{MODEL}-{name}": name for name in configured_answerers(settings)}}
        if model not in names:
            raise ApiError(404, f"The model {model!r} does not exist: use one of {', '.join(names)}.",
                           "invalid_request_error")
        return names[model]

    @app.get("/v1/models", dependencies=guarded, tags=["openai"])
    async def models() -> ModelList:
        return ModelList(data=[Model(id=MODEL)] + [Model(id=f"{MODEL}-{name}") for name in configured_answerers(settings)])

    @app.post("/v1/chat/completions", dependencies=guarded, tags=["openai"],
              responses={200: {"model": ChatCompletion, "content": {"text/event-stream": {}},
                               "description": "A chat.completion, or with stream=true its chunks as server-sent events"}})
    async def chat_completions(request: ChatCompletionRequest):
        """OpenAI's chat completions: the last user message is the question, earlier user messages its
        history. The text keeps the [n] markers and ends with a Sources block; `citations` (an
        extension field, on the last chunk when streaming) holds the cited sentences."""
        answerer = answerer_of(request.model)
        turns = [_text(m.content) for m in request.messages if m.role == "user"]
        if request.messages[-1].role != "user" or not turns[-1].strip():
            raise ApiError(400, "The last message must be the user's question.", "invalid_request_error")
        answer = await queue.run(partial(assistant.ask, turns[-1], turns[:-1], None, answerer))
        record = answer.to_json()
        completion = ChatCompletion(
            id=f"chatcmpl-{uuid.uuid4().hex}", created=int(time.time()), model=request.model,
            choices=[ChatChoice(message=AssistantMessage(content=chat_text(answer)))],
            citations=record["citations"], abstained=answer.abstained,
        )
        if not request.stream:
            return completion
        return EventSourceResponse(_chunks(completion))

    return app


def configured_answerers(settings) -> list[str]:
    """The answerers this server can use: extractive always, an LLM where its settings are given."""
    names = ["extractive"]
    if settings.llm_base_url and settings.llm_model:
        names.append("openai")
    if settings.gguf_path:
        names.append("gguf")
    return names


def chat_text(answer: Answer) -> str:
    """The answer with its markers, then the sources quoted, for clients that show only text."""
    from qa.render import answer_text, format_sources

    if not answer.citations:
        return answer.answer
    return answer_text(answer) + "\n\nSources:\n" + "\n".join(format_sources(answer.citations))


def _text(content: str | list[dict] | None) -> str:
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if part.get("type") == "text")
    return content or ""


async def _chunks(completion: ChatCompletion):
    """The completion as chat.completion.chunk events: the role, the text in pieces, then the end
    with the citations, then [DONE], as OpenAI streams."""
    import json

    base = {"id": completion.id, "object": "chat.completion.chunk", "created": completion.created,
            "model": completion.model}

    def event(delta: dict, finish: str | None = None, **extra) -> str:
        chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    words = re.findall(r"\S+\s*|\s+", completion.choices[0].message.content)
    for start in range(0, len(words), STREAM_WORDS):
        yield event({"content": "".join(words[start : start + STREAM_WORDS])})
    yield event({}, "stop", citations=[c.model_dump() for c in completion.citations], abstained=completion.abstained)
    yield "data: [DONE]\n\n"


def serve(settings, host: str, port: int, token: str | None, max_queue: int = MAX_QUEUE,
          rate_per_minute: float = RATE_PER_MINUTE) -> int:
    """`qa serve`: load the model and index, then serve until interrupted."""
    import uvicorn

    from qa.assistant import Assistant

    require_token(host, token)
    assistant = Assistant(settings)
    assistant.warm_up()
    app = create_app(assistant, token=token, max_queue=max_queue, rate_per_minute=rate_per_minute)
    print(f"groundqa API at http://{host}:{port}/v1 (schema: /openapi.json)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
    return 0
