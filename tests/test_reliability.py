"""Faults: queries during an ingest, many random kills of an ingest."""

import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import ROOT

from qa.assistant import Assistant
from qa.ingest import ingest
from qa.settings import Settings


def test_queries_keep_answering_while_an_ingest_swaps_the_index(index_copy, tmp_path, encoder):
    settings = Settings(index_dir=index_copy)
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(30):
        (extra / f"note{i}.txt").write_text(f"Note {i} is about the harbour number {i}. " * 20)
    assistant = Assistant(settings, encoder=encoder)
    errors: list[BaseException] = []
    done = threading.Event()

    def ingest_in_background():
        try:
            ingest([extra], settings, encoder=encoder)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=ingest_in_background)
    worker.start()
    answered = 0
    while not done.is_set() or answered < 3:
        answer = assistant.ask("What did the US rule out?")
        assert "ground troops" in answer.answer
        answered += 1
    worker.join()
    assert not errors
    assert assistant.index.manifest["documents"] == 32  # the running assistant sees the new generation


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fifty_random_kills_never_lose_the_index(tmp_path, corpus_copy, encoder):
    """Kill `qa ingest` at random moments (reading, embedding, writing) across 50 trials."""
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus_copy], settings, encoder=encoder)
    big = tmp_path / "big"
    big.mkdir()
    rng = random.Random(7)
    for i in range(300):
        (big / f"doc{i:03d}.txt").write_text(f"File {i} records the tide at station {i}. " * rng.randint(2, 12))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "qa.cli", "ingest", str(big), "--index", str(settings.index_dir), "--quiet"]
    began = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    full = time.perf_counter() - began  # one whole ingest: kills land anywhere within it
    for trial in range(50):
        for i in rng.sample(range(300), 40):  # always something to re-embed and write
            (big / f"doc{i:03d}.txt").write_text(f"Trial {trial} changed file {i} about station {i}. " * rng.randint(2, 12))
        child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = rng.uniform(0.1, full)
        time.sleep(elapsed)
        child.send_signal(signal.SIGKILL)
        child.wait()
        answer = Assistant(settings, encoder=encoder).ask("What did the US rule out?")
        assert "ground troops" in answer.answer, f"trial {trial}"
        print(f"trial {trial}: killed after {elapsed:.1f} s of {full:.1f} s; previous index answered", flush=True)
    report = ingest([big], settings, encoder=encoder, wait=60)
    assert report.documents == 302
