"""groundqa as llama-index parts: a retriever of cited sentences and a grounded query engine.

    from qa.integrations.llama_index import GroundQAQueryEngine, GroundQARetriever

    retriever = GroundQARetriever(index_dir="index/reports", top_k=5)
    for node in retriever.retrieve("What did the US rule out?"):
        node.text, node.score, node.metadata["doc_id"], node.metadata["start"], node.metadata["locator"]

    response = GroundQAQueryEngine(index_dir="index/reports").query("What did the US rule out?")
    str(response)            # the answer with its [n] markers
    response.source_nodes    # the cited sentences, in marker order
    response.metadata        # abstained, and the whole answer record (`qa ask --json`'s)

Each node is one sentence of a groundqa index (an index built with `qa ingest`, not a llama-index
one): its id is the sentence's content-derived id, its metadata the document, sentence number,
character span and locator, so a citation made downstream still points at exact text.
"""

from __future__ import annotations

from pathlib import Path

import anyio
from llama_index.core.base.base_query_engine import BaseQueryEngine
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.response.schema import Response
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from qa.assistant import Assistant
from qa.settings import Settings
from qa.types import Sentence

def _assistant(index_dir: str | Path | None, settings: Settings | None, assistant: Assistant | None) -> Assistant:
    if assistant is not None:
        return assistant
    settings = settings or Settings.load()
    return Assistant(settings.with_(index_dir=Path(index_dir)) if index_dir else settings)


def sentence_node(sentence: Sentence, score: float) -> NodeWithScore:
    """A retrieved sentence as a llama-index node: `text` is exactly document[start:end]."""
    return _node(sentence.id, sentence.text, score, {
        "doc_id": sentence.doc_id, "sentence_index": sentence.index, "start": sentence.start, "end": sentence.end,
        "page": sentence.page, "locator": sentence.locator})


def citation_node(citation: dict) -> NodeWithScore:
    """A citation of the answer record as a node: every field but id, text and score is metadata,
    so fields the record gains later (a support check, …) reach llama-index too."""
    metadata = {key: value for key, value in citation.items() if key not in ("id", "text", "score")}
    return _node(citation["id"], citation["text"], citation["score"], metadata)


def _node(node_id: str, text: str, score: float, metadata: dict) -> NodeWithScore:
    node = TextNode(
        id_=node_id, text=text, metadata=metadata,
        # Positions and checks are for the caller, not for what an embedding model or LLM reads.
        excluded_embed_metadata_keys=[key for key in metadata if key != "doc_id"],
        excluded_llm_metadata_keys=[key for key in metadata if key != "doc_id"],
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=metadata["doc_id"])},
    )
    return NodeWithScore(node=node, score=score)


class GroundQARetriever(BaseRetriever):
    """The sentences groundqa's hybrid retrieval (dense + BM25, fused) ranks highest for a query.

    Scores are the fused reciprocal-rank scores (higher is better; comparable within one query).
    """

    def __init__(self, index_dir: str | Path | None = None, top_k: int = 10, settings: Settings | None = None,
                 assistant: Assistant | None = None, callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.assistant = _assistant(index_dir, settings, assistant)
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [sentence_node(hit.sentence, hit.score) for hit in
                self.assistant.search(query_bundle.query_str, k=self.top_k)]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await anyio.to_thread.run_sync(self._retrieve, query_bundle)


class GroundQAQueryEngine(BaseQueryEngine):
    """groundqa's grounded answer as a llama-index Response.

    `source_nodes` are the citations in marker order ([1] is source_nodes[0]), each scored by how
    well it supports the answer (0..1); an abstention has none and `metadata["abstained"]` set.
    `history` gives the earlier user turns a follow-up is resolved against.
    """

    def __init__(self, index_dir: str | Path | None = None, history: list[str] | None = None,
                 answerer: str | None = None, settings: Settings | None = None, assistant: Assistant | None = None,
                 callback_manager: CallbackManager | None = None) -> None:
        super().__init__(callback_manager=callback_manager)
        self.assistant = _assistant(index_dir, settings, assistant)
        self.history = list(history or [])
        self.answerer = answerer

    def _query(self, query_bundle: QueryBundle) -> Response:
        answer = self.assistant.ask(query_bundle.query_str, self.history, answerer=self.answerer)
        record = answer.to_json()
        return Response(response=answer.answer, source_nodes=[citation_node(c) for c in record["citations"]],
                        metadata={"abstained": answer.abstained, "answer": record})

    async def _aquery(self, query_bundle: QueryBundle) -> Response:
        return await anyio.to_thread.run_sync(self._query, query_bundle)

    def retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return [sentence_node(hit.sentence, hit.score) for hit in
                self.assistant.search(query_bundle.query_str, self.history)]

    def _get_prompt_modules(self) -> dict:
        return {}  # no llama-index prompts: an LLM answerer's prompt is prompts/answer.txt

