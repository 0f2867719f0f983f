"""The Slack front end: questions from mentions and direct messages, answered in their thread.

    qa slack [--index DIR]                          Socket Mode: SLACK_BOT_TOKEN, SLACK_APP_TOKEN
    qa slack --http [--host H] [--port N]           Events API at /slack/events:
                                                    SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET

Everything Slack-specific lives here, over the one library call `Assistant.ask`. Teams that
already run a bolt app call `register(app, assistant)` on it.

How an event travels: bolt checks the signature (a bad one, or a timestamp more than five minutes
old, gets 401) and acknowledges at once; the answer is worked out by a lazy listener in bolt's
thread pool, so the 3-second acknowledgement never waits for the model. Lazy listeners keep that
true in HTTP mode, in Socket Mode and with `process_before_response=True` (FaaS) alike.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from qa.errors import UserError
from qa.flags import add_answerer_flag, add_index_flags, settings_from
from qa.types import Answer, Citation, ShortAnswer, locator_text

if TYPE_CHECKING:
    from slack_bolt import App
    from slack_sdk import WebClient

    from qa.assistant import Assistant

HELP = "answer questions in Slack (mentions and direct messages), in thread, with citations"
INSTALL_HINT = "qa slack needs the slack extra: pip install 'groundqa[slack]'"
EVENTS_PATH = "/slack/events"
log = logging.getLogger("groundqa.slack")

WORKING = "hourglass_flowing_sand"  # reaction on the question while it is being answered
APOLOGY = "Sorry, something went wrong while answering that. The error has been logged; please try again later."
MAX_HISTORY = 10  # earlier questions of a thread passed on as history
SEEN_EVENTS = 10_000  # Slack retries within minutes; this many remembered ids cover hours of traffic
RATE_LIMIT_RETRIES = 3
# Answers run in bolt's listener thread pool. Bolt's 5 threads suit the answerers that work on
# this machine's CPU (extractive; gguf, one request at a time behind its lock): more threads only
# share the same cores, and a burst of 40 events a second then answered in 1.8-2.8 s at p99
# instead of 0.6-0.7 s and acknowledged later. An LLM server answers many requests at once, but
# 5 threads waiting 3 s each manage 1.7 answers a second: 200 events a minute queued for up to
# 20 s, against 3.2 s with 16 threads (eval/load_slack.py, docs/slack.md).
CPU_ANSWER_THREADS = 5
LLM_SERVER_ANSWER_THREADS = 16
MAX_BODY_BYTES = 1_000_000  # Slack's event payloads are a few kB; refuse anything far larger unread

# Block Kit limits: a section's text may hold 3,000 characters, a message 50 blocks.
SECTION_CHARS = 3_000
MAX_SOURCES = 20  # at most 2 blocks each, beside 5 for the answer and headings
FALLBACK_CHARS = 3_000
# The rating buttons under each answer; a click is stored as feedback (qa/feedback.py).
RATE_BLOCK = "groundqa_rate"
RATE_ACTION = re.compile(r"^groundqa_rate_(up|down)$")


# -- the command ------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:

    add_index_flags(parser)
    add_answerer_flag(parser)
    parser.add_argument("--http", action="store_true",
                        help="serve the Events API over HTTP (needs SLACK_SIGNING_SECRET) instead of Socket Mode")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on with --http (default 127.0.0.1: put a TLS proxy in front)")
    parser.add_argument("--port", type=int, default=3000, help="port to listen on with --http (default 3000)")


def run(args: argparse.Namespace) -> int:
    _bolt()  # the install hint comes before any complaint about tokens
    token = _required("SLACK_BOT_TOKEN", "the bot token (xoxb-…) from OAuth & Permissions")
    if args.http:
        secret = _required("SLACK_SIGNING_SECRET", "the signing secret from Basic Information, for --http")
    else:
        app_token = _required("SLACK_APP_TOKEN", "an app-level token (xapp-…) with connections:write, for Socket Mode; or use --http")

    from qa.assistant import Assistant

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    assistant = Assistant(settings_from(args))
    assistant.warm_up()
    app = create_app(assistant, token, signing_secret=secret if args.http else None,
                     api_url=os.environ.get("SLACK_API_URL") or None)
    if args.http:
        server = http_server(app, args.host, args.port)
        host, port = server.server_address[:2]
        log.info("listening on http://%s:%d%s", host, port, EVENTS_PATH)
        try:
            server.serve_forever()
        finally:
            server.server_close()
    else:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        from slack_sdk.errors import SlackClientError

        handler = SocketModeHandler(app, app_token)
        try:
            handler.connect()  # once connected, the client reconnects by itself
        except (SlackClientError, OSError) as exc:
            raise UserError(f"Slack refused the Socket Mode connection; check SLACK_APP_TOKEN "
                            f"(xapp-…, scope connections:write): {exc}") from None
        log.info("connected to Slack in Socket Mode")
        threading.Event().wait()
    return 0


def _required(name: str, what: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise UserError(f"Set {name}: {what}. See docs/slack.md.")
    return value


def _bolt() -> None:
    """Fail with the install hint, not a traceback, when the slack extra is missing."""
    try:
        import slack_bolt  # noqa: F401
        import slack_sdk  # noqa: F401
    except ImportError:
        raise UserError(INSTALL_HINT) from None


# -- the app ----------------------------------------------------------------------------------
def create_app(assistant: Assistant, token: str, signing_secret: str | None = None, api_url: str | None = None) -> App:
    """A bolt App answering from `assistant`; `api_url` replaces https://slack.com/api/.

    The App calls auth.test while it is built, through the client made here, so the token check
    goes to `api_url` as well.
    """
    _bolt()
    from concurrent.futures import ThreadPoolExecutor

    from slack_bolt import App
    from slack_bolt.error import BoltError
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackClientError
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    client = WebClient(token=token, base_url=_with_slash(api_url or WebClient.BASE_URL))
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES))
    try:
        app = App(
            client=client,
            signing_secret=signing_secret or "",
            # Bolt's defaults, spelled out because the bot's safety rests on them: signatures and
            # their age are checked, and the bot never reacts to its own messages.
            request_verification_enabled=True,
            ignoring_self_events_enabled=True,
            listener_executor=ThreadPoolExecutor(max_workers=_answer_threads(assistant), thread_name_prefix="slack-answer"),
        )
    except BoltError as exc:
        raise UserError(f"Slack did not accept the bot token: {exc}") from None
    except (SlackClientError, OSError) as exc:
        raise UserError(f"Could not reach Slack at {client.base_url}: {exc}") from None
    register(app, assistant)
    return app


def _answer_threads(assistant: Assistant) -> int:
    waits_on_a_server = assistant.settings.answerer == "openai"
    return LLM_SERVER_ANSWER_THREADS if waits_on_a_server else CPU_ANSWER_THREADS


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def register(app: App, assistant: Assistant) -> None:
    """Answer app mentions, and direct messages to the bot, on `app` (yours, or `create_app`'s).

    Only direct messages are taken from the `message` events, so other `message` listeners on
    the same app keep theirs.
    """
    seen = _Seen()
    answered = _Answered()

    def acknowledge(ack) -> None:
        ack()

    def answer(body: dict, event: dict, client: WebClient, context) -> None:
        _answer(assistant, seen, answered, client, body, event, context.bot_user_id)

    def rate(ack, body: dict, action: dict, client: WebClient) -> None:
        ack()
        _rate(assistant, answered, client, body, action)

    def direct_message(event: dict) -> bool:
        return event.get("channel_type") == "im"

    app.event("app_mention")(ack=acknowledge, lazy=[answer])
    app.event("message", matchers=[direct_message])(ack=acknowledge, lazy=[answer])
    app.action(RATE_ACTION)(rate)


class _Seen:
    """Keys of events already taken; the oldest are forgotten first, so memory stays bounded."""

    def __init__(self, size: int = SEEN_EVENTS) -> None:
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def claim(self, *keys: str) -> bool:
        """True for the first caller holding any of `keys`; later ones are duplicates."""
        with self._lock:
            if any(key in self._keys for key in keys):
                return False
            for key in keys:
                self._keys[key] = None
            while len(self._keys) > self._size:
                self._keys.popitem(last=False)
            return True


class _Answered:
    """The answers posted lately, by channel and message ts, so a rating button can store what it rates.

    In memory: after a restart, earlier answers can no longer be rated (the bot says so).
    """

    def __init__(self, size: int = SEEN_EVENTS) -> None:
        self._answers: OrderedDict[str, tuple[list[str], Answer]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, key: str, history: list[str], answer: Answer) -> None:
        with self._lock:
            self._answers[key] = (history, answer)
            while len(self._answers) > self._size:
                self._answers.popitem(last=False)

    def get(self, key: str) -> tuple[list[str], Answer] | None:
        with self._lock:
            return self._answers.get(key)


def _answer(assistant: Assistant, seen: _Seen, answered: _Answered, client: WebClient, body: dict, event: dict,
            bot_user: str | None) -> None:
    """Answer one event in its thread; every failure ends as a reply and a log line."""
    if not _from_a_person(event, bot_user):
        return
    channel, ts = event["channel"], event["ts"]
    event_id = body.get("event_id") or f"{channel}/{ts}"
    # A retry repeats the event_id. The channel and ts name the message itself, which could come
    # as both an app_mention and a message event.
    if not seen.claim(event_id, f"{channel}/{ts}"):
        log.info("skipped repeated delivery of %s", event_id)
        return
    from qa.assistant import QuestionError

    began = time.perf_counter()
    thread = event.get("thread_ts") or ts
    _react(client, "reactions_add", channel, ts)
    try:
        history = _history(client, channel, thread, ts, bot_user, event.get("channel_type") == "im") if event.get("thread_ts") else []
        reply = assistant.ask(question_text(event.get("text", ""), bot_user), history)
        text, blocks = render(reply)
        posted = _post(client, channel, thread, text, blocks)
        answered.remember(f"{channel}/{posted['ts']}", history, reply)
        log.info("answered %s in %s in %.0f ms (%s, %d citations, %d earlier turns)", event_id, channel,
                 (time.perf_counter() - began) * 1000, "abstained" if reply.abstained else "answered",
                 len(reply.citations), len(history))
    except QuestionError as exc:
        _post_quietly(client, channel, thread, escape(str(exc)))
    except Exception:
        log.exception("answering %s in %s failed", event_id, channel)
        _post_quietly(client, channel, thread, APOLOGY)
    finally:
        _react(client, "reactions_remove", channel, ts)


def _from_a_person(message: dict, bot_user: str | None) -> bool:
    """A person's own message: not a bot's, not an edit, join or deletion notice."""
    return (
        not message.get("bot_id")
        and message.get("subtype") in (None, "thread_broadcast", "file_share")
        and message.get("user") not in (None, bot_user)
    )


def _history(client: WebClient, channel: str, thread: str, before: str, bot_user: str | None, direct: bool) -> list[str]:
    """The questions asked of the bot earlier in this thread, oldest first.

    Read back from Slack with conversations.replies rather than remembered in this process: the
    history then survives restarts, is the same for every replica of the bot, and holds
    questions asked before the bot last started. In a channel only messages that mention the bot
    count (people talk among themselves in threads too); in a direct message every one does.
    A thread that cannot be read (a missing scope) is logged and answered without history.
    """
    from slack_sdk.errors import SlackClientError

    turns = []
    try:
        for page in client.conversations_replies(channel=channel, ts=thread, limit=200):
            for message in page.get("messages", []):
                text = message.get("text", "")
                if (Decimal(message["ts"]) < Decimal(before) and _from_a_person(message, bot_user)
                        and (direct or f"<@{bot_user}" in text)):
                    turns.append(question_text(text, bot_user))
    except (SlackClientError, OSError) as exc:
        log.warning("could not read thread %s in %s, answering without its history: %s", thread, channel, exc)
        return []
    return [turn for turn in turns if turn][-MAX_HISTORY:]


def _post(client: WebClient, channel: str, thread: str, text: str, blocks: list[dict] | None = None):
    # Unfurling would fetch and preview links quoted from documents: never wanted in an answer.
    return client.chat_postMessage(channel=channel, thread_ts=thread, text=text, blocks=blocks,
                                   unfurl_links=False, unfurl_media=False)


def _rate(assistant: Assistant, answered: _Answered, client: WebClient, body: dict, action: dict) -> None:
    """Store a rating button's click as feedback, and show on the answer that it was taken."""
    from qa import feedback

    channel = body["container"]["channel_id"]
    message = body.get("message") or {}
    ts, thread = body["container"]["message_ts"], message.get("thread_ts") or body["container"]["message_ts"]
    remembered = answered.get(f"{channel}/{ts}")
    if remembered is None:
        _post_quietly(client, channel, thread, "I no longer have that answer to rate (I was restarted since): "
                                               "ask again, then rate the new answer.")
        return
    history, answer = remembered
    rating = "up" if action["action_id"].endswith("_up") else "down"
    user = body.get("user", {}).get("id", "")
    try:
        item = feedback.record(assistant.settings.index_dir, feedback.of_answer(
            answer.to_json(), rating, "slack", assistant.settings, history, user=user))
        thanks = ("Rated helpful" if rating == "up" else "Rated wrong: it will be reviewed as a test question") + \
            f" (by <@{escape(user)}>, feedback {item.id})"
        kept = [block for block in message.get("blocks", []) if block.get("block_id") != RATE_BLOCK]
        client.chat_update(channel=channel, ts=ts, text=message.get("text", ""), blocks=kept + [_context(thanks)])
    except Exception:
        log.exception("storing a rating from %s failed", channel)
        _post_quietly(client, channel, thread, APOLOGY)


def _post_quietly(client: WebClient, channel: str, thread: str, text: str) -> None:
    """Post a short notice; if Slack itself is failing, the log line is all that is left."""
    try:
        _post(client, channel, thread, text)
    except Exception:
        log.exception("could not post to %s", channel)


def _react(client: WebClient, method: str, channel: str, ts: str) -> None:
    """The working sign is a courtesy: a missing reactions:write scope must not stop the answer."""
    try:
        getattr(client, method)(channel=channel, timestamp=ts, name=WORKING)
    except Exception as exc:
        log.warning("%s on %s failed: %s", method, channel, exc)


# -- Slack text in and out ----------------------------------------------------------------------
_MARKUP = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")


def question_text(text: str, bot_user: str | None) -> str:
    """Slack's message markup as the question a person typed.

    "<@UBOT> What does <https://x.org|the page> say &amp; why?" -> "What does the page say & why?"
    The bot's mention goes; other markup becomes its label, or the bare link.
    """

    def plain(match: re.Match) -> str:
        target, label = match.group(1), match.group(2)
        if target == f"@{bot_user}":
            return ""
        if label:
            return label
        return target if re.match(r"(https?|mailto):", target) else ""

    text = _MARKUP.sub(plain, text)
    # Slack escapes exactly these three; &amp; last so "&amp;lt;" stays the text "&lt;".
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def escape(text: str) -> str:
    """Document or model text as inert mrkdwn: no mentions, links or @channel can be formed."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    """Cut escaped text to `limit` characters without leaving half an entity."""
    if len(text) <= limit:
        return text
    return re.sub(r"&[a-z]{0,3}$", "", text[: limit - 1]) + "…"


def render(answer: Answer) -> tuple[str, list[dict]]:
    """The plain-text fallback (notifications, old clients) and the Block Kit blocks of an answer.

    The answer keeps its [n] markers; the sources follow, grouped by the claim they support,
    each with its document, sentence number and the quoted sentence.
    """
    body = escape(answer.answer)
    # An abstention says so in its own words ("The documents don't say…"); the icon sets it apart.
    short = answer.short_answer
    lead = f"*{_bold_safe(escape(short.text))}* [{short.citation}]\n" if short else ""
    blocks: list[dict] = [_section(f":information_source: {body}" if answer.abstained else lead + body)]
    fallback = [lead + body]
    if answer.citations:
        blocks += [{"type": "divider"}, _context("*Sources*")]
        fallback.append("Sources:")
        for cited in answer.by_claim(MAX_SOURCES):
            documents = {c.doc_id for _, c in cited}
            if len(documents) > 1:
                blocks.append(_context(f"reported by {len(documents)} sources"))
            for number, c in cited:
                quote = _clip(_quoted(c.text, number, short), SECTION_CHARS - 200)
                blocks.append(_section(f"*[{number}]* {_where(c)}\n>{quote}"))
                fallback.append(f"[{number}] {_where(c)}")
        if len(answer.citations) > MAX_SOURCES:
            blocks.append(_context(f"and {len(answer.citations) - MAX_SOURCES} more sources"))
    blocks.append(_rating_buttons())
    return _clip("\n".join(fallback), FALLBACK_CHARS), blocks


def _quoted(sentence: str, number: int, short: ShortAnswer | None) -> str:
    """A cited sentence for a quote block, with the short answer's words in bold when they are in it."""
    if short is None or short.citation != number or sentence[short.start : short.end] != short.text:
        return escape(" ".join(sentence.split()))
    words = _bold_safe(escape(" ".join(short.text.split())))
    return " ".join(f"{escape(sentence[: short.start])}*{words}*{escape(sentence[short.end :])}".split())


def _bold_safe(text: str) -> str:
    """Text inside *bold*: an asterisk of its own would end the bold early."""
    return text.replace("*", "∗")


def _rating_buttons() -> dict[str, Any]:
    def button(text: str, rating: str) -> dict[str, Any]:
        return {"type": "button", "text": {"type": "plain_text", "text": text, "emoji": True},
                "action_id": f"groundqa_rate_{rating}", "value": rating}

    return {"type": "actions", "block_id": RATE_BLOCK,
            "elements": [button(":thumbsup: Helpful", "up"), button(":thumbsdown: Wrong", "down")]}


def _where(c: Citation) -> str:
    name = escape(c.doc_id.replace("`", "'"))
    where = f" · {escape(locator_text(c.locator))}" if c.locator else (f" · page {c.page}" if c.page else "")
    return f"`{name}` · sentence {c.sentence_index + 1}{where}"


def _section(mrkdwn: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _clip(mrkdwn, SECTION_CHARS)}}


def _context(mrkdwn: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


# -- HTTP -------------------------------------------------------------------------------------
class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Handler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("%s %s", self.address_string(), format % args)


def http_server(app: App, host: str = "127.0.0.1", port: int = 3000) -> WSGIServer:
    """A threaded WSGI server for `app` at /slack/events; call serve_forever() on it.

    Bolt's own `app.start()` always listens on every interface; this one listens where told.
    """
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    bolt = SlackRequestHandler(app, EVENTS_PATH)

    def application(environ: dict, start_response):
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            size = -1
        if not 0 <= size <= MAX_BODY_BYTES:
            start_response("413 Content Too Large", [("Content-Type", "text/plain")])
            return [b"request body too large\n"]
        return bolt(environ, start_response)

    return make_server(host, port, application, server_class=_Server, handler_class=_Handler)
