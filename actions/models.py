from __future__ import annotations

from django.db import models

from tickets.models import Message, Order, Ticket


class ActionRequest(models.Model):
    """One proposed backend action, its confirmation and its single execution."""

    class Status(models.TextChoices):
        PROPOSED = "proposed"  # asked the customer, waiting for the answer
        CONFIRMED = "confirmed"  # claimed for execution
        EXECUTED = "executed"
        DECLINED = "declined"
        EXPIRED = "expired"
        FAILED = "failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="actions")
    type = models.CharField(max_length=40)
    order = models.ForeignKey(Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    summary = models.TextField(help_text="what will happen, as the customer was told")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED, db_index=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    requested_in = models.ForeignKey(Message, null=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_in = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    result = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.type} {self.order or ''} ({self.status})"

    def as_payload(self) -> dict:
        return {
            "id": self.pk,
            "type": self.type,
            "order": self.order.number if self.order else None,
            "amount": str(self.amount) if self.amount is not None else None,
            "summary": self.summary,
        }


class ActionAudit(models.Model):
    """Every attempt, decision and result, append-only."""

    action = models.ForeignKey(ActionRequest, on_delete=models.CASCADE, related_name="audit")
    event = models.CharField(max_length=30)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action_id} {self.event}"
