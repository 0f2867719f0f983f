"""Faults: queries during an ingest, many random kills of an ingest."""

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import pytest
from conftest import GROUND_TROOPS, ROOT, keeps_answering_while

from qa.assistant import Assistant
from qa.ingest import ingest
from qa.settings import Settings


def test_queries_keep_answering_while_an_ingest_swaps_the_index(index_copy, tmp_path, encoder):
    settings = Settings(index_dir=index_copy)
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(30):
        (extra / f"note{i}.txt").write_text(f"Note {i} is about the harbour number {i}. " * 20)
    assistant = Assistant(settings)
    keeps_answering_while(lambda: ingest([extra], settings, encoder=encoder), assistant)
    assert assistant.index.manifest["documents"] == 32  # the running assistant sees the new generation


# The child is the real `qa ingest`, with each phase announced on stdout as it begins so that
# kills can be aimed at reading, embedding and writing alike instead of mostly at start-up.
_ANNOUNCING_INGEST = """
import sys, time
import qa.ingest, qa.store
from qa.cli import main

def announce(phase, call):
    def wrapper(*args, **kwargs):
        if phase not in seen:
            seen.add(phase)
            print("@phase", phase, time.monotonic(), flush=True)
        return call(*args, **kwargs)
    return wrapper

seen = set()
qa.ingest.load = announce("reading", qa.ingest.load)
def announcing_encoder(*args, make=qa.ingest.encoder_for):
    encoder = make(*args)
    encoder.encode(["load the model now: loading is not embedding"])
    encoder.encode = announce("embedding", encoder.encode)
    return encoder

qa.ingest.encoder_for = announcing_encoder
qa.store.write = announce("writing", qa.store.write)
code = main(sys.argv[1:])
print("@phase done", time.monotonic(), flush=True)
sys.exit(code)
"""
PHASES = ("reading", "embedding", "writing")


def _announced_ingest(command: list[str], env: dict) -> tuple[subprocess.Popen, queue.Queue]:
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in child.stdout:
            if line.startswith("@phase "):  # the report qa ingest prints is not a phase
                _, phase, at = line.split()
                lines.put((phase, float(at)))
        lines.put(("exit", time.monotonic()))

    threading.Thread(target=pump, daemon=True).start()
    return child, lines


def _change_some(big, rng, trial: int) -> None:
    for i in rng.sample(range(300), 40):  # always something to re-embed and write
        (big / f"doc{i:03d}.txt").write_text(f"Trial {trial} changed file {i} about station {i}. " * rng.randint(2, 12))


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_fifty_random_kills_never_lose_the_index(tmp_path, corpus_copy, encoder):
    """SIGKILL `qa ingest` of 300 files 50 times, aimed in turn at reading, embedding and writing;
    after every kill the index opens and answers, and the next ingest takes the lock and completes."""
    settings = Settings(index_dir=tmp_path / "index")
    ingest([corpus_copy], settings, encoder=encoder)
    big = tmp_path / "big"
    big.mkdir()
    rng = random.Random(7)
    for i in range(300):
        (big / f"doc{i:03d}.txt").write_text(f"File {i} records the tide at station {i}. " * rng.randint(2, 12))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", _ANNOUNCING_INGEST, "ingest", str(big), "--index", str(settings.index_dir), "--quiet"]
    ingest([big], settings, encoder=encoder)

    _change_some(big, rng, -1)  # a calibration run: how long each phase lasts here
    child, lines = _announced_ingest(command, env)
    at: dict[str, float] = {}
    while "exit" not in at:
        phase, moment = lines.get(timeout=300)
        at[phase] = moment
    assert child.wait() == 0, "the calibration ingest failed"
    ends = {"reading": at["embedding"], "embedding": at["writing"], "writing": at["done"]}
    lasts = {phase: ends[phase] - at[phase] for phase in PHASES}
    print("phase durations:", {p: f"{s:.2f} s" for p, s in lasts.items()}, flush=True)

    killed = {phase: 0 for phase in PHASES}
    half_written = 0
    for trial in range(50):
        _change_some(big, rng, trial)
        phase = PHASES[trial % 3]
        child, lines = _announced_ingest(command, env)
        while (event := lines.get(timeout=300))[0] not in (phase, "exit"):
            pass
        delay = rng.uniform(0, 0.9 * lasts[phase])
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        status = child.wait()
        landed = status == -signal.SIGKILL and event[0] == phase
        killed[phase] += landed
        half_written += any(settings.index_dir.glob(".gen-*.tmp"))

        assistant = Assistant(settings)
        answer = assistant.ask("What did the US rule out?")
        assert answer.citations and {c.doc_id for c in answer.citations} <= set(GROUND_TROOPS), f"trial {trial}"
        assert assistant.index.manifest["documents"] == 302, f"trial {trial}: the index no longer opens whole"
        report = ingest([big], settings, encoder=encoder, wait=60)  # no stale lock; completes
        assert report.documents == 302, f"trial {trial}"
        print(f"trial {trial}: {'killed' if landed else 'missed (it finished first)'} {delay:.2f} s into {phase}; "
              "the index answered and the next ingest completed", flush=True)
    print(f"kills that landed: {killed}; {half_written} left a half-written generation behind", flush=True)
    assert all(killed.values()), f"some phase was never hit: {killed}"
    assert sum(killed.values()) >= 45
