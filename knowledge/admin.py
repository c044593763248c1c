"""The knowledge-base editor. Saving goes through the services so passages and the index follow."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count

from knowledge import services
from knowledge.models import Article, Passage


class PassageInline(admin.TabularInline):
    model = Passage
    fields = ["ordinal", "heading", "text"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "passages (what retrieval indexes and cites)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "category",
        "status",
        "intent_list",
        "passage_count",
        "indexed_at",
    ]
    list_filter = ["status", "category"]
    search_fields = ["title", "slug", "body"]
    fields = ["title", "slug", "category", "status", "intents", "body", "indexed_at"]
    readonly_fields = ["indexed_at"]
    actions = ["publish", "archive"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(passage_count=Count("passages"))

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else {"slug": ("title",)}

    def get_readonly_fields(self, request, obj=None):
        # The slug is the article's public URL, the key intents point at and what replies
        # cite; article_save upserts by it, so a renamed slug would fork the article.
        return ["slug", "indexed_at"] if obj else ["indexed_at"]

    def get_inlines(self, request, obj):
        return [PassageInline] if obj else []

    @admin.display(description="intents")
    def intent_list(self, obj: Article) -> str:
        return ", ".join(obj.intents or [])

    @admin.display(description="passages", ordering="passage_count")
    def passage_count(self, obj: Article) -> int:
        return obj.passage_count

    def save_model(self, request, obj, form, change):
        saved = services.article_save(
            slug=obj.slug,
            title=obj.title,
            body=obj.body,
            category=obj.category,
            intents=obj.intents,
            status=obj.status,
        )
        # The admin goes on to log and redirect with `obj`: give it the stored row's identity.
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _set_status(self, request, queryset, status: str) -> None:
        changed = [a for a in queryset if a.status != status]
        for article in changed:
            services.article_set_status(article=article, status=status)
        self.message_user(request, f"{len(changed)} article(s) {status}.", messages.SUCCESS)

    @admin.action(description="Publish (and index)", permissions=["change"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Article.Status.PUBLISHED)

    @admin.action(description="Archive (and remove from the index)", permissions=["change"])
    def archive(self, request, queryset):
        self._set_status(request, queryset, Article.Status.ARCHIVED)
