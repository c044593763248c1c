"""An HTTP server on 127.0.0.1 that records what it is sent, so the product's real HTTP client
code runs in tests. Subclasses say how a request is recorded and what is answered."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def record(self, path: str, headers: dict, raw: bytes) -> dict:
        """What the tests see of a request, in `requests`."""
        return {"path": path, "headers": headers, "raw": raw}

    def respond(self, request: dict) -> dict | None:
        """The JSON body answered with `status` (None: an empty body)."""
        return None

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = fake.record(self.path, dict(self.headers), raw)
                fake.requests.append(request)
                body = fake.respond(request)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(fake.status)
                if body is not None:
                    self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
