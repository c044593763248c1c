from __future__ import annotations

from django.urls import path

from learning import api

urlpatterns = [
    path("metrics/", api.MetricsApi.as_view(), name="api-metrics"),
]
