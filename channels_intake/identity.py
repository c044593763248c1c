"""Who may talk to the chat: which pages may open the socket, and which customer a page vouches for.

A host site that knows its signed-in customer passes their email with a signature,
hex HMAC-SHA256(CHAT_IDENTITY_SECRET, email), computed on its server. Only a valid signature
makes the chat speak for that customer once the secret is set; an email typed or forged in the
browser is not enough to act on someone's orders.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


def identity_sign(*, email: str) -> str:
    """The signature a host site puts beside the customer's email (empty without a secret)."""
    secret = settings.CHAT_IDENTITY_SECRET
    if not secret:
        return ""
    message = email.strip().lower().encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def identity_verify(*, email: str, signature: str) -> bool:
    """Whether the signature vouches for this email under the configured secret."""
    expected = identity_sign(email=email)
    return bool(expected and signature) and hmac.compare_digest(expected, signature.strip().lower())


def allowed_origins() -> list[str]:
    """CHAT_ALLOWED_ORIGINS, or else the site's own hosts (as AllowedHostsOriginValidator)."""
    if settings.CHAT_ALLOWED_ORIGINS:
        return list(settings.CHAT_ALLOWED_ORIGINS)
    if settings.DEBUG and not settings.ALLOWED_HOSTS:
        return ["localhost", "127.0.0.1", "[::1]"]
    return list(settings.ALLOWED_HOSTS)


class ChatOriginValidator(OriginValidator):
    """channels' OriginValidator with the allowed origins read at each connect, not once at
    import, so a changed setting (or a test's override) applies to the next connection."""

    def __init__(self, application) -> None:
        super().__init__(application, allowed_origins=[])

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        origins = allowed_origins()
        if parsed_origin is None:  # not a browser: only a "*" lets it in
            return "*" in origins
        return any(
            pattern == "*" or self.match_allowed_origin(parsed_origin, pattern)
            for pattern in origins
        )
