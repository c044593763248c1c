from __future__ import annotations

from django.urls import path

from tickets import api

urlpatterns = [
    path("tickets/", api.TicketListCreateApi.as_view(), name="api-tickets"),
    path("tickets/<str:number>/", api.TicketDetailApi.as_view(), name="api-ticket"),
    path(
        "tickets/<str:number>/messages/",
        api.TicketMessageCreateApi.as_view(),
        name="api-ticket-messages",
    ),
    path("webhooks/", api.WebhookListCreateApi.as_view(), name="api-webhooks"),
    path("webhooks/<int:pk>/", api.WebhookDetailApi.as_view(), name="api-webhook"),
]
