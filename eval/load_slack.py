"""The Slack bot measured as Slack drives it: answer latency and memory, then a sustained load.

    .venv/bin/python eval/load_slack.py                  # 20 events one by one, then 200 over 60 s
    .venv/bin/python eval/load_slack.py --quick          # 5 one by one, then 30 over 10 s
    .venv/bin/python eval/load_slack.py --index index/default --latency-events 20 --events 0
    .venv/bin/python eval/load_slack.py --llm-seconds 3   # the openai answerer, its server taking 3 s

The bot runs as `qa slack --http --port 0` in its own process, so the memory read from
/proc/<pid>/status (VmRSS now, VmHWM the peak) is the bot's alone. It calls the Web API stand-in
of tests/slack_standin.py through SLACK_API_URL, which records every chat.postMessage with its
time; signed Events API requests go to the bot's /slack/events. Everything stays on loopback.

Latency: each event is sent after the previous one was answered; the figure is the time from
sending the event to the stand-in receiving the answer.
Load: events sent on a fixed schedule (mentions, direct messages and thread follow-ups, each a
distinct message), whatever the bot's state. Checked: every event acknowledged with HTTP 200
within 3 s, every one answered exactly once (chat.postMessage per thread), no apology and no error
logged. Answers within one thread are paired with its events in order.

With --llm-seconds the bot answers with `--answerer openai` from the scripted server of
tests/openai_standin.py, which states the first retrieved sentence after that delay: an LLM
server's latency, to see whether the bot's answering threads keep up.

Without --index the sample corpus is indexed into a temporary folder first. Prints a summary and,
last, one JSON line; the exit status is 1 when a check failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the stand-in is shared with tests/test_slack.py

from slack_standin import Slack, SlackStandIn  # noqa: E402

ACK_LIMIT = 3.0  # Slack's deadline for the HTTP 200; later, it retries the event
ANSWER_TIMEOUT = 120.0  # after the last event is sent, how long unanswered events are waited for
QUIET = 3.0  # after the last expected answer, how long a duplicate is watched for
START_TIMEOUT = 180.0
PHRASINGS = ("{q}", "Quick question: {q}", "{q} Thanks!", "Could you check: {q}", "Hi! {q}", "{q} (asking for a colleague)")


@dataclass
class Sent:
    """One event: which thread it belongs to and what happened to its delivery."""

    thread: str
    sent: float = 0.0  # time.monotonic() just before the POST
    ack: float | None = None  # seconds until the HTTP response
    status: int | None = None
    error: str | None = None


# -- questions ----------------------------------------------------------------------------------
def questions() -> tuple[list[str], list[tuple[str, str]]]:
    """Distinct questions about the sample corpus, and (first question, follow-up) pairs.

    The gold questions in several phrasings: the same words would ask the bot nothing new.
    """
    gold = [json.loads(line) for line in (ROOT / "eval" / "sample_gold.jsonl").read_text().splitlines() if line.strip()]
    alone = [g["question"] for g in gold if not g.get("history")]
    follow_ups = [(g["history"][0], g["question"]) for g in gold if g.get("history")]
    return [p.format(q=q) for p in PHRASINGS for q in alone], follow_ups


# -- the bot in its own process ---------------------------------------------------------------------
class Bot:
    """`qa slack --http --port 0` against the stand-in; its log is kept for the report."""

    def __init__(self, index: Path, standin: SlackStandIn, llm_url: str | None = None) -> None:
        self.secret = secrets.token_hex(16)
        env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-load-test", "SLACK_SIGNING_SECRET": self.secret,
               "SLACK_API_URL": standin.url, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        env.pop("SLACK_APP_TOKEN", None)
        command = [str(Path(sys.executable).with_name("qa")), "slack", "--http", "--port", "0", "--index", str(index)]
        if llm_url:
            env.update(QA_LLM_BASE_URL=llm_url, QA_LLM_MODEL="stand-in")
            command += ["--answerer", "openai"]
        began = time.monotonic()
        self.process = subprocess.Popen(command,
                                        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, text=True)
        self.log: list[str] = []
        listening = threading.Event()
        self.url = ""

        def read() -> None:
            for line in self.process.stderr:
                self.log.append(line.rstrip())
                if not listening.is_set() and (found := re.search(r"listening on (http://\S+)", line)):
                    self.url = found.group(1)
                    listening.set()
            listening.set()  # the process ended

        threading.Thread(target=read, daemon=True).start()
        listening.wait(START_TIMEOUT)
        if not self.url:
            self.stop()
            raise SystemExit("the bot did not start:\n" + "\n".join(self.log[-20:]))
        self.startup = time.monotonic() - began

    def memory_mb(self) -> dict[str, float]:
        """VmRSS (now) and VmHWM (peak since start) of the bot's process, in MB."""
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return {name: round(int(re.search(rf"^{name}:\s+(\d+) kB", status, re.M).group(1)) / 1024, 1)
                for name in ("VmRSS", "VmHWM")}

    def answer_ms(self) -> list[float]:
        """The bot's own time per answer, from its 'answered … in N ms' log lines."""
        return [float(m.group(1)) for line in self.log if (m := re.search(r"answered \S+ in \S+ in (\d+) ms", line))]

    def problems(self) -> list[str]:
        return [line for line in self.log if re.search(r"\b(ERROR|CRITICAL|Traceback)\b|failed", line)]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- sending and counting -------------------------------------------------------------------------
def deliver(slack: Slack, body: dict, record: Sent) -> None:
    record.sent = time.monotonic()
    try:
        record.status = slack.deliver(body)
    except Exception as exc:  # noqa: BLE001 - a refused or timed-out POST is a result to count
        record.error = f"{type(exc).__name__}: {exc}"
    record.ack = time.monotonic() - record.sent


def answers_by_thread(standin: SlackStandIn) -> dict[str, list]:
    threads: dict[str, list] = {}
    for call in standin.calls_to("chat.postMessage"):
        threads.setdefault(call.params.get("thread_ts"), []).append(call)
    return threads


def wait_answered(standin: SlackStandIn, expected: dict[str, int], deadline: float) -> None:
    while time.monotonic() < deadline:
        threads = answers_by_thread(standin)
        if all(len(threads.get(t, [])) >= n for t, n in expected.items()):
            return
        time.sleep(0.05)


def outcome(standin: SlackStandIn, records: list[Sent]) -> dict:
    """Acks, answers per event (in order within each thread) and what went wrong."""
    threads = answers_by_thread(standin)
    by_thread: dict[str, list[Sent]] = {}
    for record in records:
        by_thread.setdefault(record.thread, []).append(record)
    latencies, missing, duplicates, apologies = [], 0, 0, 0
    for thread, events in by_thread.items():
        posts = sorted(threads.get(thread, []), key=lambda c: c.at)
        missing += max(0, len(events) - len(posts))
        duplicates += max(0, len(posts) - len(events))
        apologies += sum("Sorry, something went wrong" in c.params.get("text", "") for c in posts)
        for record, post in zip(sorted(events, key=lambda r: r.sent), posts):
            latencies.append(post.at - record.sent)
    acks = [r.ack for r in records if r.ack is not None]
    return {
        "events": len(records),
        "acked_200": sum(r.status == 200 for r in records),
        "ack_over_3s": sum(r.ack is None or r.ack > ACK_LIMIT for r in records),
        "delivery_errors": sorted({r.error or f"HTTP {r.status}" for r in records if r.status != 200})[:5],
        "answered": len(latencies),
        "missing": missing,
        "duplicates": duplicates,
        "apologies": apologies,
        "ack_s": summary(acks, (0.5, 0.95, 1.0)),
        "answer_s": summary(latencies, (0.5, 0.95, 0.99, 1.0)),
    }


def summary(values: list[float], points: tuple[float, ...]) -> dict[str, float]:
    if not values:
        return {}
    import numpy as np

    name = lambda p: "max" if p == 1.0 else f"p{round(p * 100)}"  # noqa: E731
    return {name(p): round(float(np.percentile(values, p * 100)), 3) for p in points}


# -- the two measurements -------------------------------------------------------------------------
def latency(slack: Slack, standin: SlackStandIn, count: int) -> dict:
    """`count` mentions, each sent when the one before was answered."""
    asked, _ = questions()
    records = []
    for number in range(count):
        message, body = slack.mention_event(asked[number % len(asked)])
        record = Sent(thread=message["ts"])
        deliver(slack, body, record)
        records.append(record)
        wait_answered(standin, {record.thread: 1}, time.monotonic() + 30)
    return outcome(standin, records)


def load(slack: Slack, standin: SlackStandIn, count: int, seconds: float) -> dict:
    """`count` events on a fixed schedule over `seconds`, sent whether or not earlier ones were answered.

    Of every ten: six mentions in a channel, two direct messages (each person their own), and a
    question with its follow-up in the same thread (history read back with conversations.replies).
    """
    asked, follow_ups = questions()
    fresh = iter(asked * (count // len(asked) + 1))
    records: list[Sent] = []
    pool = ThreadPoolExecutor(max_workers=64)  # a slow acknowledgement must not delay the next event
    began = time.monotonic()
    conversation = root = ""
    for number in range(count):
        time.sleep(max(0.0, began + number * seconds / count - time.monotonic()))
        kind, phrasing = number % 10, PHRASINGS[number // 10 % len(PHRASINGS)]
        if kind == 8:
            first, conversation = follow_ups[number // 10 % len(follow_ups)]
            message, body = slack.mention_event(phrasing.format(q=first))
            thread = root = message["ts"]
        elif kind == 9:
            message, body = slack.mention_event(phrasing.format(q=conversation), thread_ts=root)
            thread = root
        elif kind in (3, 6):
            person = number % 7
            message, body = slack.direct_event(f"D0PERSON{person}", next(fresh), user=f"U0PERSON{person}")
            thread = message["ts"]
        else:
            message, body = slack.mention_event(next(fresh))
            thread = message["ts"]
        record = Sent(thread=thread)
        records.append(record)
        pool.submit(deliver, slack, body, record)
    sending = time.monotonic() - began
    pool.shutdown(wait=True)
    expected: dict[str, int] = {}
    for record in records:
        expected[record.thread] = expected.get(record.thread, 0) + 1
    wait_answered(standin, expected, time.monotonic() + ANSWER_TIMEOUT)
    time.sleep(QUIET)  # a second answer to any of them would come now
    return {**outcome(standin, records), "sending_s": round(sending, 1)}


# -- the command --------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, help="an index to answer from (default: the sample corpus, indexed now)")
    parser.add_argument("--latency-events", type=int, default=20, help="events sent one by one (0: skip)")
    parser.add_argument("--events", type=int, default=200, help="events of the load (0: skip)")
    parser.add_argument("--seconds", type=float, default=60.0, help="over how long the load's events are sent")
    parser.add_argument("--quick", action="store_true", help="5 events one by one, then 30 over 10 s")
    parser.add_argument("--llm-seconds", type=float, default=None, metavar="S",
                        help="answer with --answerer openai from tests/openai_standin.py, each reply taking S s "
                             "(an LLM server's latency; shows the bot's concurrency)")
    args = parser.parse_args()
    if args.quick:
        args.latency_events, args.events, args.seconds = 5, 30, 10.0
    if min(args.latency_events, args.events) < 0 or args.seconds <= 0:
        parser.error("counts must be >= 0 and --seconds > 0")

    with tempfile.TemporaryDirectory(prefix="load_slack-") as scratch:
        index = args.index or sample_index(Path(scratch) / "index")
        standin = SlackStandIn()
        llm = slow_llm(args.llm_seconds) if args.llm_seconds is not None else None
        bot = Bot(index, standin, llm.url if llm else None)
        try:
            slack = Slack(standin, bot.url, bot.secret)
            report: dict = {"startup_s": round(bot.startup, 1), "memory_ready_mb": bot.memory_mb()}
            print(f"bot (pid {bot.process.pid}) ready in {bot.startup:.1f} s at {bot.url}, "
                  f"RSS {report['memory_ready_mb']['VmRSS']:.0f} MB")
            if args.latency_events:
                report["latency"] = latency(slack, standin, args.latency_events)
                report["memory_after_latency_mb"] = bot.memory_mb()
                show("latency", report["latency"], report["memory_after_latency_mb"])
            if args.events:
                mark = len(bot.answer_ms())
                report["load"] = load(slack, standin, args.events, args.seconds)
                report["load"]["bot_answer_ms"] = summary(bot.answer_ms()[mark:], (0.5, 0.95, 1.0))
                report["memory_after_load_mb"] = bot.memory_mb()
                show(f"load ({args.events} events over {args.seconds:g} s)", report["load"],
                     report["memory_after_load_mb"])
            report["bot_log_problems"] = bot.problems()[:10]
        finally:
            bot.stop()
            standin.close()
            if llm:
                llm.close()
    failures = [f"{name}: {what}" for name in ("latency", "load") if name in report
                for what in checks(report[name])] + [f"bot log: {line}" for line in report["bot_log_problems"]]
    report["ok"] = not failures
    print("all checks passed" if not failures else "FAILED:\n  " + "\n  ".join(failures))
    print(json.dumps(report))
    return 0 if not failures else 1


def sample_index(target: Path) -> Path:
    from qa.ingest import ingest
    from qa.settings import Settings

    ingest([ROOT / "corpus"], Settings(index_dir=target))
    return target


def slow_llm(seconds: float):
    """An OpenAI-compatible server that takes `seconds` and states the first retrieved sentence."""
    from openai_standin import ChatStandIn

    def reply(prompt: str) -> str:
        time.sleep(seconds)
        first = next(line for line in prompt.splitlines() if line.startswith("[S1]"))
        return first.removeprefix("[S1]").strip() + " [S1]"

    return ChatStandIn(reply)


def checks(result: dict) -> list[str]:
    n = result["events"]
    found = []
    if result["acked_200"] != n:
        found.append(f"{n - result['acked_200']} of {n} not acknowledged with 200 ({result['delivery_errors']})")
    if result["ack_over_3s"]:
        found.append(f"{result['ack_over_3s']} acknowledged after {ACK_LIMIT:g} s")
    for what in ("missing", "duplicates", "apologies"):
        if result[what]:
            found.append(f"{result[what]} {what}")
    return found


def show(name: str, result: dict, memory: dict) -> None:
    fmt = lambda d: ", ".join(f"{k} {v:.2f} s" for k, v in d.items()) or "-"  # noqa: E731
    print(f"{name}: {result['events']} events, {result['acked_200']} acked 200 "
          f"({result['ack_over_3s']} over {ACK_LIMIT:g} s), {result['answered']} answered, "
          f"{result['missing']} missing, {result['duplicates']} duplicates, {result['apologies']} apologies")
    print(f"  acknowledgement: {fmt(result['ack_s'])}")
    print(f"  event -> answer posted: {fmt(result['answer_s'])}")
    if result.get("bot_answer_ms"):
        print("  bot's own time per answer: " + ", ".join(f"{k} {v:.0f} ms" for k, v in result["bot_answer_ms"].items()))
    print(f"  bot memory: RSS {memory['VmRSS']:.0f} MB, peak {memory['VmHWM']:.0f} MB")


if __name__ == "__main__":
    sys.exit(main())
