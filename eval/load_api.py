"""Concurrent clients against the HTTP API (`qa serve`): a bounded asyncio client on loopback.

    .venv/bin/python eval/load_api.py --index index/default --clients 32 --seconds 60 [--think 5] [--route chat]
    .venv/bin/python eval/load_api.py --url http://127.0.0.1:8000 --token T --pid <server pid>

Each client is its own httpx.AsyncClient bound to its own loopback address (127.0.0.2, .3, …), so
the server's per-client rate limit sees 32 clients, as it would 32 machines. Until the time is
up, each client thinks, asks (POST /v1/ask, or /v1/chat/completions with --route chat) and checks
the reply: HTTP 200, an answer, and citations unless it abstained. Any other status (401, 413,
429, 503 …), a timeout or a bad reply counts as an error. --think is the mean pause before each
question, drawn from 0.5x to 1.5x as in eval/load_web.py; 0 (the default) asks back to back.

With --index it starts `qa serve` itself over that existing index and also reports the time from
launch to the first answer. Prints answered, errors, p50/p95/p99 seconds per answer, the server's
peak resident memory and the load generator's own CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from load_web import QUESTIONS, hold, report

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = httpx.Timeout(120)


class Client:
    def __init__(self, url: str, token: str | None, number: int, route: str) -> None:
        transport = httpx.AsyncHTTPTransport(local_address=f"127.0.0.{2 + number % 250}")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.AsyncClient(base_url=url, headers=headers, timeout=TIMEOUT, transport=transport)
        self.route = route

    async def ask(self, question: str) -> None:
        if self.route == "chat":
            response = await self.client.post("/v1/chat/completions", json={
                "model": "groundqa", "messages": [{"role": "user", "content": question}]})
        else:
            response = await self.client.post("/v1/ask", json={"question": question})
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:80]}")
        check(response.json(), self.route)

    async def close(self) -> None:
        await self.client.aclose()


def check(reply: dict, route: str) -> None:
    if route == "chat":
        text, citations, abstained = reply["choices"][0]["message"]["content"], reply["citations"], reply["abstained"]
    else:
        text, citations, abstained = reply["answer"], reply["citations"], reply["abstained"]
    if not text or (not abstained and not citations):
        raise RuntimeError(f"bad answer: {text[:80]!r}")


def start_server(index: Path, token: str) -> tuple[subprocess.Popen, str, float]:
    """Launch `qa serve` on a free port; return it, its URL and seconds until it first answered."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    began = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve", "--index", str(index), "--port", str(port)],
                              cwd=ROOT, env={**os.environ, "QA_API_TOKEN": token},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        if server.poll() is not None or time.perf_counter() - began > 300:
            raise SystemExit("qa serve did not start")
        try:
            asyncio.run(ask_once(url, token))
            return server, url, time.perf_counter() - began
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)


async def ask_once(url: str, token: str) -> None:
    client = Client(url, token, 0, "ask")
    try:
        await client.ask(QUESTIONS[0])
    finally:
        await client.close()


async def run(url: str, token: str | None, clients: int, seconds: float, think: float, route: str):
    return await hold([Client(url, token, n, route) for n in range(clients)], seconds, think)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default="http://127.0.0.1:8000")
    target.add_argument("--index", type=Path, help="start qa serve over this existing index")
    parser.add_argument("--token", default=os.environ.get("QA_API_TOKEN"), help="the server's token (with --url)")
    parser.add_argument("--pid", type=int, help="the server's process id, for its peak memory (with --url)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--think", type=float, default=0.0,
                        help="mean seconds a client pauses before the next question (default 0: back to back)")
    parser.add_argument("--route", choices=["ask", "chat"], default="ask", help="/v1/ask or /v1/chat/completions")
    args = parser.parse_args()

    server = None
    if args.index:
        args.token = secrets.token_urlsafe(16)
        server, args.url, first = start_server(args.index, args.token)
        args.pid = server.pid
        print(f"launch to first answer: {first:.1f} s")
    if not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load tests only target loopback addresses")
    try:
        result = asyncio.run(run(args.url, args.token, args.clients, args.seconds, args.think, args.route))
        report(result, args, f"{args.clients} clients on /v1/{'chat/completions' if args.route == 'chat' else 'ask'}")
    finally:
        if server:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
