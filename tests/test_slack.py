"""The Slack bot driven as Slack drives it: signed Events API requests to a real bolt app on
loopback, with the real slack_sdk client talking to a Web API stand-in (tests/slack_standin.py).
"""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
from slack_standin import BOT_ID, BOT_USER, CHANNEL, Slack, SlackStandIn, envelope

pytest.importorskip("slack_bolt")

from qa.cli import main  # noqa: E402
from qa.slack import APOLOGY, create_app, http_server, question_text, render  # noqa: E402
from qa.types import Answer, Citation, ShortAnswer  # noqa: E402

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TROOP_FILES = ("000_03cab0ef675863a0.txt", "001_7b5fe780b854878b.txt")


def shown(params: dict) -> str:
    """Everything a person would read: the fallback text and every block's text."""
    return params["text"] + "\n" + json.dumps(params.get("blocks") or [], ensure_ascii=False)


@pytest.fixture
def standin():
    server = SlackStandIn()
    yield server
    server.close()


@pytest.fixture
def bot(standin):
    """Start the bot over an Assistant; returns a Slack that sends it events."""
    servers = []

    def start(assistant) -> Slack:
        app = create_app(assistant, "xoxb-test-token", signing_secret=SECRET, api_url=standin.url)
        server = http_server(app, "127.0.0.1", 0)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return Slack(standin, f"http://127.0.0.1:{server.server_address[1]}/slack/events", SECRET)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_mention_is_acknowledged_at_once_and_answered_in_its_thread_with_sources(bot, assistant, standin):
    slack = bot(assistant)
    assert standin.calls_to("auth.test"), "the token check at start-up goes to SLACK_API_URL"
    began = time.monotonic()
    message, _ = slack.mention("What did the US rule out?")
    assert time.monotonic() - began < 3
    (posted,) = slack.answers(message["ts"])
    assert posted["channel"] == CHANNEL and posted["thread_ts"] == message["ts"]
    assert "ground troops" in posted["text"]
    assert posted["unfurl_links"] is False and posted["unfurl_media"] is False
    blocks = json.dumps(posted["blocks"])
    assert all(name in blocks for name in TROOP_FILES) and "reported by 2 sources" in blocks
    assert standin.calls_to("reactions.add", channel=CHANNEL, timestamp=message["ts"])
    standin.wait_for("reactions.remove", channel=CHANNEL, timestamp=message["ts"])

    from slack_sdk.models.blocks import Block

    for block in posted["blocks"]:
        Block.parse(block).validate_json()  # slack_sdk's own Block Kit limits


def test_a_retried_delivery_is_answered_once(bot, assistant, standin):
    slack = bot(assistant)
    message, body = slack.mention("Who leads the Coalition of the Willing?")
    # Slack retries when the first delivery seemed to time out: the same event_id, at once and later.
    assert slack.deliver(body, {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    slack.answers(message["ts"])
    assert slack.deliver(body, {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}) == 200
    time.sleep(1.0)
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert len(standin.calls_to("reactions.add")) == 1


def test_bad_and_stale_signatures_are_rejected(bot, assistant, standin):
    slack = bot(assistant)
    challenge = {"token": "legacy", "challenge": "abc123", "type": "url_verification"}
    assert slack.deliver(challenge) == 200
    body = envelope({"type": "app_mention", "user": "U0ASKER", "text": f"<@{BOT_USER}> What did the US rule out?",
                     "ts": "1760000000.999999", "channel": CHANNEL, "event_ts": "1760000000.999999"})
    assert Slack(standin, slack.url, "not-the-signing-secret").deliver(body) == 401
    assert slack.deliver(body, timestamp=int(time.time()) - 6 * 60) == 401
    tampered = json.dumps(body).replace("What did", "Why did")
    assert slack.deliver(tampered, {"X-Slack-Signature": "v0=" + "0" * 64}) == 401
    time.sleep(0.5)
    assert [call.method for call in standin.calls] == ["auth.test"]


def test_a_thread_follow_up_is_asked_with_the_threads_history(bot, assistant, standin):
    slack = bot(assistant)
    first, _ = slack.mention("Who leads the Coalition of the Willing?")
    assert "United Kingdom" in slack.answers(first["ts"])[0]["text"]
    slack.mention("How many countries are ready to send personnel to it?", thread_ts=first["ts"])
    assert "10 countries" in slack.answers(first["ts"], count=2)[1]["text"]
    assert standin.calls_to("conversations.replies", channel=CHANNEL, ts=first["ts"])

    # A follow-up that only the history makes answerable: alone it is abstained on.
    alone, _ = slack.mention("How much did it cost?")
    assert "don't say" in slack.answers(alone["ts"])[0]["text"]
    root, _ = slack.mention("What air defense systems did Germany and Norway announce?")
    slack.answers(root["ts"])
    slack.mention("How much did it cost?", thread_ts=root["ts"])
    follow_up = slack.answers(root["ts"], count=2)[1]
    assert "685 million" in follow_up["text"] and "001_7b5fe780b854878b.txt" in shown(follow_up)


def test_a_rate_limited_post_is_retried_after_the_pause_slack_asks_for(bot, assistant, standin):
    slack = bot(assistant)
    standin.throttle("chat.postMessage", times=1, retry_after=1)
    message, _ = slack.mention("What did the US rule out?")
    (posted,) = slack.answers(message["ts"])
    assert "ground troops" in posted["text"]
    throttled, delivered = [c for c in standin.calls if c.method == "chat.postMessage"]
    assert (throttled.status, delivered.status) == (429, 200)
    assert delivered.at - throttled.at >= 1.0


def test_a_failing_answerer_gets_an_apology_and_the_bot_keeps_answering(bot, sample_index, standin, caplog):
    pytest.importorskip("llama_index.llms.openai_like")
    from openai_standin import ChatStandIn, sentence_number

    from qa.assistant import Assistant
    from qa.settings import Settings

    failing = threading.Event()
    failing.set()

    def reply(prompt: str) -> str:
        if failing.is_set():
            raise RuntimeError("the model server broke")  # the connection drops without a reply
        return f"The US ruled out deploying ground troops [S{sentence_number(prompt, 'ruled out deploying ground troops')}]."

    llm = ChatStandIn(reply)
    try:
        settings = Settings(index_dir=sample_index, answerer="openai", llm_base_url=llm.url, llm_model="stand-in")
        slack = bot(Assistant(settings))
        broken, _ = slack.mention("What did the US rule out?")
        (apology,) = slack.answers(broken["ts"])
        assert apology["text"] == APOLOGY and not apology.get("blocks")
        assert any("failed" in r.getMessage() and r.exc_info for r in caplog.records if r.name == "groundqa.slack")

        failing.clear()
        working, _ = slack.mention("What did the US rule out?")
        (answered,) = slack.answers(working["ts"])
        assert "ground troops" in answered["text"]
    finally:
        llm.close()


def test_bot_messages_are_ignored_and_direct_messages_answered(bot, assistant, standin):
    slack = bot(assistant)
    dm = "D0DIRECT"

    def direct(text: str, **fields) -> dict:
        message, body = slack.direct_event(dm, text, **fields)
        assert slack.deliver(body) == 200
        return message

    direct("What did the US rule out?", user="U0OTHERBOT", bot_id="B0OTHERBOT")  # another app's bot user
    direct("What did the US rule out?", user=None, bot_id="B0HOOK", subtype="bot_message")  # a webhook
    direct("What did the US rule out?", user=BOT_USER, bot_id=BOT_ID)  # its own message
    direct("What did the US rule out?", subtype="message_changed")
    person = direct("What is the capital of Peru?")
    (posted,) = slack.answers(person["ts"], channel=dm)
    assert "don't say" in posted["text"] and ":information_source:" in shown(posted)
    assert "Sources" not in shown(posted)
    time.sleep(0.5)
    assert len(standin.calls_to("chat.postMessage")) == 1
    assert [c.params["timestamp"] for c in standin.calls_to("reactions.add")] == [person["ts"]]


def test_an_empty_mention_is_told_what_to_do(bot, assistant, standin):
    slack = bot(assistant)
    message, _ = slack.mention("")
    (posted,) = slack.answers(message["ts"])
    assert "question is empty" in posted["text"]


def test_slack_markup_becomes_the_question_as_typed():
    text = f"<@{BOT_USER}> What does <https://x.org/a|the page> say about <@U0OTHER> &amp; <!here> &lt;now&gt;?"
    assert question_text(text, BOT_USER) == "What does the page say about & <now>?"
    assert question_text("see <https://x.org/a>", BOT_USER) == "see https://x.org/a"


def test_document_and_model_text_cannot_ping_link_or_break_blocks():
    hostile = "<!channel> read <https://evil.example|this> & <@U0VICTIM>"
    citation = Citation(id="s1", doc_id="odd`name<>.txt", sentence_index=0, start=0, end=10,
                        text=hostile + "\nsecond line " + "x" * 5000, page=3, score=0.9)
    answer = Answer(question="q", answer=hostile + " [1]" + " more" * 2000, abstained=False, citations=[citation])
    text, blocks = render(answer)
    readable = text + json.dumps(blocks)
    assert "<" not in readable and ">" not in readable.replace("\\n>", "")
    assert "&lt;!channel&gt;" in readable and "&amp;" in readable and "page 3" in readable

    from slack_sdk.models.blocks import Block

    for block in blocks:
        Block.parse(block).validate_json()


def test_the_short_answer_leads_and_is_bold_inside_its_quoted_sentence():
    sentence = "The plan was first reported by the Financial Times on August 26."
    citation = Citation(id="s1", doc_id="001.txt", sentence_index=1, start=0, end=len(sentence), text=sentence,
                        page=None, score=0.9)
    at = sentence.index("Financial Times")
    answer = Answer(question="Which publication broke the story?", answer=sentence[:-1] + " [1].", abstained=False,
                    citations=[citation], short_answer=ShortAnswer("Financial Times", 1, at, at + len("Financial Times")))
    text, blocks = render(answer)
    assert text.startswith("*Financial Times* [1]\n")
    quoted = json.dumps(blocks)
    assert "reported by the *Financial Times* on August 26." in quoted


def test_the_command_fails_with_a_hint_not_a_traceback(monkeypatch, capsys, sample_index, standin):
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "slack_bolt", None)  # as if the slack extra were not installed
        assert main(["slack"]) == 1
    assert "pip install 'groundqa[slack]'" in capsys.readouterr().err

    for name in ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"):
        monkeypatch.delenv(name, raising=False)
    assert main(["slack", "--http"]) == 1
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err

    # A token Slack refuses: auth.test goes to SLACK_API_URL, and the refusal is a message.
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxp-not-a-bot-token")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("SLACK_API_URL", standin.url.rstrip("/"))
    assert main(["slack", "--http", "--port", "0", "--index", str(sample_index)]) == 1
    assert "did not accept the bot token" in capsys.readouterr().err
    assert standin.calls_to("auth.test")

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-revoked")
    assert main(["slack", "--index", str(sample_index)]) == 1
    assert "refused the Socket Mode connection" in capsys.readouterr().err
    assert [c.method for c in standin.calls][-1] == "apps.connections.open"


def test_the_command_answers_a_burst_of_events_each_once(sample_index, standin, monkeypatch):
    """`qa slack --http` as deployed, in its own process: what eval/load_slack.py measures, briefly."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "eval" / "load_slack.py"
    spec = importlib.util.spec_from_file_location("load_slack", path)
    load_slack = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "load_slack", load_slack)  # its dataclass looks its module up there
    spec.loader.exec_module(load_slack)

    bot = load_slack.Bot(sample_index, standin)
    try:
        result = load_slack.load(Slack(standin, bot.url, bot.secret), standin, count=20, seconds=2)
    finally:
        bot.stop()
    assert load_slack.checks(result) == [] and result["answered"] == 20
    assert standin.calls_to("conversations.replies"), "the follow-ups were asked with their thread"
    assert not bot.problems()
