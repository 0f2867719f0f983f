"""Concurrent chat users against the web app: a bounded asyncio client on loopback.

    .venv/bin/python eval/load_web.py --index index/default --users 32 --seconds 60 [--think 5]
    .venv/bin/python eval/load_web.py --url http://127.0.0.1:7860 --pid <server pid>

Each simulated user is its own httpx.AsyncClient (its own connections and Gradio session) and
speaks Gradio's queue protocol as the browser does: POST queue/join, then read the event stream
queue/data until the answer is complete. Until the time is up, each user thinks, asks, waits for
the whole answer and checks it is a real answer (not empty, not the "Something went wrong"
message); a refusal as busy, a failure or a bad answer counts as an error. One event loop drives
all users, so the load generator takes little of the CPU it shares with the server: about 15 CPU
seconds a minute at 32 users, where 32 gradio_client threads took about 60 (a whole core of two)
and so doubled the latencies they measured.

--think is a user's mean pause in seconds before each question (reading the last answer, typing
the next question), drawn uniformly from 0.5x to 1.5x, as locust's wait_time does; the first
pause staggers the users' starts. The default, --think 0, is a stress test: every user asks back
to back, so the server always has 32 questions in hand and latency is about users / throughput.

With --index it starts app.py itself (as `make run` does, over an existing index) and also
reports the time from launch to the first answer. Prints answered, errors, p50/p95/p99 seconds
from asking to the complete answer, the server's peak resident memory and the load generator's
own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "What did the US rule out?",
    "Who leads the Coalition of the Willing?",
    "How much did Norway contribute?",
    "What is the capital of Peru?",
    "How did Keith Kellogg describe the negotiations?",
    "What would US satellite resources be used for?",
]
ENDPOINT = "respond"
TIMEOUT = httpx.Timeout(120)  # a question is an error only once the server stops answering it


class Session:
    """One chat user's connection to the app: its own client, Gradio session and endpoint id."""

    def __init__(self, url: str, fn_index: int):
        self.client = httpx.AsyncClient(base_url=f"{url}/gradio_api", timeout=TIMEOUT)
        self.session_hash = uuid.uuid4().hex
        self.fn_index = fn_index

    async def ask(self, question: str) -> None:
        joined = await self.client.post("/queue/join", json={
            "data": [question, [], "extractive"], "fn_index": self.fn_index,
            "session_hash": self.session_hash, "event_data": None,
        })
        if joined.status_code == 503:
            raise RuntimeError("server busy: queue full")
        joined.raise_for_status()
        event_id = joined.json()["event_id"]
        completed = None
        # Read to the end, as the browser does: the server closes the stream after the answer, and
        # the connection is then reused for the next question.
        async with self.client.stream("GET", "/queue/data", params={"session_hash": self.session_hash}) as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("event_id") == event_id and message["msg"] == "process_completed":
                        completed = message
        if completed is None:
            raise RuntimeError("stream ended before the answer was complete")
        check(completed)

    async def close(self) -> None:
        await self.client.aclose()


def check(message: dict) -> None:
    if not message.get("success"):
        raise RuntimeError(f"failed: {str(message.get('output'))[:80]}")
    reply = message["output"]["data"][1][-1]["content"]
    text = reply if isinstance(reply, str) else " ".join(p.get("text", "") for p in reply)
    if not text or "Something went wrong" in text:
        raise RuntimeError(f"bad answer: {text[:80]!r}")


def endpoint_index(url: str) -> int:
    config = httpx.get(f"{url}/config", timeout=10).raise_for_status().json()
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == ENDPOINT)


async def ask_once(url: str) -> None:
    session = Session(url, endpoint_index(url))
    try:
        await session.ask(QUESTIONS[0])
    finally:
        await session.close()


def start_app(index: Path) -> tuple[subprocess.Popen, str, float]:
    """Launch app.py on a free port; return it, its URL and seconds until it first answered."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--index", str(index), "--port", str(port)],
                              cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        if server.poll() is not None or time.perf_counter() - began > 300:
            raise SystemExit("app.py did not start")
        try:
            asyncio.run(ask_once(url))
            return server, url, time.perf_counter() - began
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default="http://127.0.0.1:7860")
    target.add_argument("--index", type=Path, help="start app.py over this existing index")
    parser.add_argument("--pid", type=int, help="the server's process id, for its peak memory (with --url)")
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a user pauses before the next question (default 0: back to back)")
    args = parser.parse_args()

    server = None
    if args.index:
        server, args.url, first = start_app(args.index)
        args.pid = server.pid
        print(f"launch to first answer: {first:.1f} s")
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load tests only target loopback addresses")
    try:
        report(asyncio.run(run(args.url, args.users, args.seconds, args.think)), args, f"{args.users} users")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)


async def run(url: str, users: int, seconds: float, think: float):
    fn_index = endpoint_index(url)
    return await hold([Session(url, fn_index) for _ in range(users)], seconds, think)


async def hold(sessions: list, seconds: float, think: float) -> tuple[list[float], list[str], float]:
    """Each session (anything with async `ask(question)` and `close()`) asks question after question
    until `seconds` have passed; the sorted latencies, the errors and the seconds it took.
    Shared by eval/load_api.py."""
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.perf_counter() + seconds

    async def user(number: int, session) -> None:
        pause = random.Random(number)  # the same pauses in every run
        turn = 0
        while True:
            # A user types before each question, the first included, so users do not start in step.
            await asyncio.sleep(min(think * pause.uniform(0.5, 1.5), max(0.0, deadline - time.perf_counter())))
            if time.perf_counter() >= deadline:
                return
            began = time.perf_counter()
            try:
                await session.ask(QUESTIONS[(number + turn) % len(QUESTIONS)])
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                errors.append(f"{type(exc).__name__}: {exc}")
            else:
                latencies.append(time.perf_counter() - began)
            turn += 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(user(n, s) for n, s in enumerate(sessions)))
    finally:
        await asyncio.gather(*(s.close() for s in sessions))
    return sorted(latencies), errors, time.perf_counter() - began


def load_cpu_s() -> float:
    """CPU seconds this process used: on a small machine the load generator takes them from the server."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(result, args, askers: str) -> None:
    """Print what a load run measured; `askers` names who asked ("32 users"). eval/load_api.py
    reports through this too."""
    latencies, errors, wall = result
    import numpy as np

    pct = lambda p: float(np.percentile(latencies, p * 100)) if latencies else float("nan")  # noqa: E731
    memory = f", server peak RSS {peak_rss_mb(args.pid):.0f} MB" if args.pid else ""
    print(f"{askers} for {args.seconds:.0f} s, think {args.think:g} s: answered {len(latencies)} "
          f"({len(latencies) / wall:.1f}/s), errors {len(errors)}, p50 {pct(0.5):.2f} s, p95 {pct(0.95):.2f} s, "
          f"p99 {pct(0.99):.2f} s, wall {wall:.1f} s{memory}, load generator CPU {load_cpu_s():.0f} s")
    for error in errors[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
