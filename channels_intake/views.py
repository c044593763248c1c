from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tickets.models import Workspace


def chat_page(request: HttpRequest) -> HttpResponse:
    """The customer's chat page; everything after the first paint happens over the socket."""
    return render(request, "chat.html", {"workspace": Workspace.current()})
