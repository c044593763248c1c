"""REST endpoints for tickets. Every customer message goes through `ticket_receive`."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.permissions import IsAdminUser
from rest_framework.request import Request
from rest_framework.response import Response

from tickets import serializers
from tickets.models import Channel, Message, Ticket, WebhookEndpoint
from tickets.services import ticket_receive
from tickets.webhooks import webhook_endpoint_create


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than the server accepts."
    default_code = "request_too_large"


# Refuse a body over DATA_UPLOAD_MAX_MEMORY_SIZE with a JSON 413 before anything reads it.
# Left to Django, it surfaces as RequestDataTooBig, which DRF does not handle and Django
# answers with a bare HTML 400.
class BoundedBodyMixin:
    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if limit is not None and length > limit:
            raise RequestTooLarge(f"The request body is larger than {limit} bytes.")


def _receive(**kwargs) -> tuple[Ticket, Message, bool]:
    try:
        return ticket_receive(**kwargs)
    except DjangoValidationError as exc:
        raise ValidationError(exc.message_dict) from exc


def _tickets() -> QuerySet[Ticket]:
    return Ticket.objects.select_related("customer", "assigned_to")


def _ticket_with_history(**lookup) -> Ticket:
    return get_object_or_404(_tickets().prefetch_related("messages", "events"), **lookup)


class TicketListCreateApi(BoundedBodyMixin, generics.ListAPIView):
    """Tickets, newest first; POST opens one (or returns the one its external_id opened before)."""

    serializer_class = serializers.TicketListSerializer
    parser_classes = [JSONParser]

    def get_queryset(self) -> QuerySet[Ticket]:
        filters = serializers.TicketFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return _tickets().filter(**filters.validated_data).order_by("-created_at", "-id")

    @extend_schema(parameters=[serializers.TicketFilterSerializer])
    def get(self, request: Request, *args, **kwargs) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request=serializers.TicketCreateSerializer,
        responses={
            201: serializers.TicketSerializer,
            200: OpenApiResponse(
                serializers.TicketSerializer,
                description="The external_id was seen before: its ticket.",
            ),
        },
    )
    def post(self, request: Request) -> Response:
        incoming = serializers.TicketCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        ticket, _, created = _receive(
            channel=data["channel"],
            body=data["body"],
            email=data["customer"]["email"],
            name=data["customer"]["name"],
            phone=data["customer"]["phone"],
            subject=data["subject"],
            external_id=data["external_id"],
        )
        return Response(
            serializers.TicketSerializer(_ticket_with_history(pk=ticket.pk)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class TicketDetailApi(generics.GenericAPIView):
    """One ticket with its whole conversation and the pipeline events that explain it."""

    serializer_class = serializers.TicketSerializer

    def get(self, request: Request, number: str) -> Response:
        return Response(self.get_serializer(_ticket_with_history(number=number)).data)


class TicketMessageCreateApi(BoundedBodyMixin, generics.GenericAPIView):
    """A customer's follow-up on their ticket; "yes" / "no" here answers a pending confirmation."""

    serializer_class = serializers.FollowUpSerializer
    parser_classes = [JSONParser]

    @extend_schema(
        request=serializers.FollowUpSerializer,
        responses={201: serializers.FollowUpCreatedSerializer},
    )
    def post(self, request: Request, number: str) -> Response:
        ticket = get_object_or_404(Ticket, number=number)
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        _, message, _ = _receive(
            channel=Channel.API, body=incoming.validated_data["body"], ticket=ticket
        )
        return Response(
            serializers.FollowUpCreatedSerializer(message).data, status=status.HTTP_201_CREATED
        )


class WebhookListCreateApi(generics.ListAPIView):
    """Integrations' webhook endpoints (staff tokens only); POST registers one."""

    serializer_class = serializers.WebhookEndpointSerializer
    permission_classes = [IsAdminUser]
    parser_classes = [JSONParser]
    queryset = WebhookEndpoint.objects.order_by("id")

    @extend_schema(
        request=serializers.WebhookEndpointSerializer,
        responses={201: serializers.WebhookEndpointCreatedSerializer},
    )
    def post(self, request: Request) -> Response:
        incoming = self.get_serializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            endpoint = webhook_endpoint_create(**incoming.validated_data, created_by=request.user)
        except DjangoValidationError as exc:
            raise ValidationError(exc.message_dict) from exc
        return Response(
            serializers.WebhookEndpointCreatedSerializer(endpoint).data,
            status=status.HTTP_201_CREATED,
        )


class WebhookDetailApi(generics.DestroyAPIView):
    """Remove an endpoint; its pending deliveries go with it."""

    serializer_class = serializers.WebhookEndpointSerializer
    permission_classes = [IsAdminUser]
    queryset = WebhookEndpoint.objects.all()
