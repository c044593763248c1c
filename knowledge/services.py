"""Writes on the knowledge base: saving articles, splitting them into passages, indexing."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from knowledge import index, retrieval
from knowledge.importers import ImportRow
from knowledge.models import Article, ArticleVersion, Passage

log = logging.getLogger(__name__)
MAX_PASSAGE_CHARS = 900
VERSIONED_FIELDS = ("title", "body", "category", "intents", "status", "audience", "locale")
LOCALE = re.compile(r"^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$")


def split_passages(body: str, title: str = "") -> list[tuple[str, str]]:
    """Split Markdown along headings, then paragraphs, into (heading, text) chunks."""
    chunks: list[tuple[str, str]] = []
    heading = title
    buffer: list[str] = []

    def flush():
        text = "\n\n".join(p for p in buffer if p).strip()
        if text:
            chunks.append((heading, text))
        buffer.clear()

    for block in re.split(r"\n\s*\n", body.strip()):
        block = block.strip()
        match = re.match(r"^#{1,6}\s+(.+?)(?:\n(.*))?$", block, re.S)
        if match:
            flush()
            heading = match.group(1).strip()
            block = (match.group(2) or "").strip()
        if not block:
            continue
        if sum(len(p) for p in buffer) + len(block) > MAX_PASSAGE_CHARS:
            flush()
        buffer.append(block)
    flush()
    return chunks


def article_save(
    *,
    slug: str,
    title: str,
    body: str,
    category: str = "",
    intents: list[str] | None = None,
    status: str = Article.Status.PUBLISHED,
    audience: str = Article.Audience.PUBLIC,
    locale: str = "en",
    author: AbstractBaseUser | None = None,
    note: str = "",
) -> Article:
    """Create or update an article by slug and record the save as a new version.

    Passages are re-split at once; the index entry is refreshed after commit. Saving exactly
    what the latest version already holds changes nothing, so re-running an import or
    pressing Save twice does not pad the history.
    """
    if status not in Article.Status.values:
        raise ValueError(f"Unknown article status {status!r}.")
    if audience not in Article.Audience.values:
        raise ValueError(f"Unknown article audience {audience!r}.")
    fields = {
        "title": title,
        "body": body,
        "category": category,
        "intents": list(intents or []),
        "status": status,
        "audience": audience,
        "locale": locale or "en",
    }
    with transaction.atomic():
        # The row lock serialises concurrent saves of one article, so version numbers are dense.
        article, created = Article.objects.select_for_update().get_or_create(
            slug=slug, defaults=fields
        )
        if not created:
            latest = article.versions.order_by("-number").first()
            if latest is not None and _snapshot(latest) == fields == _snapshot(article):
                return article
            for name, value in fields.items():
                setattr(article, name, value)
            article.save()
        _version_add(article=article, author=author, note=note)
        article_split(article=article)
        transaction.on_commit(lambda: _enqueue_index(article.pk))
    return article


def article_set_status(
    *, article: Article, status: str, author: AbstractBaseUser | None = None
) -> Article:
    """Publish, archive or draft an article (a new version); the index follows after commit."""
    if status not in Article.Status.values:
        raise ValueError(f"Unknown article status {status!r}.")
    with transaction.atomic():
        # Re-read under the lock: the version snapshots the whole row, not the caller's copy.
        article.refresh_from_db(from_queryset=Article.objects.select_for_update())
        if article.status == status:
            return article
        article.status = status
        article.save(update_fields=["status", "updated_at"])
        _version_add(article=article, author=author, note=f"Status set to {status}")
        transaction.on_commit(retrieval.knowledge_changed)
        transaction.on_commit(lambda: _enqueue_index(article.pk))
    return article


def article_revert(
    *, article: Article, version: ArticleVersion, author: AbstractBaseUser | None = None
) -> Article:
    """Bring back an old version's content as a new version; history is never rewritten.

    The article keeps its current status: reverting the wording of a published article must
    not quietly take it offline because the old version was still a draft.
    """
    if version.article_id != article.pk:
        raise ValueError("That version belongs to another article.")
    return article_save(
        slug=article.slug,
        title=version.title,
        body=version.body,
        category=version.category,
        intents=version.intents,
        status=article.status,
        audience=version.audience,
        locale=version.locale,
        author=author,
        note=f"Reverted to version {version.number}",
    )


def _snapshot(row: Article | ArticleVersion) -> dict:
    return {name: getattr(row, name) for name in VERSIONED_FIELDS}


def _version_add(*, article: Article, author: AbstractBaseUser | None, note: str) -> ArticleVersion:
    number = (article.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return ArticleVersion.objects.create(
        article=article, number=number, author=author, note=note[:200], **_snapshot(article)
    )


def article_split(*, article: Article) -> list[Passage]:
    article.passages.all().delete()
    transaction.on_commit(retrieval.knowledge_changed)
    return Passage.objects.bulk_create(
        Passage(article=article, ordinal=i, heading=heading[:200], text=text)
        for i, (heading, text) in enumerate(split_passages(article.body, article.title))
    )


def _enqueue_index(article_id: int) -> None:
    from django_q.tasks import async_task

    async_task("knowledge.tasks.index_article", article_id, task_name=f"index-article-{article_id}")


def article_index(*, article_id: int) -> int:
    """Bring the vector index in line with the article: published ones in, others out."""
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        index.remove_article(article_id)
        return 0
    if article.status != Article.Status.PUBLISHED:
        index.remove_article(article_id)
        Article.objects.filter(pk=article_id).update(indexed_at=None)
        return 0
    passages = list(article.passages.all())
    if not passages:
        passages = article_split(article=article)
    count = index.upsert_article(article, passages)
    Article.objects.filter(pk=article_id).update(indexed_at=timezone.now())
    return count


def reindex_all(*, progress: Callable[[str, int], None] | None = None) -> int:
    """Rebuild the index from scratch; `progress(slug, entries)` is called after each article."""
    index.drop_collection()
    total = 0
    for article_id, slug in Article.objects.filter(status=Article.Status.PUBLISHED).values_list(
        "id", "slug"
    ):
        entries = article_index(article_id=article_id)
        total += entries
        if progress is not None:
            progress(slug, entries)
    return total


@dataclass
class ImportResult:
    source: str
    slug: str
    outcome: str  # "created", "updated", "unchanged" or "skipped"
    reason: str = ""


def articles_import(
    *,
    rows: Sequence[ImportRow],
    author: AbstractBaseUser | None = None,
    status: str = Article.Status.PUBLISHED,
    progress: Callable[[int, int, ImportResult], None] | None = None,
) -> list[ImportResult]:
    """Save each parsed row as an article and say what happened to it.

    Fields a source leaves out keep the article's current value (or the default for a new
    one, with `status` for the status). Each row is saved on its own: one bad file is
    reported as skipped and does not stop the others.
    """
    results: list[ImportResult] = []
    first_source: dict[str, str] = {}
    for done, row in enumerate(rows, start=1):
        result = _import_row(row=row, author=author, status=status, first_source=first_source)
        results.append(result)
        if progress is not None:
            progress(done, len(rows), result)
    return results


def _import_row(
    *, row: ImportRow, author, status: str, first_source: dict[str, str]
) -> ImportResult:
    slug = str(row.values.get("slug") or "")
    if row.error:
        return ImportResult(row.source, slug, "skipped", row.error)
    try:
        fields = _import_fields(row.values)
    except ValidationError as exc:
        return ImportResult(row.source, slug, "skipped", "; ".join(exc.messages))
    if slug in first_source:
        return ImportResult(
            row.source, slug, "skipped", f"slug already imported from {first_source[slug]}"
        )
    first_source[slug] = row.source
    existing = Article.objects.filter(slug=slug).first()
    defaults = (
        _snapshot(existing)
        if existing
        else {
            "category": "",
            "intents": [],
            "status": status,
            "audience": Article.Audience.PUBLIC,
            "locale": "en",
        }
    )
    merged = {**defaults, **fields}
    if existing is not None and merged == _snapshot(existing):
        return ImportResult(row.source, slug, "unchanged")
    article_save(slug=slug, author=author, note=f"Imported from {row.source}"[:200], **merged)
    return ImportResult(row.source, slug, "updated" if existing else "created")


def _import_fields(values: dict) -> dict:
    """The row's fields, checked; raises ValidationError naming what is wrong."""
    errors = []
    slug = values.get("slug")
    if not isinstance(slug, str) or not slug:
        errors.append("no slug")
    else:
        try:
            validate_slug(slug)
        except ValidationError:
            errors.append(f"slug {slug!r} may hold only letters, digits, - and _")
        if len(slug) > 120:
            errors.append("slug longer than 120 characters")
    fields = {}
    for name, limit in (("title", 200), ("body", None), ("category", 80), ("locale", 10)):
        if name not in values:
            continue
        value = values[name]
        if not isinstance(value, str):
            errors.append(f"{name} must be text")
        elif limit and len(value) > limit:
            errors.append(f"{name} longer than {limit} characters")
        else:
            fields[name] = value.strip()
    for name in ("title", "body"):
        if not fields.get(name) and f"{name} must be text" not in errors:
            errors.append(
                f"no {name}"
                if name == "body"
                else "no title (no front matter title and no heading)"
            )
    if "locale" in fields and not LOCALE.match(fields["locale"]):
        errors.append(f"locale {fields['locale']!r} is not a language code like en or pt-br")
    intents = values.get("intents")
    if intents is not None:
        if not isinstance(intents, list) or not all(isinstance(i, str) for i in intents):
            errors.append("intents must be a list of names")
        else:
            fields["intents"] = [i.strip() for i in intents if i.strip()]
    for name, choices in (("status", Article.Status.values), ("audience", Article.Audience.values)):
        if name in values:
            if values[name] not in choices:
                errors.append(f"{name} must be one of {', '.join(choices)}")
            else:
                fields[name] = values[name]
    if errors:
        raise ValidationError(errors)
    return fields
