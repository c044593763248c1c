"""The widget's demo page: a pretend shop that embeds the chat widget the way a customer's site
would, with its signed-in customer passed as a signed identity."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import path

from channels_intake.identity import identity_sign
from tickets.demo import DEMO_EMAIL, DEMO_NAME
from tickets.models import Order, Workspace


def widget_demo(request: HttpRequest) -> HttpResponse:
    """The host site's server signs its own customer's email; the browser only carries it."""
    host = request.get_host()
    return render(
        request,
        "widget_demo.html",
        {
            "workspace": Workspace.current(),
            "widget_src": request.build_absolute_uri(static("frontline/widget.js")),
            "host": host,
            "customer": {"email": DEMO_EMAIL, "name": DEMO_NAME},
            "signature": identity_sign(email=DEMO_EMAIL),
            "orders": Order.objects.filter(customer__email=DEMO_EMAIL).order_by("number"),
        },
    )


urlpatterns = [
    path("widget/demo/", widget_demo, name="widget-demo"),
]
