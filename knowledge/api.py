"""REST endpoints for the published knowledge base and its search."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response

from knowledge.models import Article
from knowledge.selectors import ArticleMatch, article_search, articles_published


class MatchSerializer(serializers.Serializer):
    score = serializers.FloatField(help_text="fused rank score; higher is better")
    similarity = serializers.FloatField(
        help_text="best vector cosine similarity, 0 for keyword-only matches"
    )
    heading = serializers.CharField()
    passage = serializers.CharField()


class ArticleSerializer(serializers.ModelSerializer):
    match = serializers.SerializerMethodField(help_text="only when searching with ?q=")

    class Meta:
        model = Article
        fields = ["slug", "title", "category", "intents", "body", "updated_at", "match"]

    @extend_schema_field(MatchSerializer(allow_null=True))
    def get_match(self, article: Article) -> dict | None:
        match: ArticleMatch | None = self.context.get("matches", {}).get(article.pk)
        return MatchSerializer(match).data if match else None


class ArticleListApi(generics.ListAPIView):
    serializer_class = ArticleSerializer
    queryset = articles_published()

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "q",
                str,
                description="search the articles; results come best first with their match",
            )
        ]
    )
    def get(self, request: Request, *args, **kwargs) -> Response:
        query = request.query_params.get("q", "").strip()
        if not query:
            return super().get(request, *args, **kwargs)
        matches = article_search(query=query)
        page = self.paginate_queryset([m.article for m in matches])
        context = {**self.get_serializer_context(), "matches": {m.article.pk: m for m in matches}}
        return self.get_paginated_response(ArticleSerializer(page, many=True, context=context).data)


class ArticleDetailApi(generics.GenericAPIView):
    serializer_class = ArticleSerializer

    def get(self, request: Request, slug: str) -> Response:
        return Response(
            self.get_serializer(get_object_or_404(articles_published(), slug=slug)).data
        )
