"""The only door to litellm. Imported lazily: `import litellm` costs ~4 s and 200 MB."""

from __future__ import annotations

import logging
import os
import re
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


class LLMError(Exception):
    """The provider failed, timed out or answered with something unusable."""


CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
PHONE = re.compile(r"\+?\d[\d ()-]{7,}\d")


def redact(text: str, *, phones: bool = True) -> str:
    """Customer text as it may leave for a provider: card numbers and emails replaced, and
    phone numbers unless `phones` is False (a classifier needs to see that an order number,
    which looks like one, was given)."""
    text = EMAIL.sub("[email]", CARD.sub("[card]", text))
    return PHONE.sub("[phone]", text) if phones else text


def enabled() -> bool:
    return bool(settings.LLM_MODEL)


def _litellm():
    # Without these, litellm fetches a price list and a tokenizer from the internet first.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("LITELLM_OFFLINE_MODE", "true")
    import litellm

    litellm.telemetry = False
    return litellm


def _common() -> dict[str, Any]:
    kwargs: dict[str, Any] = {"timeout": settings.LLM_TIMEOUT, "max_retries": 0}
    if settings.LLM_API_BASE:
        kwargs["api_base"] = settings.LLM_API_BASE
    if settings.LLM_API_KEY:
        kwargs["api_key"] = settings.LLM_API_KEY
    return kwargs


def complete(messages: list[dict[str, str]], *, json_mode: bool = False, max_tokens: int = 400) -> str:
    litellm = _litellm()
    kwargs = _common()
    if json_mode:
        kwargs["response_format"] = {"type": "json_object"}
    try:
        response = litellm.completion(
            model=settings.LLM_MODEL, messages=messages, max_tokens=max_tokens, temperature=0, **kwargs
        )
        text = response.choices[0].message.content or ""
    except Exception as exc:  # litellm raises many types; a missing key is an InternalServerError
        raise LLMError(f"{type(exc).__name__}: {exc}") from exc
    if not text.strip():
        raise LLMError("empty completion")
    return text


def embed(texts: list[str]) -> list[list[float]]:
    litellm = _litellm()
    try:
        response = litellm.embedding(model=settings.EMBEDDING_MODEL, input=texts, **_common())
    except Exception as exc:
        raise LLMError(f"{type(exc).__name__}: {exc}") from exc
    return [item["embedding"] for item in response.data]
