"""A fake provider API (Twilio, Meta Graph) on 127.0.0.1, so the real HTTPS client code runs."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeProvider:
    def __init__(self):
        self.requests: list[dict] = []
        self.status = 200
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.headers.get("content-type", "").startswith("application/json"):
                    body = json.loads(raw)
                else:
                    body = dict(urllib.parse.parse_qsl(raw.decode()))
                fake.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                n = len(fake.requests)
                reply = {
                    "sid": f"SM{n:032d}",
                    "message_id": f"m_{n}",
                    "messages": [{"id": f"wamid.{n}"}],
                }
                if fake.status != 200:
                    reply = {"error": {"message": "fake failure"}}
                data = json.dumps(reply).encode()
                self.send_response(fake.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
