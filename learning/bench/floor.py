"""The floors the product is measured against: the least a Django view and a Channels consumer
can do on the same Daphne, so the report shows what the product adds on top."""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from tickets.models import Customer


@csrf_exempt
def insert_one_row(request: HttpRequest) -> JsonResponse:
    """A bare Django view inserting one row: no DRF, no auth, no intake service."""
    body = json.loads(request.body or b"{}")
    row = Customer.objects.create(name=str(body.get("body", ""))[:200])
    return JsonResponse({"id": row.pk}, status=201)


class EchoConsumer(AsyncJsonWebsocketConsumer):
    """A bare Channels consumer: every JSON frame comes straight back."""

    async def receive_json(self, content, **kwargs) -> None:
        await self.send_json(content)
