"""Slack on loopback, both sides of it, for tests and eval/load_slack.py.

`SlackStandIn` is the Web API the bot calls (the real slack_sdk client talks to it over HTTP). It
keeps the messages of each channel, so `conversations.replies` returns a thread as Slack does
(the root first, the bot's own answers included), records every call, and can be told to answer
a method with HTTP 429 and a Retry-After header.

`Slack` is the Events API side: a person's message is stored, then sent to the bot as a signed
event (v0 HMAC-SHA256 of "v0:timestamp:body" with the signing secret).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

BOT_USER = "UQABOT"
BOT_ID = "BQABOT"
TEAM = "T0TEAM"
CHANNEL = "C0GENERAL"
_event_ids = (f"Ev{n:08d}" for n in itertools.count(1))


@dataclass
class Call:
    method: str
    params: dict
    at: float = field(default_factory=time.monotonic)
    status: int = 200


class SlackStandIn:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[str, list[dict]] = {}
        self._throttled: dict[str, list[int]] = {}  # method -> [times left, Retry-After seconds]
        self._changed = threading.Condition()
        self._clock = itertools.count(1)
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                self._answer()

            def do_POST(self):  # noqa: N802
                self._answer()

            def _answer(self):
                url = urlsplit(self.path)
                method = url.path.rsplit("/", 1)[-1]
                params = dict(parse_qsl(url.query))
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if raw and "json" in (self.headers.get("Content-Type") or ""):
                    params.update(json.loads(raw))
                elif raw:
                    params.update(parse_qsl(raw))
                if isinstance(params.get("blocks"), str):
                    params["blocks"] = json.loads(params["blocks"])
                status, headers, payload = standin._respond(method, params, self.headers.get("Authorization", ""))
                body = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    # -- what a test drives ----------------------------------------------------------------------
    def post_as_user(self, channel: str, text: str, user: str | None = "U0ASKER", thread_ts: str | None = None) -> dict:
        """Put a person's message into the channel, as Slack would before sending its event."""
        message = {"type": "message", "user": user, "text": text, "ts": self._next_ts()}
        if thread_ts:
            message["thread_ts"] = thread_ts
        with self._changed:
            self.messages.setdefault(channel, []).append(message)
        return message

    def throttle(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with 429 and Retry-After."""
        self._throttled[method] = [times, retry_after]

    def calls_to(self, method: str, **matching) -> list[Call]:
        with self._changed:
            return [c for c in self.calls if c.method == method and c.status == 200
                    and all(c.params.get(k) == v for k, v in matching.items())]

    def wait_for(self, method: str, timeout: float = 30, count: int = 1, **matching) -> list[Call]:
        """Block until `count` successful calls of `method` with these parameters were made."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(found := self.calls_to(method, **matching)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {method} {matching} within {timeout} s; calls: {[c.method for c in self.calls]}")
                self._changed.wait(left)
        return found

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- the Web API -----------------------------------------------------------------------------
    def _next_ts(self) -> str:
        return f"1760000000.{next(self._clock):06d}"

    def _respond(self, method: str, params: dict, authorization: str) -> tuple[int, dict, dict]:
        with self._changed:
            call = Call(method, params)
            self.calls.append(call)
            self._changed.notify_all()
            throttled = self._throttled.get(method)
            if throttled and throttled[0] > 0:
                throttled[0] -= 1
                call.status = 429
                return 429, {"Retry-After": str(throttled[1])}, {"ok": False, "error": "ratelimited"}
            if not authorization.startswith("Bearer xoxb-"):
                return 200, {}, {"ok": False, "error": "not_authed"}
            return 200, {}, self._method(method, params)

    def _method(self, method: str, params: dict) -> dict:
        if method == "auth.test":
            return {"ok": True, "url": "https://standin.slack.test/", "team": "Stand-in", "user": "groundqa",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID, "is_enterprise_install": False}
        if method == "chat.postMessage":
            message = {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "text": params.get("text", ""),
                       "ts": self._next_ts(), "blocks": params.get("blocks", [])}
            if params.get("thread_ts"):
                message["thread_ts"] = params["thread_ts"]
            self.messages.setdefault(params["channel"], []).append(message)
            return {"ok": True, "channel": params["channel"], "ts": message["ts"], "message": message}
        if method == "chat.update":
            for message in self.messages.get(params["channel"], []):
                if message["ts"] == params["ts"]:
                    message.update(text=params.get("text", ""), blocks=params.get("blocks", []))
                    return {"ok": True, "channel": params["channel"], "ts": params["ts"]}
            return {"ok": False, "error": "message_not_found"}
        if method in ("reactions.add", "reactions.remove"):
            return {"ok": True}
        if method == "conversations.replies":
            thread = params["ts"]
            replies = [m for m in self.messages.get(params["channel"], [])
                       if m["ts"] == thread or m.get("thread_ts") == thread]
            return {"ok": True, "messages": sorted(replies, key=lambda m: m["ts"]), "has_more": False}
        return {"ok": False, "error": "unknown_method"}


class Slack:
    """What Slack does when a person writes: store the message, then send the signed event."""

    def __init__(self, standin: SlackStandIn, url: str, secret: str) -> None:
        self.standin = standin
        self.url = url
        self.secret = secret

    def deliver(self, body: dict | str, headers: dict | None = None, timestamp: int | None = None) -> int:
        """POST one event as Slack signs it; returns the HTTP status."""
        raw = body if isinstance(body, str) else json.dumps(body)
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signature = "v0=" + hmac.new(self.secret.encode(), f"v0:{stamp}:{raw}".encode(), hashlib.sha256).hexdigest()
        request = urllib.request.Request(self.url, raw.encode(), {
            "Content-Type": "application/json", "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def mention(self, question: str, thread_ts: str | None = None, channel: str = CHANNEL) -> tuple[dict, dict]:
        """@-mention the bot in a channel; returns the stored message and the event body sent."""
        message, body = self.mention_event(question, thread_ts, channel)
        status = self.deliver(body)
        if status != 200:
            raise AssertionError(f"the bot answered the event with HTTP {status}")
        return message, body

    def mention_event(self, question: str, thread_ts: str | None = None, channel: str = CHANNEL) -> tuple[dict, dict]:
        """Store a message @-mentioning the bot; returns it and its app_mention event, not yet sent."""
        message = self.standin.post_as_user(channel, f"<@{BOT_USER}> {question}", thread_ts=thread_ts)
        event = {"type": "app_mention", "user": message["user"], "text": message["text"], "ts": message["ts"],
                 "channel": channel, "event_ts": message["ts"]}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return message, envelope(event)

    def direct_event(self, channel: str, text: str, user: str | None = "U0ASKER", **fields) -> tuple[dict, dict]:
        """Store a direct message to the bot; returns it and its message.im event, not yet sent.

        `fields` are set on the event (bot_id, subtype: what a bot's or an edited message carries).
        """
        message = self.standin.post_as_user(channel, text, user=user)
        event = {"type": "message", "channel": channel, "channel_type": "im", "text": text, "ts": message["ts"],
                 "event_ts": message["ts"], "user": user, **fields}
        return message, envelope({k: v for k, v in event.items() if v is not None})

    def answers(self, thread: str, count: int = 1, channel: str = CHANNEL, timeout: float = 30) -> list[dict]:
        """The bot's first `count` posts in `thread`, waiting for them."""
        calls = self.standin.wait_for("chat.postMessage", timeout, count, channel=channel, thread_ts=thread)
        return [call.params for call in calls]


def envelope(event: dict) -> dict:
    """An Events API event_callback around `event`, with a fresh event_id."""
    return {"token": "legacy", "team_id": TEAM, "api_app_id": "A0GROUNDQA", "type": "event_callback",
            "event_id": next(_event_ids), "event_time": int(time.time()), "event": event,
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}
