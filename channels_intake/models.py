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
    # The host site vouched for the customer with a signed identity (channels_intake.identity).
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chat {self.token[:8]}"


class InboundEvent(models.Model):
    """One delivery from a provider (email, SMS, social) and what intake did with it.

    This is the intake log: every webhook call that carries a message leaves exactly one row, so
    nothing is dropped silently, and provider retries are recognised by `external_id`.
    """

    class Status(models.TextChoices):
        RECEIVED = "received"
        TICKET_CREATED = "ticket_created"
        FOLLOWUP = "followup"
        IGNORED = "ignored"
        FAILED = "failed"
        DUPLICATE = "duplicate"

    channel = models.CharField(max_length=10, db_index=True)
    provider = models.CharField(max_length=30)
    # The provider's id for the message (email Message-ID, Twilio MessageSid, Meta mid/wamid).
    external_id = models.CharField(max_length=255, blank=True)
    sender = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    reason = models.CharField(max_length=255, blank=True)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_events")
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_events"
    )
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # A provider retry must find the first delivery's row; duplicates and failures are
            # logged beside it (a failed delivery may be retried and succeed).
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id="") & ~models.Q(status__in=["duplicate", "failed"]),
                name="inbound_event_once_per_external_id",
            )
        ]
        indexes = [models.Index(fields=["channel", "sender", "created_at"])]

    def __str__(self) -> str:
        return f"{self.channel} {self.status} {self.external_id[:40]}"


class Attachment(models.Model):
    """A file that arrived with an inbound message; skipped files keep their name and why."""

    message = models.ForeignKey("tickets.Message", on_delete=models.CASCADE, related_name="attachments")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    file = models.FileField(upload_to="attachments/%Y/%m/", blank=True)
    skipped_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class SocialIdentity(models.Model):
    """Who a social platform's sender id is: Messenger PSID, Instagram IGSID or WhatsApp wa_id."""

    class Platform(models.TextChoices):
        MESSENGER = "messenger"
        INSTAGRAM = "instagram"
        WHATSAPP = "whatsapp"

    platform = models.CharField(max_length=20, choices=Platform.choices)
    sender_id = models.CharField(max_length=100)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="social_identities")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["platform", "sender_id"], name="social_identity_unique")]
        verbose_name_plural = "social identities"

    def __str__(self) -> str:
        return f"{self.platform}:{self.sender_id}"
