"""Concurrent chat users against the web app, each a separate gradio_client on loopback.

    .venv/bin/python eval/load_web.py --index index/default --users 32 --seconds 60
    .venv/bin/python eval/load_web.py --url http://127.0.0.1:7860 --pid <server pid>

With --index it starts app.py itself (as `make run` does, over an existing index) and also
reports the time from launch to the first answer. Each user asks, waits for the whole answer and
asks again until the time is up. Prints answered, errors, p50/p95/p99 seconds and the server's
peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client otherwise makes a background request

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "What did the US rule out?",
    "Who leads the Coalition of the Willing?",
    "How much did Norway contribute?",
    "What is the capital of Peru?",
    "How did Keith Kellogg describe the negotiations?",
    "What would US satellite resources be used for?",
]


def ask(client, question: str) -> None:
    _, chat, _ = client.predict(question, [], "extractive", api_name="/respond")
    reply = chat[-1]["content"]
    text = reply if isinstance(reply, str) else " ".join(p.get("text", "") for p in reply)
    if not text or "Something went wrong" in text:
        raise RuntimeError(f"bad answer: {text[:80]!r}")


def start_app(index: Path) -> tuple[subprocess.Popen, str, float]:
    """Launch app.py on a free port; return it, its URL and seconds until it first answered."""
    from gradio_client import Client

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
            ask(Client(url, verbose=False), QUESTIONS[0])
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
    args = parser.parse_args()

    server = None
    if args.index:
        server, args.url, first = start_app(args.index)
        args.pid = server.pid
        print(f"launch to first answer: {first:.1f} s")
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load tests only target loopback addresses")
    try:
        report(run(args.url, args.users, args.seconds), args)
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)


def run(url: str, users: int, seconds: float):
    from gradio_client import Client

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    clients = [Client(url, verbose=False) for _ in range(users)]
    start = threading.Barrier(users)

    def user(number: int) -> None:
        start.wait()
        deadline = time.perf_counter() + seconds
        turn = 0
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            try:
                ask(clients[number], QUESTIONS[(number + turn) % len(QUESTIONS)])
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
            else:
                with lock:
                    latencies.append(time.perf_counter() - began)
            turn += 1

    began = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(latencies), errors, time.perf_counter() - began


def report(result, args) -> None:
    latencies, errors, wall = result
    from qa.metrics import percentile

    pct = lambda p: percentile(latencies, p * 100) if latencies else float("nan")  # noqa: E731
    memory = f", server peak RSS {peak_rss_mb(args.pid):.0f} MB" if args.pid else ""
    print(f"{args.users} users for {args.seconds:.0f} s: answered {len(latencies)} ({len(latencies) / wall:.1f}/s), "
          f"errors {len(errors)}, p50 {pct(0.5):.2f} s, p95 {pct(0.95):.2f} s, p99 {pct(0.99):.2f} s, "
          f"wall {wall:.1f} s{memory}")
    for error in errors[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
