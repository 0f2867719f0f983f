"""A scripted OpenAI-compatible chat server on loopback: the real client talks to it over HTTP."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatStandIn:
    """Answers /v1/chat/completions with `reply(prompt)`; records every prompt it was sent."""

    def __init__(self, reply) -> None:
        self.reply = reply
        self.prompts: list[str] = []
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                standin.prompts.append(prompt)
                payload = json.dumps({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": standin.reply(prompt)}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sentence_number(prompt: str, words: str) -> int:
    """The [S#] number the prompt gave to the first sentence containing `words`."""
    for line in prompt.splitlines():
        if line.startswith("[S") and words in line:
            return int(line[2 : line.index("]")])
    raise AssertionError(f"{words!r} not in the prompt")
