"""The knowledge-base editor. Saving goes through the services so versions, passages and the
index follow; history, diff, revert, preview and bulk import are pages of the article admin."""

from __future__ import annotations

import difflib
from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from knowledge import services
from knowledge.importers import ImportSourceError, rows_from_upload
from knowledge.models import Article, ArticleVersion, Passage
from knowledge.views import render_markdown
from tickets import embeddings
from tickets.admin import ReadOnlyInline
from tickets.models import Intent

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
INDEX_STATE_COLOURS = {"indexed": "#2e7d32", "stale": "#b26a00", "not indexed": "#757575"}


class PassageInline(ReadOnlyInline):
    model = Passage
    fields = ["ordinal", "heading", "text"]
    readonly_fields = fields
    verbose_name_plural = "passages (what retrieval indexes and cites)"


class ArticleForm(forms.ModelForm):
    note = forms.CharField(
        required=False,
        max_length=200,
        label="Change note",
        help_text="What changed and why; shown in the history.",
    )
    intents = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The intents this article answers: retrieval ranks it first for them.",
    )

    class Meta:
        model = Article
        fields = ["title", "slug", "category", "intents", "audience", "locale", "status", "body"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 20, "class": "vLargeTextField kb-body"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Older clients (and the API-shaped tests) post without these; the model defaults apply.
        for name in ("audience", "locale"):
            if name in self.fields:
                self.fields[name].required = False
        if "intents" in self.fields:
            # The workspace's intents, plus any the article names that no longer exist, so
            # saving never drops a link silently.
            names = set(Intent.objects.values_list("name", flat=True))
            names.update(self.instance.intents or [])
            self.fields["intents"].choices = [(name, name) for name in sorted(names)]
            if not names:
                self.fields["intents"].help_text = "No intents yet: train triage or import history first."

    def clean_audience(self) -> str:
        return self.cleaned_data.get("audience") or Article.Audience.PUBLIC

    def clean_locale(self) -> str:
        locale = (self.cleaned_data.get("locale") or "").strip() or "en"
        if not services.LOCALE.match(locale):
            raise forms.ValidationError('Use a language code such as "en" or "pt-br".')
        return locale


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A .zip of Markdown (.md) or HTML (.html) files, a .jsonl file, or one .md/.html file."
    )
    status = forms.ChoiceField(
        choices=Article.Status.choices,
        initial=Article.Status.PUBLISHED,
        help_text="Status of new articles whose file does not set one.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 20 MB.")
        return upload


def _embedder_warning() -> str:
    if isinstance(embeddings.embedder(), embeddings.LexicalFallback):
        return (
            "No embedding model is available: retrieval runs on the lexical fallback and answers "
            "will be much less accurate. Set EMBEDDING_MODEL_DIR to an all-MiniLM-L6-v2 ONNX "
            "folder (or EMBEDDING_MODEL), then run `manage.py reindex`."
        )
    return ""


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    form = ArticleForm
    list_display = [
        "title",
        "category",
        "status",
        "audience",
        "locale",
        "intent_list",
        "passage_count",
        "index_state_label",
    ]
    list_filter = ["status", "audience", "locale", "category"]
    search_fields = ["title", "slug", "body"]
    fields = [
        "title",
        "slug",
        "category",
        "intents",
        "audience",
        "locale",
        "status",
        "body",
        "note",
        "index_state_label",
        "indexed_at",
    ]
    actions = ["publish", "archive"]
    change_form_template = "admin/knowledge/article/change_form.html"
    change_list_template = "admin/knowledge/article/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(passage_count=Count("passages"))

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else {"slug": ("title",)}

    def get_readonly_fields(self, request, obj=None):
        # The slug is the article's public URL, the key intents point at and what replies
        # cite; article_save upserts by it, so a renamed slug would fork the article.
        state = ["index_state_label", "indexed_at"]
        return ["slug", *state] if obj else state

    def get_inlines(self, request, obj):
        return [PassageInline] if obj else []

    @admin.display(description="intents")
    def intent_list(self, obj: Article) -> str:
        return ", ".join(obj.intents or [])

    @admin.display(description="passages", ordering="passage_count")
    def passage_count(self, obj: Article) -> int:
        return obj.passage_count

    @admin.display(description="index", ordering="indexed_at")
    def index_state_label(self, obj: Article) -> str:
        if obj.pk is None:
            return "-"
        state = obj.index_state
        when = f" · {localtime(obj.indexed_at):%Y-%m-%d %H:%M}" if obj.indexed_at else ""
        return format_html(
            '<span class="kb-index" style="color:{}">{}</span>{}',
            INDEX_STATE_COLOURS[state],
            state,
            when,
        )

    def save_model(self, request, obj, form, change):
        saved = services.article_save(
            slug=obj.slug,
            title=obj.title,
            body=obj.body,
            category=obj.category,
            intents=obj.intents,
            status=obj.status,
            audience=obj.audience,
            locale=obj.locale,
            author=request.user,
            note=form.cleaned_data.get("note", ""),
        )
        # The admin goes on to log and redirect with `obj`: give it the stored row's identity.
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _set_status(self, request, queryset, status: str) -> None:
        changed = [a for a in queryset if a.status != status]
        for article in changed:
            services.article_set_status(article=article, status=status, author=request.user)
        self.message_user(request, f"{len(changed)} article(s) {status}.", messages.SUCCESS)

    @admin.action(description="Publish (and index)", permissions=["change"])
    def publish(self, request, queryset):
        self._set_status(request, queryset, Article.Status.PUBLISHED)

    @admin.action(description="Archive (and remove from the index)", permissions=["change"])
    def archive(self, request, queryset):
        self._set_status(request, queryset, Article.Status.ARCHIVED)

    # --- extra pages ---------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "preview/", wrap(require_POST(self.preview_view)), name="knowledge_article_preview"
            ),
            path("import/", wrap(self.import_view), name="knowledge_article_import"),
            path(
                "<path:object_id>/history/diff/",
                wrap(self.diff_view),
                name="knowledge_article_diff",
            ),
            path(
                "<path:object_id>/history/<int:number>/revert/",
                wrap(self.revert_view),
                name="knowledge_article_revert",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra = {"embedder_warning": _embedder_warning(), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = {"embedder_warning": _embedder_warning(), **(extra_context or {})}
        return super().changeform_view(request, object_id, form_url, extra_context=extra)

    def _article_or_404(self, request, object_id: str, *, change: bool = False) -> Article:
        article = self.get_object(request, object_id)
        if article is None:
            raise Http404("No such article.")
        allowed = (
            self.has_change_permission(request, article)
            if change
            else self.has_view_or_change_permission(request, article)
        )
        if not allowed:
            raise PermissionDenied
        return article

    def _context(self, request, article: Article | None, title: str, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": article,
            "title": title,
            "has_change_permission": self.has_change_permission(request, article),
            "embedder_warning": _embedder_warning(),
            **extra,
        }

    def history_view(self, request, object_id, extra_context=None):
        """The article's versions, newest first, with compare and revert."""
        article = self._article_or_404(request, object_id)
        versions = list(article.versions.select_related("author"))
        context = self._context(request, article, f"History: {article.title}", versions=versions)
        return TemplateResponse(request, "admin/knowledge/article/history.html", context)

    def diff_view(self, request, object_id):
        article = self._article_or_404(request, object_id)
        versions = {v.number: v for v in article.versions.select_related("author")}
        if not versions:
            raise Http404("This article has no versions.")
        try:
            new_number = int(request.GET.get("b") or max(versions))
            old_number = int(request.GET.get("a") or max(new_number - 1, 1))
        except ValueError as exc:
            raise Http404("Versions are numbers.") from exc
        if old_number not in versions or new_number not in versions:
            raise Http404("No such version.")
        old, new = versions[old_number], versions[new_number]
        changes = [
            (name, getattr(old, name), getattr(new, name))
            for name in services.VERSIONED_FIELDS
            if name != "body" and getattr(old, name) != getattr(new, name)
        ]
        # HtmlDiff escapes every line it puts in the table, so the result is safe to show.
        table = difflib.HtmlDiff(wrapcolumn=80).make_table(
            old.body.splitlines(),
            new.body.splitlines(),
            fromdesc=f"Version {old.number}",
            todesc=f"Version {new.number}",
            context=True,
            numlines=2,
        )
        context = self._context(
            request,
            article,
            f"Compare versions {old.number} and {new.number}: {article.title}",
            old=old,
            new=new,
            changes=changes,
            body_changed=old.body != new.body,
            diff_table=mark_safe(table),  # noqa: S308 - difflib escapes the text it lays out
            numbers=sorted(versions, reverse=True),
        )
        return TemplateResponse(request, "admin/knowledge/article/diff.html", context)

    def revert_view(self, request, object_id, number: int):
        if request.method != "POST":
            return redirect(reverse("admin:knowledge_article_history", args=[object_id]))
        article = self._article_or_404(request, object_id, change=True)
        version = get_object_or_404(ArticleVersion, article=article, number=number)
        services.article_revert(article=article, version=version, author=request.user)
        latest = article.versions.order_by("-number").first()
        self.message_user(
            request,
            f"Reverted to version {number}: saved as version {latest.number}; the index follows shortly.",
            messages.SUCCESS,
        )
        return redirect(reverse("admin:knowledge_article_change", args=[article.pk]))

    def preview_view(self, request: HttpRequest) -> JsonResponse:
        """Markdown → the help centre's HTML, for the editor's live preview (staff only)."""
        return JsonResponse({"html": render_markdown(request.POST.get("body", "")[:200_000])})

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        results, counts, error = None, None, ""
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                rows = rows_from_upload(upload.name, upload.read())
            except ImportSourceError as exc:
                error = str(exc)
            else:
                results = services.articles_import(
                    rows=rows, author=request.user, status=form.cleaned_data["status"]
                )
                counts = Counter(r.outcome for r in results)
                if not results:
                    error = "The upload holds no .md, .html or .jsonl files."
        context = self._context(
            request,
            None,
            "Import articles",
            form=form,
            results=results,
            counts=counts,
            error=error,
        )
        return TemplateResponse(request, "admin/knowledge/article/import.html", context)
