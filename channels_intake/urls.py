from __future__ import annotations

from django.urls import path

from channels_intake import views

urlpatterns = [
    path("", views.chat_page, name="chat"),
]
