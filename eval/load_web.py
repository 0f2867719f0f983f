"""Concurrent users against a running web chat, each a separate gradio_client on loopback.

    .venv/bin/python app.py --port 7860 &
    .venv/bin/python eval/load_web.py --url http://127.0.0.1:7860 --users 16 --rounds 3

Prints answered, errors, p50/p95/p99 seconds and the wall time. Bounded: users x rounds requests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client otherwise makes a background request

QUESTIONS = [
    "What did the US rule out?",
    "Who leads the Coalition of the Willing?",
    "How much did Norway contribute?",
    "What is the capital of Peru?",
    "How did Keith Kellogg describe the negotiations?",
    "What would US satellite resources be used for?",
]


def main() -> None:
    from gradio_client import Client

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:7860")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load tests only target loopback addresses")

    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(args.users)

    def user(number: int) -> None:
        client = Client(args.url, verbose=False)
        start.wait()
        for round_ in range(args.rounds):
            question = QUESTIONS[(number + round_) % len(QUESTIONS)]
            began = time.perf_counter()
            try:
                _, chat, _ = client.predict(question, [], "extractive", api_name="/respond")
                reply = chat[-1]["content"]
                text = reply if isinstance(reply, str) else " ".join(p.get("text", "") for p in reply)
                if not text or "Something went wrong" in text:
                    raise RuntimeError(f"bad answer: {text[:80]!r}")
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    threads = [threading.Thread(target=user, args=(n,)) for n in range(args.users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")  # noqa: E731
    print(f"users {args.users} x rounds {args.rounds}: answered {len(latencies)}, errors {len(errors)}, "
          f"p50 {statistics.median(latencies) if latencies else float('nan'):.2f} s, p95 {pct(0.95):.2f} s, "
          f"p99 {pct(0.99):.2f} s, wall {wall:.1f} s")
    for error in errors[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
