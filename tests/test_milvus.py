"""The whole index in Milvus (Milvus Lite here): answering with no index folder, generations
switched by an alias, kills during an ingest, and the same answers as the index folder."""

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, GROUND_TROOPS, ROOT, add_change_and_remove, keeps_answering_while
from test_cli import qa
from test_vectors import QUESTIONS

from qa import milvus
from qa.assistant import Assistant
from qa.errors import UserError
from qa.ingest import ingest
from qa.settings import Settings
from qa.store import IndexProblem



def collections(target) -> set[str]:
    return {c for c in milvus._client(target).list_collections() if c.startswith(f"{target.alias}_g")}


@pytest.fixture
def lite(tmp_path, corpus_copy, encoder) -> Settings:
    """The sample corpus ingested into a Milvus Lite file, and no index folder anywhere."""
    settings = Settings(index_dir=tmp_path / "index", vector_store=str(tmp_path / "milvus.db"))
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert (report.documents, report.sentences) == (2, 35)
    return settings


def test_answers_from_milvus_alone_as_the_index_folder_does(lite, sample_index, encoder):
    assert not lite.index_dir.exists()  # nothing was written locally: answering needs only the URI
    faiss = Assistant(Settings(index_dir=sample_index))
    assistant = Assistant(lite)
    for question in QUESTIONS:
        got, want = assistant.ask(question), faiss.ask(question)
        # The same sentences by the same cosines (fusion's ties may swap places), and the same
        # answer. The engine's BM25 (float32, its own statistics) may order near-equal lexical
        # scores another way, which can move one sentence across the last place: nothing more.
        got_hits, want_hits = {h.sentence.id: h for h in got.hits}, {h.sentence.id: h for h in want.hits}
        assert len(got_hits.keys() - want_hits.keys()) <= 1, question
        for same in got_hits.keys() & want_hits.keys():
            assert got_hits[same].dense == pytest.approx(want_hits[same].dense, abs=1e-4)
        assert got.answer == want.answer, question
        assert [(c.doc_id, c.sentence_index, c.start, c.end) for c in got.citations] == \
               [(c.doc_id, c.sentence_index, c.start, c.end) for c in want.citations]
    answer = assistant.ask("What did the US rule out?")
    assert set(GROUND_TROOPS.items()) <= {(c.doc_id, c.sentence_index) for c in answer.citations}

    index, folder = assistant.index, faiss.index
    assert isinstance(index, milvus.MilvusIndex) and index.sentence_count == 35
    assert list(index.documents) == list(folder.documents)
    for doc_id, stored in folder.documents.items():
        # Ingested from a copy of the corpus: only where it came from differs.
        assert replace(index.documents[doc_id].document, source=stored.document.source) == stored.document
        assert index.document_sentences(doc_id) == folder.document_sentences(doc_id)
    from qa.schema import DocumentList  # the API's and the MCP server's listing, a page at a time

    pages = [DocumentList.page_of(i, 1, 1).model_dump(exclude={"updated"}) for i in (index, folder)]
    assert pages[0] == pages[1] and pages[0]["total"] == 2
    assert [d.doc_id for d in DocumentList.page_of(index, 1, 1).documents] == [list(folder.documents)[1]]
    some = [folder.sentences[row] for row in (0, 17, 34)]
    np.testing.assert_allclose(index.vectors_of(some), folder.vectors_of(some), atol=1e-6)
    weights, local = index.term_weights(), folder.term_weights()
    for term in ("troop", "ground", "norway", "unseenword"):
        assert weights.weight(term) == pytest.approx(local.weight(term))


def test_documents_are_filtered_in_the_engine(lite):
    only = "000_03cab0ef675863a0.txt"
    answer = Assistant(lite).ask("What did the US rule out?", doc_ids=[only])
    assert answer.hits and {h.sentence.doc_id for h in answer.hits} == {only}
    assert Assistant(lite).search("ground troops", doc_ids=[]) == []
    assert Assistant(lite).search("ground troops", doc_ids=['no "such" \\ document']) == []


def test_document_names_that_need_quoting_are_found_and_filtered(tmp_path, encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    names = ["O'Brien \"notes\".txt", "back\\slash.txt", "tab\tand\fform.txt", "Zürich 会议.txt"]
    for i, name in enumerate(names):
        (docs / name).write_text(f"Report {i}.\nThe harbour of town {i} reopened in spring {2000 + i}.\n")
    settings = Settings(vector_store=str(tmp_path / "quoted.db"))
    assert ingest([docs], settings, encoder=encoder).documents == 4
    assistant = Assistant(settings)
    assert sorted(assistant.index.documents) == sorted(names)
    for i, name in enumerate(names):
        answer = assistant.ask(f"When did the harbour of town {i} reopen?", doc_ids=[name])
        assert {h.sentence.doc_id for h in answer.hits} == {name}
        assert str(2000 + i) in answer.answer and answer.citations[0].doc_id == name
        assert [s.text for s in assistant.index.document_sentences(name)][-1].startswith("The harbour")


def test_an_ingest_interrupted_after_the_alias_moved_keeps_the_new_generation(lite, corpus_copy, encoder, monkeypatch):
    target = milvus.target_of(lite.vector_store)
    client = milvus._client(target)

    def moved_then_interrupted(collection, alias, real=client.alter_alias):
        real(collection, alias)
        raise KeyboardInterrupt

    monkeypatch.setattr(client, "alter_alias", moved_then_interrupted)
    add_change_and_remove(corpus_copy)
    with pytest.raises(KeyboardInterrupt):
        ingest([corpus_copy], lite, encoder=encoder)
    assert "July" in Assistant(lite).ask("When does the zebra migration start?").answer


def test_generations_switch_by_alias_copy_unchanged_rows_and_drop_old_ones(lite, corpus_copy, encoder):
    target = milvus.target_of(lite.vector_store)
    first = milvus.live_collection(target)
    again = ingest([corpus_copy], lite, encoder=encoder)
    assert again.embedded == 0 and again.count("unchanged") == 2 and milvus.live_collection(target) == first

    add_change_and_remove(corpus_copy)
    report = ingest([corpus_copy], lite, encoder=encoder)
    assert report.removed == 1 and report.documents == 2 and report.embedded == 16 + 2  # one changed article, one note
    second = milvus.live_collection(target)
    assert second != first and collections(target) == {first, f"{first}_aux", second, f"{second}_aux"}

    (corpus_copy / "more.md").write_text("# More\nThe heron colony nests in March.\n")
    assert ingest([corpus_copy], lite, encoder=encoder).embedded == 2
    third = milvus.live_collection(target)
    assert collections(target) == {second, f"{second}_aux", third, f"{third}_aux"}  # the first is gone
    assistant = Assistant(lite)
    assert "July" in assistant.ask("When does the zebra migration start?").answer
    assert assistant.index.manifest["sentences"] == 20
    assert not any("ground troops" in h.sentence.text for h in assistant.ask("What did the US rule out?").hits)


def release_lite(path: str) -> None:
    """Milvus Lite serves a file from one process at a time (a server thread in it): stop ours so
    a child process can have the file."""
    from milvus_lite.server_manager import server_manager_instance

    for client in milvus._CLIENTS.values():
        client.close()
    milvus._CLIENTS.clear()
    server_manager_instance.release_server(path)


# A real `qa ingest`, SIGKILLed by itself at one point of writing to Milvus.
_KILLED_AT = """
import os, signal, sys
import qa.milvus as m
from qa.cli import main

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

point = sys.argv[1]
if point == "sentences":  # after the first batch of sentences went in
    write = m._write_sentences
    m._write_sentences = lambda client, collection, index, progress: write(client, collection, index, die)
elif point == "documents":  # the sentences are in, the documents and terms not
    m._write_aux = die
elif point == "alias":  # everything is written and flushed; the alias has not moved
    write = m._write_aux
    def written(client, *args):
        write(client, *args)
        client.flush = lambda name, real=client.flush: real(name) if not name.endswith("_aux") else (real(name), die())
    m._write_aux = written
sys.exit(main(sys.argv[2:]))
"""


def test_a_killed_ingest_leaves_the_alias_answering_from_the_previous_generation(lite, corpus_copy, encoder):
    target = milvus.target_of(lite.vector_store)
    live = milvus.live_collection(target)
    add_change_and_remove(corpus_copy)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for point in ("sentences", "documents", "alias"):
        release_lite(lite.vector_store)
        done = subprocess.run([sys.executable, "-c", _KILLED_AT, point, "ingest", str(corpus_copy),
                               "--store", lite.vector_store, "--quiet"], env=env, capture_output=True, text=True)
        assert done.returncode == -signal.SIGKILL, (point, done.stderr[-2000:])
        assert milvus.live_collection(target) == live
        answer = Assistant(lite).ask("What did the US rule out?")
        assert set(GROUND_TROOPS.items()) <= {(c.doc_id, c.sentence_index) for c in answer.citations}, point
    left = collections(target) - {live, f"{live}_aux"}
    assert left  # the killed ingests' half-written collections, until the next ingest
    report = ingest([corpus_copy], lite, encoder=encoder)
    assert report.documents == 2 and milvus.live_collection(target) != live
    assert not collections(target) & left
    assert "July" in Assistant(lite).ask("When does the zebra migration start?").answer


def test_a_damaged_or_mismatched_milvus_index_is_refused_clearly(lite, encoder):
    target = milvus.target_of(lite.vector_store)
    with pytest.raises(IndexProblem, match=r"not 'another'; rebuild it: qa ingest PATH\.\.\. --store .*milvus\.db --rebuild"):
        milvus.open_index(target, "another", 768, "x")
    client = milvus._client(target)
    aux = f"{milvus.live_collection(target)}_aux"
    manifest = json.loads(client.get(aux, ids=["manifest"])[0]["body"])
    client.upsert(aux, [{**milvus._aux_row("manifest", "manifest", body=json.dumps({**manifest, "layout": 0}))}])
    with pytest.raises(IndexProblem, match=r"written by another version of groundqa; rebuild it: .*--rebuild"):
        milvus.open_index(target, manifest["model"], manifest["dimension"], manifest["fingerprint"])
    client.delete(aux, ids=["manifest"])
    with pytest.raises(IndexProblem, match=r"damaged \(its manifest.*--rebuild"):
        Assistant(lite).ask("What did the US rule out?")
    empty = Settings(vector_store=str(lite.index_dir.parent / "empty.db"))
    with pytest.raises(IndexProblem, match=r"No index in Milvus at .*empty\.db\. Create one first: qa ingest"):
        Assistant(empty).ask("What did the US rule out?")


def test_a_rebuild_into_milvus_takes_the_folder_index_vectors(index_copy, corpus_copy, encoder, tmp_path):
    settings = Settings(index_dir=index_copy, vector_store=str(tmp_path / "moved.db"))
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert report.embedded == 0 and report.sentences == 35
    assert "ground troops" in Assistant(settings).ask("What did the US rule out?").answer


def test_store_settings_are_parsed_and_bad_ones_refused(tmp_path):
    cluster = milvus.target_of("milvus://reader:s%40cret@milvus.internal/team_a")
    assert (cluster.uri, cluster.name, cluster.alias, cluster.token) == (
        "http://milvus.internal:19530", "milvus://milvus.internal:19530", "team_a", "reader:s@cret")
    assert "s@cret" not in repr(cluster) and str(cluster) == "milvus://milvus.internal:19530/team_a"
    assert milvus.target_of("https://zilliz.example:443").alias == milvus.DEFAULT_ALIAS
    assert milvus.target_of("faiss") is None
    assert milvus.target_of(str(tmp_path / "x.db")).uri == str(tmp_path / "x.db")
    with pytest.raises(UserError, match="Unknown store"):
        milvus.target_of("elasticsearch")
    with pytest.raises(UserError, match="cannot name an index"):
        milvus.target_of("milvus://host/bad-name")


def test_milvus_without_pymilvus_gives_the_install_hint(tmp_path, corpus_copy, encoder, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymilvus", None)  # makes `import pymilvus` fail
    monkeypatch.setattr(milvus, "_CLIENTS", {})
    settings = Settings(index_dir=tmp_path / "index", vector_store=str(tmp_path / "vectors.db"))
    with pytest.raises(UserError, match=r"pip install 'groundqa\[milvus\]'"):
        ingest([corpus_copy], settings, encoder=encoder)


def test_cli_ingests_and_asks_milvus_with_no_index_folder(tmp_path):
    lite = tmp_path / "milvus.db"
    done = qa("ingest", CORPUS, "--store", lite, "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"Milvus at {lite}: 2 documents, 35 sentences" in done.stdout
    shutil.rmtree(tmp_path / "index", ignore_errors=True)
    done = qa("ask", "What did the US rule out?", "--store", lite, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ground troops" in json.loads(done.stdout)["answer"]
    assert not (tmp_path / "index").exists()
    done = qa("ask", "What did the US rule out?", "--store", tmp_path / "none.db", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr and "Create one first" in done.stderr


@pytest.fixture
def milvus_server(tmp_path):
    """A Milvus Lite server in its own process: what several answering processes share."""
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir", str(tmp_path / "milvus"),
                               "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    yield f"milvus://127.0.0.1:{port}/team_a"
    server.terminate()
    server.wait(timeout=30)


def test_processes_keep_answering_from_a_server_while_an_ingest_moves_the_alias(milvus_server, corpus_copy, encoder):
    settings = Settings(vector_store=milvus_server)
    ingest([corpus_copy], settings, encoder=encoder)
    for i in range(20):
        (corpus_copy / f"note{i}.txt").write_text(f"Note {i} is about the harbour number {i}. " * 20)
    assistant = Assistant(settings)
    keeps_answering_while(lambda: ingest([corpus_copy], settings, encoder=encoder), assistant)
    assert assistant.index.manifest["documents"] == 22  # the running assistant follows the alias
    # Another process answers from the same server at the same time, with no index folder.
    done = qa("ask", "What is note 7 about?", "--store", milvus_server, "--json", cwd=corpus_copy.parent)
    assert done.returncode == 0, done.stderr
    assert "harbour number 7" in json.loads(done.stdout)["answer"]


def test_one_server_holds_several_indexes_apart(milvus_server, corpus_copy, tmp_path, encoder):
    team_a = Settings(vector_store=milvus_server)
    # A name that team_a's generations' names start with: team_a_g…
    team_a_gold = Settings(vector_store=milvus_server.replace("/team_a", "/team_a_gold"))
    other = tmp_path / "other"
    other.mkdir()
    (other / "heron.md").write_text("# Herons\nThe heron colony nests in March.\n")
    ingest([other], team_a_gold, encoder=encoder)
    for _ in range(3):  # enough generations of team_a that old ones are dropped
        ingest([corpus_copy], team_a, encoder=encoder, rebuild=True)
    assert "ground troops" in Assistant(team_a).ask("What did the US rule out?").answer
    assert "March" in Assistant(team_a_gold).ask("When does the heron colony nest?").answer
