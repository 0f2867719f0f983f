"""The one call every front end makes: ask(question, history) -> Answer.

    resolve the follow-up -> retrieve (dense + BM25) -> read and score support -> answer -> cite
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import NamedTuple

from qa import location
from qa.answer import Answerer, Extractive, make_answerer
from qa.embedding import Encoder, default_encoder, model_queried_by, sentence_encoder
from qa.errors import UserError
from qa.retrieve import Retriever, resolve
from qa.settings import Settings
from qa.store import Index, TermWeights
from qa.reader import Reader
from qa.short_answer import ShortAnswers
from qa.support import Evidence, expected_kind, score
from qa.types import Answer, Citation, Hit, ShortAnswer

MAX_QUESTION_CHARS = 2_000


class Reading(NamedTuple):
    """What `Assistant.evidence` read, and from which index generation (the answerer must use the
    same one: an ingest may swap in another meanwhile)."""

    index: Index
    query: str
    hits: list[Hit]
    evidence: list[Evidence]


class QuestionError(UserError, ValueError):
    """The question cannot be asked as given (empty, too long)."""


class Assistant:
    """Holds the loaded model and index; safe to share between threads.

    The index is re-opened when an ingest has swapped in a new generation, so a running web app
    or Slack bot answers from the fresh index without a restart, and always from one consistent
    generation per question.
    """

    def __init__(self, settings: Settings | None = None, encoder: Encoder | None = None) -> None:
        self.settings = settings or Settings.load()
        # Questions are embedded at full precision, whichever way the documents were (int8 or
        # fp32: see qa.embedding.model_queried_by).
        self.encoder = encoder or default_encoder("fp32")
        self.sentence_encoder = sentence_encoder(self.encoder)
        self._lock = threading.Lock()
        self._loaded: tuple[str, Index, Retriever, TermWeights] | None = None
        self._answerers: dict[str, Answerer] = {}
        self.reader: Reader | None = Reader.shared(Path(self.settings.reader)) if self.settings.reader else None
        self.short_answers: ShortAnswers | None = (
            ShortAnswers.shared(Path(self.settings.short_answer)) if self.settings.short_answer else None)

    # -- the index -------------------------------------------------------------------------
    def _current(self) -> tuple[Index, Retriever, TermWeights]:
        generation = location.generation(self.settings)
        with self._lock:
            if self._loaded is None or self._loaded[0] != generation:
                # Read per generation: a rebuild may have embedded its documents another way.
                model = model_queried_by(self.encoder, location.recorded_model(self.settings))
                index = location.open_live(self.settings, model, self.encoder.dimension)
                retriever = location.retriever_for(index, self.encoder, self.settings)
                self._loaded = (generation, index, retriever, index.term_weights())
            return self._loaded[1:]

    @property
    def index(self) -> Index:
        return self._current()[0]

    def search(self, query: str, history: list[str] | None = None, k: int | None = None,
               doc_ids: list[str] | None = None) -> list[Hit]:
        """The ranked sentences `ask` would weigh for `query` (a follow-up resolved against `history`)."""
        query = _checked(query, "query", "type what to search for")
        _, retriever, _ = self._current()
        return retriever.search(resolve(query, _turns(history)), doc_ids=doc_ids, k=k)

    def warm_up(self) -> None:
        """Load what answering uses (the index, both encoders, the reader, the short-answer model
        and the answerer) before the first user waits for it. A long-running front end calls this
        at start-up, so a missing index or LLM setting fails there, with its message, and
        concurrent first questions cannot each build their own answerer (a GGUF model loaded
        twice)."""
        self.search("warm up")
        self.sentence_encoder.encode(["warm up"])
        for model in (self.reader, self.short_answers):
            if model is not None:
                model.warm_up()
        self.answerer()

    # -- answering -------------------------------------------------------------------------
    def answerer(self, name: str | None = None) -> Answerer:
        name = name or self.settings.answerer
        if name not in self._answerers:
            if name == "extractive":
                self._answerers[name] = Extractive(self.settings)
            else:
                self._answerers[name] = make_answerer(name, self.settings, self.encoder)
        return self._answerers[name]

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        doc_ids: list[str] | None = None,
        answerer: str | None = None,
    ) -> Answer:
        """Answer `question` from the documents; `history` holds the earlier user turns.

        `doc_ids` restricts retrieval to those documents (eval's distractor setting).
        """
        question = _checked(question, "question", "type a question about your documents")
        history = _turns(history)
        timings: dict[str, float] = {}
        began = time.perf_counter()
        read = self.evidence(question, history, doc_ids, timings)
        evidence = read.evidence
        started = time.perf_counter()
        chosen = self.answerer(answerer)
        draft = chosen.answer(question, evidence, read.index)
        timings["answer"] = _ms(started)
        short = None
        # Only an answer of one claim leads with words: a two-fact answer's first sentence holds
        # half of it (on dev, such short answers were mostly wrong).
        if not draft.abstained and len({c.claim for c in draft.citations}) == 1 and self.short_answers is not None:
            started = time.perf_counter()
            # The question as asked, not the retrieval query: a follow-up's own words say what it
            # wants from the sentence already chosen (the earlier turn only found it).
            short = self.short_answer(question, draft.citations[0], read.index)
            timings["short_answer"] = _ms(started)
        timings["total"] = _ms(began)
        return Answer(
            question=question,
            answer=draft.text,
            abstained=draft.abstained,
            citations=draft.citations,
            timings_ms=timings,
            answerer=chosen.name,
            retrieval_query=read.query,
            hits=read.hits,
            reader_score=evidence[0].support if evidence and evidence[0].reader is not None else None,
            prompt=draft.prompt,
            notes=draft.notes,
            claims=draft.claims,
            short_answer=short,
        )

    def short_answer(self, question: str, citation: Citation, index: Index) -> ShortAnswer | None:
        """The answer's words in the first cited sentence, when the short-answer model is confident
        and they are the kind of answer asked for (a "when" question's words hold a time, a "how
        many" question's a number: on dev, the model's confident misses included names for both)."""
        title = index.documents[citation.doc_id].document.title
        pick = self.short_answers.pick(question, title, citation.text)
        kind = expected_kind(question)
        if pick is None or (kind is not None and not kind.search(pick.text)):
            return None
        return ShortAnswer(pick.text, 1, pick.start, pick.end)

    def evidence(self, question: str, history: list[str], doc_ids: list[str] | None = None,
                 timings: dict[str, float] | None = None) -> Reading:
        """The stages before answering, all on one index generation: the question as retrieval
        sees it, the retrieved sentences and their support, best first. `ask` answers from these;
        tuning scripts replay answerers over them. Stage times (ms) go into `timings` when given."""
        timings = {} if timings is None else timings
        began = time.perf_counter()
        index, retriever, weights = self._current()
        timings["load"] = _ms(began)

        started = time.perf_counter()
        query = resolve(question, history)
        query_vector = self.encoder.encode([query])[0]
        hits = retriever.search(query, doc_ids=doc_ids, query_vector=query_vector)
        timings["retrieve"] = _ms(started)

        started = time.perf_counter()
        evidence = score(question, query_vector, history, hits, index, self.sentence_encoder, weights,
                         self.settings.support_dense_weight, reader=self.reader, query=query, timings=timings)
        # Stages are disjoint: "support" is resemblance (the sentences' own vectors, word overlap),
        # "reader" the cross-encoder's share.
        timings["support"] = _ms(started) - timings.get("reader", 0.0)
        return Reading(index, query, hits, evidence)


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000


_assistants: dict[Settings, Assistant] = {}


def ask(question: str, history: list[str] | None = None, settings: Settings | None = None) -> Answer:
    """Answer with a process-wide Assistant for `settings` (the model and index load once)."""
    settings = settings or Settings.load()
    if settings not in _assistants:
        _assistants[settings] = Assistant(settings)
    return _assistants[settings].ask(question, history)


def _checked(text: str | None, noun: str, what_to_type: str) -> str:
    """`text` stripped; an empty or overlong one is refused with what to do."""
    text = (text or "").strip()
    if not text:
        raise QuestionError(f"The {noun} is empty: {what_to_type}.")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"The {noun} is longer than {MAX_QUESTION_CHARS} characters: shorten it.")
    return text


def _turns(history: list[str] | None) -> list[str]:
    """The earlier user turns, stripped, empty ones dropped."""
    return [turn.strip() for turn in history or [] if turn and turn.strip()]
