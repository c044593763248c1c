"""A fake provider API (Twilio, Meta Graph) on 127.0.0.1, so the real HTTPS client code runs."""

from __future__ import annotations

import json
import urllib.parse

from tests.fake_http import FakeServer


class FakeProvider(FakeServer):
    def record(self, path: str, headers: dict, raw: bytes) -> dict:
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if content_type.startswith("application/json"):
            body = json.loads(raw)
        else:
            body = dict(urllib.parse.parse_qsl(raw.decode()))
        return {"path": path, "headers": headers, "body": body}

    def respond(self, request: dict) -> dict:
        if self.status != 200:
            return {"error": {"message": "fake failure"}}
        n = len(self.requests)
        return {"sid": f"SM{n:032d}", "message_id": f"m_{n}", "messages": [{"id": f"wamid.{n}"}]}
