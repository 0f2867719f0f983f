"""A web server on 127.0.0.1 for the fetch tests: fixed pages, an error, a slow page and one that never ends."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE = """<html><head><title>Lighthouse keepers of Hordaland</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<article><h1>Lighthouse keepers of Hordaland</h1>
<p>The Marstein lighthouse was kept by the Olsen family for three generations.</p>
<p>Its lamp was electrified in 1956, and the last keeper left the island in 1989.</p>
<p>Today the keeper's house is rented to visitors who want a quiet week at sea.</p>
</article><footer>Copyright the coastal history society</footer></body></html>"""


@contextlib.contextmanager
def serving(pages: dict[str, tuple[int, str, bytes]], robots: str = "User-agent: *\nDisallow: /private/\n"):
    """Yield the base URL of a server answering `pages` (path -> status, content type, body),
    /robots.txt, /never-ends (a body that never finishes) and /silent (headers, then nothing)."""
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            if self.path == "/robots.txt":
                return self._send(200, "text/plain", robots.encode())
            if self.path == "/never-ends":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(b"<html><body><p>")
                while not stop.is_set():
                    self.wfile.write(b"more and more ")
                    self.wfile.flush()
                    time.sleep(0.05)
                return
            if self.path == "/silent":
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                stop.wait(60)
                return
            if self.path not in pages:
                return self._send(404, "text/html", b"<html><body>Not found</body></html>")
            self._send(*pages[self.path])

        def _send(self, status, content_type, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
