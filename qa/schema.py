"""The records the HTTP API and the MCP server exchange, as pydantic models: their OpenAPI and
MCP output schemas. Imported only by those servers (pydantic is not needed to `import qa`).

An answer crosses as `Answer.to_json()` gives it, the one JSON form `qa ask --json` prints too;
the models describe its fields and let any field added there later pass through unchanged
(`extra="allow"`), so no way in drops what another has.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from qa.assistant import MAX_QUESTION_CHARS
from qa.feedback import FLAGS
from qa.types import Hit

MAX_HISTORY_TURNS = 50


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class CitationRecord(_Open):
    """A sentence the answer relies on. Marker [n] in the answer text is the n-th citation."""

    id: str = Field(description="Content-derived sentence id: the same document text gives the same id")
    doc_id: str = Field(description="The document, as the index names it (its path relative to the folder ingested)")
    sentence_index: int = Field(description="0-based position of the sentence in its document (shown 1-based)")
    start: int = Field(description="Character offset where the sentence starts in the document's text")
    end: int = Field(description="Character offset where it ends: text == document[start:end]")
    text: str = Field(description="The sentence, exactly as in the document")
    page: int | None = Field(None, description="1-based PDF page, or null for formats without pages")
    score: float = Field(description="How well the sentence supports the answer, 0..1")
    claim: int = Field(1, description="Which answer claim it supports; citations sharing a claim from several "
                                      "documents are 'reported by N sources'")
    reported_by: int = Field(1, description="How many documents back this citation's claim")
    locator: dict | None = Field(None, description="Where in the document: {'page': n}, {'slide': n}, "
                                                   "{'sheet': name, 'row': n}, {'paragraph': n}, …")


class HitRecord(_Open):
    """A retrieved sentence and how strongly retrieval matched it."""

    id: str = Field(description="Content-derived sentence id")
    doc_id: str
    sentence_index: int = Field(description="0-based position in its document")
    text: str
    score: float = Field(description="Fused retrieval score (reciprocal rank fusion), higher is better")
    dense: float = Field(description="Cosine similarity of the query to the sentence")
    lexical: float = Field(description="BM25 score")


class SearchHit(HitRecord):
    start: int = Field(description="Character offset where the sentence starts in its document")
    end: int = Field(description="Character offset where it ends")
    page: int | None = Field(None, description="1-based PDF page, or null")
    locator: dict | None = Field(None, description="Where in the document: {'page': n}, {'slide': n}, "
                                                   "{'paragraph': n}, …")

    @classmethod
    def of(cls, hit: Hit) -> SearchHit:
        s = hit.sentence
        return cls(id=s.id, doc_id=s.doc_id, sentence_index=s.index, start=s.start, end=s.end, text=s.text,
                   page=s.page, locator=s.locator, score=round(hit.score, 4), dense=round(hit.dense, 4),
                   lexical=round(hit.lexical, 4))


class ShortAnswerAt(_Open):
    """Where the short answer's words lie: `citation` is the 1-based number of the citation whose
    text holds them, `start` and `end` their character offsets in that text."""

    citation: int
    start: int
    end: int


class ClaimRecord(_Open):
    """One sentence of an LLM answer with the claim check's verdict."""

    text: str
    cites: list[str] = Field(description="Ids of the sentences it cites (empty when it cited none that exist)")
    supported: bool = Field(description="Whether the cited sentences state it; unsupported claims are left out of the answer")
    score: float | None = Field(description="The check's score (0..1) for how well they state it; null without a valid citation")


class AnswerRecord(_Open):
    """The grounded answer, as `qa ask --json` prints it."""

    question: str
    answer: str = Field(description="The answer text with numbered markers [1], [2] … into `citations`")
    abstained: bool = Field(description="True when the documents do not answer the question (the text says so)")
    reader_score: float | None = Field(None, description="The best sentence's calibrated support (0..1), which "
                                                         "abstention compares with abstain_below; null without the reader")
    short_answer: str | None = Field(None, description="The answer's words, taken from a cited sentence (lead with "
                                                       "them); null when the short-answer model is not confident")
    short_answer_at: ShortAnswerAt | None = Field(None, description="Where `short_answer` lies in its citation")
    answerer: str = Field(description="What wrote the answer: extractive, openai or gguf")
    citations: list[CitationRecord]
    claims: list[ClaimRecord] = Field(default_factory=list, description="An LLM answer's sentences, each with the "
                                      "claim check's verdict; empty for extractive answers, which quote their sentences")
    timings_ms: dict[str, float] = Field(description="Milliseconds spent in each stage of the answer")
    retrieval_query: str | None = Field(None, description="(debug) the question as resolved against the history")
    notes: list[str] | None = Field(None, description="(debug) e.g. LLM claims dropped as unsupported")
    prompt: str | None = Field(None, description="(debug) the final LLM prompt, when an LLM answered")
    hits: list[HitRecord] | None = Field(None, description="(debug) what retrieval returned")


Question = Field(min_length=1, max_length=MAX_QUESTION_CHARS, description="A question about the documents")
History = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                description="Earlier user turns of the conversation, oldest first; follow-ups are resolved against them")


class AskRequest(BaseModel):
    question: str = Question
    history: list[str] = History
    doc_ids: list[str] | None = Field(None, description="Answer only from these documents")
    answerer: Literal["extractive", "openai", "gguf"] | None = Field(
        None, description="Which answerer writes the answer (openai and gguf only where the server configures them); "
                          "default: the server's")
    debug: bool = Field(False, description="Include the retrieval hits, the resolved query and the LLM prompt")


class SearchRequest(BaseModel):
    query: str = Question
    history: list[str] = History
    k: int = Field(10, ge=1, le=100, description="How many sentences to return")
    doc_ids: list[str] | None = Field(None, description="Search only these documents")


class SearchResult(BaseModel):
    query: str = Field(description="The query as searched (a follow-up carries the previous turn)")
    hits: list[SearchHit]


class DocumentRecord(BaseModel):
    doc_id: str
    title: str
    sentences: int
    pages: int | None = Field(None, description="Page count of a PDF, else null")


# A listing is paged: an index in Milvus can hold hundreds of thousands of documents, and each
# record is fetched from the engine.
MAX_LISTED = 1000


class DocumentList(BaseModel):
    documents: list[DocumentRecord] = Field(description="This page of the documents, in the index's order")
    total: int = Field(description="Documents in the whole index")
    offset: int = Field(0, description="Where this page starts")
    next_offset: int | None = Field(None, description="The offset of the next page; null on the last")
    sentences: int = Field(description="Sentences in the whole index")
    updated: str | None = Field(None, description="When the index was last written")

    @classmethod
    def page_of(cls, index, offset: int = 0, limit: int = MAX_LISTED) -> DocumentList:
        """Documents offset..offset+limit of `index`; only those documents' records are read."""
        from itertools import islice

        total = len(index.documents)
        listed = [(doc_id, index.documents[doc_id]) for doc_id in islice(index.documents, offset, offset + limit)]
        return cls(
            documents=[DocumentRecord(doc_id=doc_id, title=stored.document.title, sentences=stored.rows,
                                      pages=len(stored.document.page_starts) or None) for doc_id, stored in listed],
            total=total, offset=offset, next_offset=offset + limit if offset + limit < total else None,
            sentences=index.sentence_count, updated=index.manifest.get("created"))


class FileOutcomeRecord(BaseModel):
    name: str = Field(description="The uploaded file's name")
    status: Literal["indexed", "unchanged", "skipped", "failed"]
    reason: str = ""
    sentences: int = 0


class IngestResult(BaseModel):
    files: list[FileOutcomeRecord]
    documents: int = Field(description="Documents in the index afterwards")
    sentences: int = Field(description="Sentences in the index afterwards")
    seconds: float


class CorrectSentence(BaseModel):
    doc_id: str
    sentence_index: int = Field(ge=0, description="0-based position in the document")
    text: str = ""


class FeedbackRequest(BaseModel):
    question: str = Question
    history: list[str] = History
    answer: str = Field(max_length=100_000, description="The answer text that was given")
    abstained: bool = False
    citations: list[CitationRecord] = Field(default_factory=list, max_length=200)
    rating: Literal["up", "down"]
    flags: list[Literal[FLAGS]] = Field(default_factory=list, description="What was wrong")  # type: ignore[valid-type]
    comment: str = Field("", max_length=10_000)
    correction: str = Field("", max_length=10_000, description="The right answer, in the user's words")
    correct_sentence: CorrectSentence | None = Field(None, description="The sentence that answers it")


class FeedbackStored(BaseModel):
    id: str = Field(description="The stored item's id (qa feedback review ID)")
    flagged: bool = Field(description="Whether it becomes a gold question in qa feedback export")


# -- the OpenAI-compatible subset --------------------------------------------------------------
class ChatMessage(_Open):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict] | None = Field(None, description="Text, or a list of parts of which the "
                                                                "{'type': 'text', 'text': …} ones are read")


class ChatCompletionRequest(_Open):
    """OpenAI's chat completion request. The last user message is the question and the earlier
    user messages its history; other parameters (temperature, max_tokens, …) are accepted and
    have no effect: the answer is the grounded one."""

    model: str = Field("groundqa", description="groundqa, or groundqa-<answerer> (see GET /v1/models)")
    messages: list[ChatMessage] = Field(min_length=1, max_length=2 * MAX_HISTORY_TURNS + 10)
    stream: bool = Field(False, description="Send the answer as server-sent chat.completion.chunk events")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The answer with its [n] markers, then a 'Sources:' block quoting each "
                                     "cited sentence, for clients that ignore the `citations` extension")


class ChatChoice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"


class Usage(BaseModel):
    """Token counts mean nothing for an extractive answer; zeros keep OpenAI clients content."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage = Field(default_factory=Usage)
    citations: list[CitationRecord] = Field(description="Extension: the cited sentences, numbered as the "
                                                        "markers in the text (the same objects as /v1/ask's)")
    abstained: bool = Field(description="Extension: true when the documents do not answer the question")


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "groundqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]


class ErrorBody(BaseModel):
    message: str = Field(description="What went wrong and what to do about it")
    type: str = Field(description="e.g. invalid_request_error, authentication_error, rate_limit_error, server_busy")
    code: int = Field(description="The HTTP status")


class ErrorResponse(BaseModel):
    """Every error, in OpenAI's shape, so OpenAI clients show the message."""

    error: ErrorBody
