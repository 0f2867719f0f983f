"""groundqa composed as llama-index composes any retriever and query engine: through its own calls."""

from __future__ import annotations

import anyio
import pytest
from ask_json import SAMPLE_QUESTION, ask_json

from qa.integrations.llama_index import GroundQAQueryEngine, GroundQARetriever


@pytest.fixture(scope="module")
def engine(sample_index):
    return GroundQAQueryEngine(index_dir=sample_index)


def test_query_engine_answers_as_qa_ask_json(engine, sample_index):
    from llama_index.core.base.response.schema import Response

    expected = ask_json(sample_index)
    response = engine.query(SAMPLE_QUESTION)
    assert isinstance(response, Response)
    assert str(response) == expected["answer"]
    assert [n.node.node_id for n in response.source_nodes] == [c["id"] for c in expected["citations"]]
    assert [n.score for n in response.source_nodes] == [c["score"] for c in expected["citations"]]
    first, cited = response.source_nodes[0], expected["citations"][0]
    assert first.text == cited["text"]
    assert {k: first.metadata[k] for k in ("doc_id", "sentence_index", "start", "end")} == \
        {k: cited[k] for k in ("doc_id", "sentence_index", "start", "end")}
    assert response.metadata["abstained"] is False
    assert response.metadata["answer"]["citations"] == expected["citations"]


def test_query_engine_abstains_with_no_sources_and_async_works(engine):
    response = anyio.run(engine.aquery, "What is the capital of Peru?")
    assert response.metadata["abstained"] is True and response.source_nodes == []


def test_retriever_returns_one_node_per_sentence_with_its_place(sample_index, engine):
    from llama_index.core.schema import MetadataMode, NodeRelationship

    retriever = GroundQARetriever(index_dir=sample_index, top_k=5)
    nodes = retriever.retrieve(SAMPLE_QUESTION)
    assert len(nodes) == 5
    assert [n.score for n in nodes] == sorted((n.score for n in nodes), reverse=True)
    index = engine.assistant.index
    for node in nodes:
        document = index.documents[node.metadata["doc_id"]].document
        assert document.text[node.metadata["start"] : node.metadata["end"]] == node.text
        assert node.node.relationships[NodeRelationship.SOURCE].node_id == node.metadata["doc_id"]
        assert node.metadata["locator"]
        assert "start" not in node.node.get_content(MetadataMode.LLM)  # positions are not shown to a model
    assert any("ground troops" in n.text for n in nodes)
    assert len(anyio.run(retriever.aretrieve, "ground troops")) == 5
