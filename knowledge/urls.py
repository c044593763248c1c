from __future__ import annotations

from django.urls import path

from knowledge import api

urlpatterns = [
    path("articles/", api.ArticleListApi.as_view(), name="api-articles"),
    path("articles/<slug:slug>/", api.ArticleDetailApi.as_view(), name="api-article"),
]
