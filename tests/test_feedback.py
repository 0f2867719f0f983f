"""Feedback from the web chat (a real browser), Slack (the stand-in) and the API (httpx) lands in one
file, becomes gold questions with `qa feedback export`, and `qa eval` runs on them."""

from __future__ import annotations

import json
import threading
import urllib.parse
from pathlib import Path

import httpx
import pytest
from ask_json import SAMPLE_QUESTION
from webapp import CHROMIUM, CHROMIUM_FLAGS, Uvicorn, ask, browser, running_app

from qa import feedback
from qa.cli import main

SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"


def slack_rating(index_dir: Path) -> None:
    """Mention the bot in the Slack stand-in, then click 👎 under its answer as Slack sends it."""
    pytest.importorskip("slack_bolt")
    from slack_standin import CHANNEL, TEAM, Slack, SlackStandIn

    from qa.assistant import Assistant
    from qa.settings import Settings
    from qa.slack import create_app, http_server

    standin = SlackStandIn()
    app = create_app(Assistant(Settings(index_dir=index_dir)), "xoxb-test-token", signing_secret=SLACK_SECRET,
                     api_url=standin.url)
    server = http_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        slack = Slack(standin, f"http://127.0.0.1:{server.server_address[1]}/slack/events", SLACK_SECRET)
        question, _ = slack.mention("What is the capital of Peru?")
        (posted,) = slack.answers(question["ts"])
        # The bot is done with the question (and remembers the answer it rates) once it takes its
        # working sign off; the posted message shows up a moment earlier, and a click that fast
        # lost the race on a loaded machine.
        standin.wait_for("reactions.remove", channel=CHANNEL, timestamp=question["ts"])
        answer = next(m for m in standin.messages[CHANNEL] if m.get("thread_ts") == question["ts"])
        buttons = [b for b in posted["blocks"] if b["type"] == "actions"][0]["elements"]
        assert [b["action_id"] for b in buttons] == ["groundqa_rate_up", "groundqa_rate_down"]
        click = {
            "type": "block_actions", "team": {"id": TEAM}, "user": {"id": "U0RATER"}, "api_app_id": "A0GROUNDQA",
            "token": "legacy", "trigger_id": "1.2.3", "channel": {"id": CHANNEL},
            "container": {"type": "message", "message_ts": answer["ts"], "channel_id": CHANNEL, "is_ephemeral": False},
            "message": answer, "actions": [{**buttons[1], "block_id": "groundqa_rate", "action_ts": "1760000001.0"}],
        }
        status = slack.deliver("payload=" + urllib.parse.quote(json.dumps(click)),
                               {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        (updated,) = standin.wait_for("chat.update", channel=CHANNEL, ts=answer["ts"])
        shown = json.dumps(updated.params["blocks"])
        assert "Rated wrong" in shown and "<@U0RATER>" in shown and "groundqa_rate_down" not in shown
    finally:
        server.shutdown()
        server.server_close()
        standin.close()


def api_rating(index_dir: Path) -> None:
    from qa.assistant import Assistant
    from qa.settings import Settings
    from qa.server import create_app

    server = Uvicorn(create_app(Assistant(Settings(index_dir=index_dir)), token="t0ken"))
    try:
        auth = {"Authorization": "Bearer t0ken"}
        record = httpx.post(f"{server.url}/v1/ask", json={"question": "How much did Norway contribute?"},
                            headers=auth, timeout=60).json()
        stored = httpx.post(f"{server.url}/v1/feedback", headers=auth, json={
            "question": record["question"], "answer": record["answer"], "citations": record["citations"],
            "rating": "down", "flags": ["wrong_citation"], "correction": "685 million", "comment": "via the portal"})
        assert stored.status_code == 201 and stored.json()["flagged"] is True
        bad = httpx.post(f"{server.url}/v1/feedback", headers=auth,
                         json={"question": "q", "answer": "a", "rating": "meh"})
        assert bad.status_code == 422 and "rating" in bad.json()["error"]["message"]
    finally:
        server.stop()


def web_rating(index_dir: Path, tmp_path: Path) -> None:
    """Dislike an answer in the web chat, give the right answer and sentence; export the conversation."""
    with running_app(index_dir) as url, browser() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = chromium.new_page(viewport={"width": 1400, "height": 1200})
        page.goto(url)
        ask(page, SAMPLE_QUESTION, "ground troops")
        page.get_by_role("button", name="Dislike").last.click()
        form = page.get_by_label("The right answer")
        form.wait_for(timeout=30_000)
        form.fill("deploying ground troops")
        page.get_by_label("The sentence that says it").click()
        page.get_by_role("option", name="000_03cab0ef675863a0.txt · sentence 7").click()
        page.get_by_label("A citation is wrong").check()
        page.get_by_role("button", name="Send feedback").click()
        page.get_by_text("Thanks: saved as feedback").wait_for(timeout=30_000)

        page.get_by_text("Export the conversation").click()
        page.get_by_role("button", name="Export as Markdown and JSON").click()
        link = page.locator('a[download="conversation.md"]')
        link.wait_for(timeout=30_000)
        markdown = httpx.get(link.get_attribute("href"), timeout=30).text
        exported = httpx.get(page.locator('a[download="conversation.json"]').get_attribute("href"), timeout=30).json()
        assert exported["turns"][0]["answer"]["citations"][0]["doc_id"] == "001_7b5fe780b854878b.txt"
        assert f"## 1. {SAMPLE_QUESTION}" in markdown
        assert "> [1] 001_7b5fe780b854878b.txt, sentence 6" in markdown and "“The proposal marks a shift" in markdown
        page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)
        chromium.close()


@pytest.mark.browser
def test_web_slack_and_api_feedback_become_gold_that_qa_eval_runs(index_copy, tmp_path, capsys):
    web_rating(index_copy, tmp_path)
    slack_rating(index_copy)
    api_rating(index_copy)

    items = {item.source: item for item in feedback.read(index_copy)}
    assert set(items) == {"web", "slack", "api"}
    web = items["web"]
    assert web.rating == "down" and web.correction == "deploying ground troops" and web.flags == ["wrong_citation"]
    assert web.correct_sentence == {"doc_id": "000_03cab0ef675863a0.txt", "sentence_index": 6,
                                    "text": "However, the United States has ruled out deploying ground troops."}
    assert web.citations and web.settings["index_dir"] == str(index_copy) and web.commit
    assert items["slack"].user == "U0RATER" and items["slack"].abstained

    gold_file = tmp_path / "gold.jsonl"
    assert main(["feedback", "export", "--index", str(index_copy), "--out", str(gold_file)]) == 0
    gold = {g["feedback"]["source"]: g for g in map(json.loads, gold_file.read_text().splitlines())}
    assert all(g["reviewed"] is False for g in gold.values())
    assert gold["web"]["answers"] == ["deploying ground troops"] and gold["web"]["supporting"][0]["sent_idx"] == 6
    assert gold["api"]["answers"] == ["685 million"] and gold["api"]["answerable"] is True
    assert gold["slack"]["answerable"] is True  # a down-voted "the documents don't say": they should have

    assert main(["feedback", "review", "--index", str(index_copy), items["web"].id[:6]]) == 0
    assert main(["feedback", "export", "--index", str(index_copy), "--out", str(gold_file), "--reviewed-only"]) == 0
    (reviewed,) = map(json.loads, gold_file.read_text().splitlines())
    assert reviewed["reviewed"] is True and reviewed["feedback"]["source"] == "web"
    assert main(["feedback", "list", "--index", str(index_copy)]) == 0
    assert "3 items" in capsys.readouterr().out

    out = tmp_path / "eval"
    assert main(["eval", str(gold_file), "--index", str(index_copy), "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["counts"]["questions"] == 1


def test_gold_follows_what_the_user_said(tmp_path):
    def item(**given) -> feedback.Feedback:
        return feedback.Feedback(**{"question": "Who?", "answer": "Someone [1].", "rating": "down", "source": "api", **given})

    assert feedback.to_gold(item())["answerable"] is False  # an unsupported answer: the documents don't say
    assert feedback.to_gold(item(abstained=True))["answerable"] is True
    assert feedback.to_gold(item(flags=["missing_answer"]))["answerable"] is True
    assert feedback.to_gold(item(correction=" Ada "))["answers"] == ["Ada"]
    assert not item(rating="up").flagged and item(rating="up", correction="Ada").flagged
    with pytest.raises(Exception, match="rating"):
        item(rating="meh")

    for given in (item(), item(abstained=True), item(rating="up")):
        feedback.record(tmp_path, given)
    first, second, _ = feedback.read(tmp_path)
    feedback.review(tmp_path, [first.id], answer="Ada")
    feedback.review(tmp_path, [second.id], unanswerable=True)
    first, second, _ = feedback.read(tmp_path)
    assert feedback.to_gold(first)["answers"] == ["Ada"] and feedback.to_gold(first)["reviewed"]
    assert feedback.to_gold(second)["answerable"] is False
    assert feedback.export(tmp_path, tmp_path / "gold.jsonl") == 2  # the up-vote is not a failure
    with pytest.raises(Exception, match="No feedback with id"):
        feedback.review(tmp_path, ["nope"])


def test_concurrent_writers_never_interleave_lines(tmp_path):
    writers = [threading.Thread(target=lambda n=n: [feedback.record(tmp_path, feedback.Feedback(
        question=f"q{n}", answer="x" * 5000, rating="down", source="api")) for _ in range(20)]) for n in range(8)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert len(feedback.read(tmp_path)) == 160
