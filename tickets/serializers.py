"""Shapes of the REST contract (DESIGN section 5): what the API accepts and what it renders."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from tickets.models import Channel, Customer, Message, Ticket, TicketEvent, WebhookEndpoint
from tickets.services import MAX_BODY_CHARS


class CustomerInSerializer(serializers.Serializer):
    email = serializers.EmailField()
    name = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    phone = serializers.CharField(required=False, allow_blank=True, max_length=32, default="")


class TicketCreateSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=Channel.choices, default=Channel.API)
    customer = CustomerInSerializer()
    subject = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    body = serializers.CharField(max_length=MAX_BODY_CHARS)
    external_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, max_length=200, default=None
    )


class FollowUpSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=MAX_BODY_CHARS)


class TicketFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Ticket.Status.choices, required=False)
    intent = serializers.CharField(required=False, max_length=80)
    channel = serializers.ChoiceField(choices=Channel.choices, required=False)


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "email", "name", "phone"]


class MessageSerializer(serializers.ModelSerializer):
    kind = serializers.SerializerMethodField(
        help_text="answer, confirm, handoff, action_done, declined or policy"
    )
    action = serializers.SerializerMethodField(
        help_text="the proposed or executed action, on confirm and action messages"
    )

    class Meta:
        model = Message
        fields = ["id", "author", "body", "kind", "action", "created_at"]

    def get_kind(self, message: Message) -> str | None:
        return message.meta.get("kind")

    @extend_schema_field({"type": "object", "nullable": True, "additionalProperties": {}})
    def get_action(self, message: Message) -> dict | None:
        return message.meta.get("action")


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TicketEvent
        fields = ["stage", "outcome", "duration_ms", "created_at"]


class TicketListSerializer(serializers.ModelSerializer):
    customer = CustomerSerializer(read_only=True)
    assigned_to = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Ticket
        fields = [
            "id",
            "number",
            "status",
            "channel",
            "subject",
            "customer",
            "intent",
            "urgency",
            "sentiment",
            "complexity",
            "confidence",
            "outcome",
            "escalation_reason",
            "assigned_to",
            "created_at",
            "updated_at",
        ]


class TicketSerializer(TicketListSerializer):
    messages = MessageSerializer(many=True, read_only=True)
    events = EventSerializer(many=True, read_only=True)

    class Meta(TicketListSerializer.Meta):
        fields = [*TicketListSerializer.Meta.fields, "messages", "events"]


class FollowUpCreatedSerializer(MessageSerializer):
    ticket = serializers.CharField(source="ticket.number", read_only=True)

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "ticket"]


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=WebhookEndpoint.EVENTS),
        required=False,
        default=list,
        help_text="event types to send; empty sends all",
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]
        read_only_fields = ["id", "active", "created_at"]


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    """Only the creation response shows the signing secret; store it then."""

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = [*WebhookEndpointSerializer.Meta.read_only_fields, "secret"]
