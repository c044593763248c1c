from __future__ import annotations

import secrets

from django.db import models

from tickets.models import Customer, Ticket


def _token() -> str:
    return secrets.token_urlsafe(24)


class ChatSession(models.Model):
    """A browser's chat conversation; the token lets it reconnect and resume."""

    token = models.CharField(max_length=64, unique=True, default=_token)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_sessions")
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chat {self.token[:8]}"
