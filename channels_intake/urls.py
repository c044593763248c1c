from __future__ import annotations

from django.urls import path

from channels_intake import views, webhooks

urlpatterns = [
    path("", views.chat_page, name="chat"),
    path("webhooks/twilio/sms/", webhooks.twilio_sms, name="twilio-sms"),
    path("webhooks/meta/", webhooks.meta_webhook, name="meta-webhook"),
]
