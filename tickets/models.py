"""The shared schema every stage reads: customers, their orders, tickets, messages, events."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    CHAT = "chat", "Live chat"
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    SOCIAL = "social", "Social DM"
    API = "api", "REST API"
    ADMIN = "admin", "Admin"


class Customer(models.Model):
    email = models.EmailField(unique=True, null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True, db_index=True)
    name = models.CharField(max_length=200, blank=True)
    vip = models.BooleanField(default=False)
    plan = models.CharField(max_length=50, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name or self.email or self.phone or f"customer {self.pk}"

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]


class Order(models.Model):
    """An order in the store's backend, mirrored here so every stage can read it."""

    class Status(models.TextChoices):
        PENDING = "pending"
        PAID = "paid"
        SHIPPED = "shipped"
        DELIVERED = "delivered"
        CANCELLED = "cancelled"
        REFUNDED = "refunded"
        RETURNED = "returned"

    number = models.CharField(max_length=40, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="orders")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(max_length=3, default="USD")
    items = models.JSONField(default=list, blank=True)
    payment_method = models.CharField(max_length=30, blank=True)
    payment_last4 = models.CharField(max_length=4, blank=True)
    shipping_address = models.TextField(blank=True)
    carrier = models.CharField(max_length=40, blank=True)
    tracking_number = models.CharField(max_length=60, blank=True)
    placed_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return self.number

    @property
    def payment_label(self) -> str:
        if not self.payment_method:
            return "your original payment method"
        method = self.payment_method.replace("_", " ").title()
        if method.lower() == "visa":
            method = "Visa"
        return f"{method} ending {self.payment_last4}" if self.payment_last4 else method


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        TRIAGED = "triaged"
        ANSWERED = "answered"
        AWAITING_CONFIRMATION = "awaiting_confirmation"
        ESCALATED = "escalated"
        RESOLVED = "resolved"
        CLOSED = "closed"
        REOPENED = "reopened"

    number = models.CharField(max_length=20, unique=True, null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=30, choices=Status.choices, default=Status.NEW, db_index=True)
    # NULL, not "", so the partial unique constraint below ignores tickets without one.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    intent = models.CharField(max_length=80, blank=True, db_index=True)
    urgency = models.CharField(max_length=10, blank=True)
    sentiment = models.CharField(max_length=10, blank=True)
    complexity = models.CharField(max_length=20, blank=True)
    confidence = models.FloatField(null=True, blank=True)
    outcome = models.CharField(max_length=20, blank=True, help_text="answered, action or escalated")
    escalation_reason = models.CharField(max_length=255, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"], condition=Q(external_id__isnull=False), name="ticket_external_id_unique"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def needs_human(self) -> bool:
        return self.status == self.Status.ESCALATED


class Message(models.Model):
    class Author(models.TextChoices):
        CUSTOMER = "customer"
        AI = "ai"
        AGENT = "agent"
        SYSTEM = "system"

    class Pipeline(models.TextChoices):
        """Only customer messages go through the pipeline; others are NOT_APPLICABLE."""

        NOT_APPLICABLE = "n/a"
        PENDING = "pending"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=10, choices=Author.choices)
    body = models.TextField()
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    in_reply_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replies"
    )
    meta = models.JSONField(default=dict, blank=True, help_text="channel metadata, confirm payloads, citations")
    pipeline = models.CharField(
        max_length=10, choices=Pipeline.choices, default=Pipeline.NOT_APPLICABLE, db_index=True
    )
    pipeline_claimed_at = models.DateTimeField(null=True, blank=True)
    pipeline_attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.author}: {self.body[:60]}"


class TicketEvent(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="events")
    stage = models.CharField(max_length=30)
    outcome = models.CharField(max_length=60)
    duration_ms = models.FloatField(default=0)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.stage}: {self.outcome}"


class Intent(models.Model):
    """One intent of the workspace's taxonomy and what the pipeline does with it."""

    class Path(models.TextChoices):
        ANSWER = "answer"
        ACTION = "action"
        ESCALATE = "escalate"

    name = models.CharField(max_length=80, unique=True)
    description = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=10, choices=Path.choices, default=Path.ANSWER)
    action_type = models.CharField(max_length=40, blank=True)
    article_slug = models.SlugField(max_length=120, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RoutingRule(models.Model):
    """An admin-edited routing rule; tickets.routing evaluates the enabled ones in `order`."""

    class Action(models.TextChoices):
        ESCALATE = "escalate", "Always escalate"
        RESOLVE = "resolve", "Always try to resolve"
        SET_PRIORITY = "set_priority", "Set priority"

    class Urgency(models.TextChoices):
        LOW = "low"
        NORMAL = "normal"
        HIGH = "high"
        URGENT = "urgent"

    class Sentiment(models.TextChoices):
        NEGATIVE = "negative"
        NEUTRAL = "neutral"
        POSITIVE = "positive"

    name = models.CharField(max_length=100)
    order = models.PositiveIntegerField(default=100, help_text="lower runs first")
    enabled = models.BooleanField(default=True)
    intent = models.CharField(max_length=80, blank=True, help_text="blank: any intent")
    min_urgency = models.CharField(max_length=10, choices=Urgency.choices, blank=True)
    sentiment = models.CharField(max_length=10, choices=Sentiment.choices, blank=True)
    vip_only = models.BooleanField(default=False)
    amount_over = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="an amount in the message, or the total of an order it names, exceeds this",
    )
    keywords = models.JSONField(
        default=list, blank=True, help_text='whole words or phrases, any of them, e.g. ["chargeback", "lawyer"]'
    )
    action = models.CharField(max_length=12, choices=Action.choices, default=Action.ESCALATE)
    priority = models.CharField(
        max_length=10, choices=Urgency.choices, blank=True, help_text="the urgency a set-priority rule sets"
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.action == self.Action.SET_PRIORITY and not self.priority:
            raise ValidationError({"priority": "A set-priority rule needs the priority it sets."})
        if not isinstance(self.keywords, list) or not all(isinstance(k, str) for k in self.keywords):
            raise ValidationError({"keywords": 'A list of words or phrases, e.g. ["chargeback"].'})


class TrainingExample(models.Model):
    class Source(models.TextChoices):
        SHIPPED = "shipped"
        HISTORY = "history"
        CORRECTION = "correction"

    text = models.TextField()
    intent = models.CharField(max_length=80, blank=True, db_index=True)
    urgency = models.CharField(max_length=10, blank=True)
    sentiment = models.CharField(max_length=10, blank=True)
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.HISTORY)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.intent}: {self.text[:60]}"


class TriageModel(models.Model):
    """A trained triage model; the newest active row is what classify uses."""

    version = models.PositiveIntegerField(unique=True)
    examples = models.PositiveIntegerField(default=0)
    train_seconds = models.FloatField(default=0)
    scores = models.JSONField(default=dict, blank=True)
    blob = models.BinaryField()
    active = models.BooleanField(default=False)
    trained_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"triage v{self.version}"


class Workspace(models.Model):
    """The business's settings: brand voice, escalation rules and action policies (one row)."""

    brand_name = models.CharField(max_length=100, default="Northwind Goods")
    assistant_name = models.CharField(max_length=60, default="Ava")
    voice = models.CharField(max_length=200, default="warm, brief, plain words")
    sign_off = models.CharField(max_length=120, default="— Ava, Northwind Goods support")
    escalate_keywords = models.JSONField(
        default=list, blank=True, help_text="phrases that always send a ticket to a human"
    )
    escalate_vip_complaints = models.BooleanField(default=True)
    refund_approval_over = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("100.00"))
    refund_window_days = models.PositiveIntegerField(default=30)
    cancel_states = models.JSONField(default=list, blank=True)
    address_change_states = models.JSONField(default=list, blank=True)
    plans = models.JSONField(default=dict, blank=True, help_text='{"plan": "monthly price"}')
    confidence_threshold = models.FloatField(null=True, blank=True)
    triage_enabled = models.BooleanField(
        default=True,
        help_text="off for a workspace with no intent taxonomy: every message is answered by retrieval alone",
    )
    updated_at = models.DateTimeField(auto_now=True)

    DEFAULT_KEYWORDS = ["lawyer", "lawsuit", "attorney", "legal action", "chargeback", "small claims", "sue you"]

    def __str__(self) -> str:
        return self.brand_name

    @classmethod
    def current(cls) -> Workspace:
        ws = cls.objects.first()
        if ws is None:
            ws = cls.objects.create(
                escalate_keywords=list(cls.DEFAULT_KEYWORDS),
                cancel_states=["pending", "paid"],
                address_change_states=["pending", "paid"],
                plans={"basic": "9.00", "plus": "19.00", "pro": "39.00"},
            )
        return ws


def _webhook_secret() -> str:
    import secrets

    return secrets.token_hex(32)


class WebhookEndpoint(models.Model):
    """An integration's URL that receives signed ticket and message events."""

    EVENTS = ["ticket.created", "ticket.updated", "message.created"]

    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=128, default=_webhook_secret, blank=True)
    events = models.JSONField(default=list, blank=True, help_text="event types sent here; empty = all")
    active = models.BooleanField(default=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url

    def save(self, *args, **kwargs) -> None:
        if not self.secret:
            self.secret = _webhook_secret()
        super().save(*args, **kwargs)


class WebhookDelivery(models.Model):
    """One event for one endpoint, with its attempts so far."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    event_id = models.UUIDField(unique=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event} → {self.endpoint_id} ({self.status})"
