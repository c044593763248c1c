"""A fake OpenAI-compatible server on 127.0.0.1, so the real litellm client code runs in tests."""

from __future__ import annotations

import json
import time

from tests.fake_http import FakeServer


class FakeLLM(FakeServer):
    def __init__(self):
        super().__init__()
        self.reply = "ok"  # or a function of the request's JSON
        self.delay = 0.0
        self.base += "/v1"

    def record(self, path: str, headers: dict, raw: bytes) -> dict:
        return {"path": path, "json": json.loads(raw or b"{}")}

    def respond(self, request: dict) -> dict:
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200:
            return {"error": {"message": "fake failure", "type": "server_error"}}
        payload = request["json"]
        reply = self.reply(payload) if callable(self.reply) else self.reply
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": payload.get("model", "fake"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
        }
