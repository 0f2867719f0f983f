import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, add_change_and_remove

from qa import ingest as ingest_module
from qa import sentences, store
from qa.assistant import Assistant
from qa.ingest import IndexBusy, ingest
from qa.settings import Settings
from qa.store import IndexProblem


def open_(index_dir, encoder, settings=None):
    settings = settings or Settings(index_dir=index_dir)
    return store.open_index(index_dir, encoder.name, encoder.dimension, settings.index_fingerprint(encoder.name))


def test_chunked_embedding_beside_a_splitting_worker_builds_the_same_index(tmp_path, corpus_copy, encoder, monkeypatch):
    whole = Settings(index_dir=tmp_path / "whole")
    ingest([corpus_copy], whole, encoder=encoder)
    monkeypatch.setattr(ingest_module, "EMBED_CHUNK", 8)  # the sample corpus is one chunk otherwise
    monkeypatch.setattr(sentences, "WORKER_FROM_CHARS", 1)
    monkeypatch.setattr(sentences, "SPLIT_HERE_CHARS", 1)
    chunked = Settings(index_dir=tmp_path / "chunked")
    report = ingest([corpus_copy], chunked, encoder=encoder)
    assert (report.documents, report.embedded) == (2, 35)
    a, b = open_(whole.index_dir, encoder), open_(chunked.index_dir, encoder)
    assert [s.id for s in a.sentences] == [s.id for s in b.sentences]
    np.testing.assert_array_equal(a.vectors, b.vectors)


def test_incremental_reingest_updates_replaces_and_drops(tmp_path, corpus_copy, encoder):
    settings = Settings(index_dir=tmp_path / "index")
    first = ingest([corpus_copy], settings, encoder=encoder)
    assert (first.documents, first.embedded) == (2, 35)

    again = ingest([corpus_copy], settings, encoder=encoder)
    assert again.embedded == 0 and again.count("unchanged") == 2

    add_change_and_remove(corpus_copy)
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert report.removed == 1 and report.documents == 2
    assert report.embedded == 16 + 2  # the changed article and the new note only

    index = open_(settings.index_dir, encoder)
    assert sorted(index.documents) == ["000_03cab0ef675863a0.txt", "notes.md"]
    texts = [s.text for s in index.sentences]
    assert "However, the United States has ruled out deploying naval forces." in texts
    assert not any("ground troops" in t for t in texts)
    # Vectors stay aligned with sentences through the update: each sentence finds itself first.
    assistant = Assistant(settings)
    answer = assistant.ask("When does the zebra migration start?")
    assert not answer.abstained and answer.citations[0].doc_id == "notes.md"
    assert all(h.sentence.doc_id != "001_7b5fe780b854878b.txt" for h in answer.hits)
    fresh = encoder.encode([index.sentences[5].text])[0]
    assert int(np.argmax(index.vectors_at(slice(None)) @ fresh)) in {4, 5, 6}


def test_other_folders_survive_an_ingest_of_one_folder(tmp_path, corpus_copy, encoder):
    settings = Settings(index_dir=tmp_path / "index")
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.txt").write_text("Apples are red.")
    ingest([corpus_copy], settings, encoder=encoder)
    ingest([other], settings, encoder=encoder)
    assert sorted(open_(settings.index_dir, encoder).documents) == [
        "000_03cab0ef675863a0.txt", "001_7b5fe780b854878b.txt", "a.txt"]


def test_bad_files_are_reported_and_the_rest_goes_in(tmp_path, corpus_copy, encoder):
    (corpus_copy / "empty.txt").write_bytes(b"")
    (corpus_copy / "binary.txt").write_bytes(bytes(range(256)) * 4)
    (corpus_copy / "copy.txt").write_bytes((corpus_copy / "000_03cab0ef675863a0.txt").read_bytes())
    (corpus_copy / "line.txt").write_text("word " * 100_000)
    report = ingest([corpus_copy, tmp_path / "missing"], Settings(index_dir=tmp_path / "i"), encoder=encoder)
    outcome = {Path(f.path).name: (f.status, f.reason) for f in report.files}
    assert outcome["empty.txt"] == ("skipped", "empty file")
    assert outcome["binary.txt"][0] == "skipped" and "binary" in outcome["binary.txt"][1]
    assert outcome["copy.txt"][0] == "skipped" and "same text as" in outcome["copy.txt"][1]
    assert outcome["missing"] == ("skipped", "no such file or folder")
    assert outcome["line.txt"][0] == "indexed"
    assert report.documents == 3


def test_a_failing_file_keeps_its_indexed_version(tmp_path, corpus_copy, encoder):
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus_copy], settings, encoder=encoder)
    (corpus_copy / "000_03cab0ef675863a0.txt").write_bytes(b"\x00\x01binary now")
    report = ingest([corpus_copy], settings, encoder=encoder)
    assert report.documents == 2
    assert "previously indexed version is kept" in report.files[0].reason


def test_killed_ingest_leaves_previous_index_usable(tmp_path, corpus_copy, encoder):
    """SIGKILL an ingest at several moments; the old index must open and answer every time."""
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus_copy], settings, encoder=encoder)
    big = tmp_path / "big"
    big.mkdir()
    for i in range(40):
        (big / f"doc{i}.txt").write_text(f"Document {i} talks about topic {i}. " * 60)
    before = sorted(open_(settings.index_dir, encoder).documents)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for delay in (0.5, 4.0, 7.0):
        child = subprocess.Popen(
            [sys.executable, "-m", "qa.cli", "ingest", str(big), "--index", str(settings.index_dir), "--quiet"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        index = open_(settings.index_dir, encoder)
        assert sorted(index.documents) in (before, sorted(before + [f"doc{i}.txt" for i in range(40)]))
        answer = Assistant(settings).ask("What did the US rule out?")
        assert "ground troops" in answer.answer
    report = ingest([big], settings, encoder=encoder, wait=30)  # the kernel freed the dead lock
    assert report.documents == 42
    assert not [p for p in settings.index_dir.iterdir() if p.name.endswith(".tmp")]


def test_second_ingest_waits_or_reports_busy(index_copy, corpus_copy, encoder):
    from filelock import FileLock

    with FileLock(str(index_copy / ".lock")):
        with pytest.raises(IndexBusy, match="busy"):
            ingest([corpus_copy], Settings(index_dir=index_copy), encoder=encoder, wait=0.2)


def _current(index_dir: Path) -> Path:
    return index_dir / (index_dir / "CURRENT").read_text().strip()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda gen: (gen / "vectors.npy").write_bytes((gen / "vectors.npy").read_bytes()[:-7]), "checksum"),
        (lambda gen: (gen / "sentences.jsonl").write_text("[]\n"), "checksum"),
        (lambda gen: (gen / "manifest.json").write_text("{not json"), "damaged"),
        (lambda gen: (gen / "extra.pkl").write_bytes(b"x"), r"foreign files \(not its own: extra.pkl\)"),
        (lambda gen: (gen / "bm25" / "params.index.json").unlink(), r"incomplete .*\(missing: bm25/params.index.json\)"),
        (lambda gen: (gen.parent / "CURRENT").write_text("gen-missing"), "damaged"),
    ],
)
def test_damaged_index_is_refused_with_a_rebuild_hint(index_copy, encoder, damage, message):
    damage(_current(index_copy))
    with pytest.raises(IndexProblem, match=message) as refused:
        open_(index_copy, encoder)
    assert "--rebuild" in str(refused.value)


def test_index_from_other_settings_or_model_is_refused(index_copy, encoder):
    # It names what the index was built with, so a user who changed a setting can set it back.
    built_with = r"other index settings \(window=0, embed_title=True;.*use those settings again, or rebuild"
    with pytest.raises(IndexProblem, match=built_with):
        open_(index_copy, encoder, Settings(index_dir=index_copy, window=3))
    with pytest.raises(IndexProblem, match="model"):
        store.open_index(index_copy, "another-model", 768, "x")
    manifest_path = _current(index_copy) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["format"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(IndexProblem, match="format 99"):
        open_(index_copy, encoder)


def test_rebuild_replaces_an_incompatible_index(index_copy, corpus_copy, encoder):
    (_current(index_copy) / "manifest.json").write_text("{}")
    report = ingest([corpus_copy], Settings(index_dir=index_copy), encoder=encoder, rebuild=True)
    assert report.documents == 2
    assert open_(index_copy, encoder).manifest["sentences"] == 35


def test_index_files_hold_no_pickle(sample_index):
    for path in _current(sample_index).rglob("*.npy"):
        np.load(path, allow_pickle=False)  # raises on object arrays
    names = {p.name for p in _current(sample_index).rglob("*")}
    assert not {n for n in names if n.endswith((".pkl", ".pickle"))}


def test_full_disk_during_the_write_keeps_the_old_index(index_copy, corpus_copy, encoder, monkeypatch):
    import errno

    (corpus_copy / "new.txt").write_text("A brand new document about penguins.")
    real_save = np.save

    def disk_full(path, *args, **kwargs):
        real_save(path, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.np, "save", disk_full)
    with pytest.raises(IndexProblem, match="No space left on device.*previous index is unchanged"):
        ingest([corpus_copy], Settings(index_dir=index_copy), encoder=encoder)
    monkeypatch.undo()
    assert sorted(open_(index_copy, encoder).documents) == ["000_03cab0ef675863a0.txt", "001_7b5fe780b854878b.txt"]
    assert not [p for p in index_copy.iterdir() if p.name.endswith(".tmp")]
