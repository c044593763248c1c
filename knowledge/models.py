from __future__ import annotations

from django.conf import settings
from django.db import models


class Article(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        PUBLISHED = "published"
        ARCHIVED = "archived"

    class Audience(models.TextChoices):
        PUBLIC = "public"
        INTERNAL = "internal", "Internal (agents only)"

    slug = models.SlugField(max_length=120, unique=True)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown")
    category = models.CharField(max_length=80, blank=True)
    intents = models.JSONField(default=list, blank=True, help_text="intents this article answers")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PUBLISHED, db_index=True)
    # Internal articles stay in the vector index (tagged audience=internal) so agents' tools
    # can use them; the help centre, the API and customer-facing retrieval leave them out.
    audience = models.CharField(max_length=10, choices=Audience.choices, default=Audience.PUBLIC, db_index=True)
    locale = models.CharField(max_length=10, default="en", db_index=True, help_text='language code, e.g. "en" or "pt-br"')
    indexed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return f"/help/{self.slug}/"

    @property
    def index_state(self) -> str:
        """"indexed", "stale" (edited since it was last indexed) or "not indexed"."""
        if self.indexed_at is None:
            return "not indexed"
        return "stale" if self.updated_at > self.indexed_at else "indexed"


class ArticleVersion(models.Model):
    """A snapshot taken on every save. History only grows: a revert is a new version."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    category = models.CharField(max_length=80, blank=True)
    intents = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=10, choices=Article.Status.choices)
    audience = models.CharField(max_length=10, choices=Article.Audience.choices, default=Article.Audience.PUBLIC)
    locale = models.CharField(max_length=10, default="en")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["article_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="article_version_number_unique")]

    def __str__(self) -> str:
        return f"{self.article.slug} v{self.number}"


class Passage(models.Model):
    """A heading-and-paragraph chunk of an article: the unit that is indexed and cited."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="passages")
    ordinal = models.PositiveIntegerField()
    heading = models.CharField(max_length=200, blank=True)
    text = models.TextField()

    class Meta:
        ordering = ["article_id", "ordinal"]
        constraints = [models.UniqueConstraint(fields=["article", "ordinal"], name="passage_order_unique")]

    def __str__(self) -> str:
        return f"{self.article.slug}#{self.ordinal}"
