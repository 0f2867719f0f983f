"""The web app under faults: a failing answerer and more users than the queue holds."""

import os
import threading
import time

from openai_standin import ChatStandIn, sentence_number
from webapp import running_app

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # gradio_client otherwise makes a background request


def reply_text(chat) -> str:
    content = chat[-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def truthful(prompt: str) -> str:
    return f"The US ruled out deploying ground troops [S{sentence_number(prompt, 'ruled out deploying ground troops')}]."


def llm_env(standin) -> dict:
    return {"QA_ANSWERER": "openai", "QA_LLM_BASE_URL": standin.url, "QA_LLM_MODEL": "stand-in"}


def test_one_failing_request_leaves_the_app_answering(index_copy):
    from gradio_client import Client

    def reply(prompt):
        if "Question: How much did Norway" in prompt:
            raise RuntimeError("the model server broke on this request")  # the connection drops
        return truthful(prompt)

    standin = ChatStandIn(reply)
    try:
        with running_app(index_copy, env=llm_env(standin)) as url:
            client = Client(url, verbose=False)
            _, chat, _ = client.predict("How much did Norway contribute?", [], "openai", api_name="/respond")
            assert "Something went wrong" in reply_text(chat)
            _, chat, _ = client.predict("What did the US rule out?", [], "openai", api_name="/respond")
            assert "ground troops" in reply_text(chat)
    finally:
        standin.close()


def test_overload_is_refused_fast_and_the_app_recovers(index_copy):
    from gradio_client import Client

    def slow(prompt):
        time.sleep(4)
        return truthful(prompt)

    standin = ChatStandIn(slow)
    try:
        with running_app(index_copy, "--max-queue", "1", env=llm_env(standin)) as url:
            clients = [Client(url, verbose=False) for _ in range(10)]
            outcomes: list[tuple[str, float]] = []
            start = threading.Barrier(len(clients))

            def user(client):
                start.wait()
                began = time.perf_counter()
                try:
                    _, chat, _ = client.predict("What did the US rule out?", [], "openai", api_name="/respond")
                    outcome = "answered" if "ground troops" in reply_text(chat) else reply_text(chat)
                except Exception as exc:  # noqa: BLE001 - the refusal arrives as a client error
                    outcome = f"refused: {exc}"
                outcomes.append((outcome, time.perf_counter() - began))

            threads = [threading.Thread(target=user, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            refused = [(o, s) for o, s in outcomes if o.startswith("refused")]
            answered = [o for o, _ in outcomes if o == "answered"]
            assert refused and answered, outcomes
            assert all("full" in o.lower() for o, _ in refused), refused
            assert all(s < 3 for _, s in refused), "a refusal waited for the queue instead of answering fast"
            assert len(answered) + len(refused) == len(clients), outcomes
            _, chat, _ = clients[0].predict("What did the US rule out?", [], "openai", api_name="/respond")
            assert "ground troops" in reply_text(chat)  # recovered once the queue drained
    finally:
        standin.close()
