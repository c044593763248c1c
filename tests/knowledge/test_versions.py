"""Versioning, revert and the index following publish / edit / archive."""

from __future__ import annotations

import pytest

from knowledge import index
from knowledge.models import Article, ArticleVersion, Passage
from knowledge.services import article_revert, article_save, article_set_status


def _entries(article: Article) -> dict:
    return index.collection().get(where={"article_id": article.pk}, include=["metadatas"])


def _indexed_texts(article: Article) -> list[str]:
    """The passage texts the index holds for the article (entries carry passage ids, not text)."""
    ids = {m["passage_id"] for m in _entries(article)["metadatas"] if m["kind"] == "passage"}
    return list(
        Passage.objects.filter(id__in=ids).order_by("ordinal").values_list("text", flat=True)
    )


@pytest.mark.django_db
def test_every_save_that_changes_the_article_adds_a_version(admin_user_):
    article = article_save(slug="gift-cards", title="Gift cards", body="They expire after a year.")
    article_save(
        slug="gift-cards",
        title="Gift cards",
        body="They never expire.",
        author=admin_user_,
        note="policy change",
    )
    article_save(
        slug="gift-cards", title="Gift cards", body="They never expire.", author=admin_user_
    )

    versions = list(article.versions.order_by("number"))
    assert [v.number for v in versions] == [1, 2]  # saving identical content adds nothing
    assert versions[0].body == "They expire after a year." and versions[0].author is None
    assert versions[1].body == "They never expire."
    assert versions[1].author == admin_user_ and versions[1].note == "policy change"


@pytest.mark.django_db
def test_a_status_change_is_a_version_too(admin_user_):
    article = article_save(slug="gift-cards", title="Gift cards", body="Text.", status="draft")
    article_set_status(article=article, status="published", author=admin_user_)

    latest = article.versions.first()
    assert (latest.number, latest.status, latest.author) == (2, "published", admin_user_)


@pytest.mark.django_db
def test_revert_adds_a_new_version_with_the_old_content_and_keeps_history(admin_user_):
    article = article_save(
        slug="returns",
        title="Returns",
        body="30 days.",
        category="returns",
        intents=["return_item"],
    )
    article_save(slug="returns", title="Returns policy", body="14 days.", category="billing")
    old = article.versions.get(number=1)

    article_revert(article=article, version=old, author=admin_user_)

    article.refresh_from_db()
    assert (article.title, article.body, article.category, article.intents) == (
        "Returns",
        "30 days.",
        "returns",
        ["return_item"],
    )
    assert [v.number for v in article.versions.order_by("number")] == [1, 2, 3]
    newest = article.versions.get(number=3)
    assert newest.body == "30 days." and newest.note == "Reverted to version 1"
    assert article.versions.get(number=2).body == "14 days."  # never rewritten
    assert [p.text for p in article.passages.all()] == ["30 days."]


@pytest.mark.django_db
def test_revert_refuses_a_version_of_another_article():
    one = article_save(slug="one", title="One", body="One.")
    other = article_save(slug="other", title="Other", body="Other.")
    with pytest.raises(ValueError):
        article_revert(article=one, version=other.versions.get())
    assert ArticleVersion.objects.filter(article=one).count() == 1


@pytest.mark.django_db
def test_publish_edit_archive_and_revert_update_the_index_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        article = article_save(
            slug="gift-cards", title="Gift cards", body="Draft text.", status="draft"
        )
    assert _entries(article)["ids"] == []
    assert Article.objects.get(pk=article.pk).index_state == "not indexed"

    with django_capture_on_commit_callbacks(execute=True):
        article_set_status(article=article, status="published")
    entries = _entries(article)
    assert entries["ids"] and Article.objects.get(pk=article.pk).index_state == "indexed"
    assert {m["audience"] for m in entries["metadatas"]} == {"public"}
    assert {m["locale"] for m in entries["metadatas"]} == {"en"}

    with django_capture_on_commit_callbacks(execute=True):
        article_save(
            slug="gift-cards",
            title="Gift cards",
            body="Gift cards never expire.\n\nUse them online.",
        )
    assert _indexed_texts(article) == ["Gift cards never expire.\n\nUse them online."]

    with django_capture_on_commit_callbacks(execute=True):
        article_revert(article=article, version=article.versions.get(number=1))
    assert _indexed_texts(article) == ["Draft text."]

    with django_capture_on_commit_callbacks(execute=True):
        article_set_status(article=article, status="archived")
    assert _entries(article)["ids"] == []
    assert Article.objects.get(pk=article.pk).indexed_at is None


@pytest.mark.django_db
def test_internal_articles_stay_indexed_with_their_audience_and_locale(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        article = article_save(
            slug="refund-override",
            title="Refund overrides",
            body="Agents may refund up to $50.",
            audience="internal",
            locale="pt-br",
        )
    metas = _entries(article)["metadatas"]
    assert metas and {(m["audience"], m["locale"]) for m in metas} == {("internal", "pt-br")}


@pytest.mark.django_db
def test_an_edit_not_yet_indexed_shows_as_stale():
    article = article_save(
        slug="gift-cards", title="Gift cards", body="Text."
    )  # no commit: not run
    assert article.index_state == "not indexed"
    Article.objects.filter(pk=article.pk).update(indexed_at=article.updated_at)
    article_save(slug="gift-cards", title="Gift cards", body="New text.")
    assert Article.objects.get(pk=article.pk).index_state == "stale"


@pytest.mark.django_db
def test_reindex_command_rebuilds_published_articles_with_a_progress_bar():
    from io import StringIO

    from django.core.management import call_command

    published = article_save(slug="one", title="One", body="First.")
    article_save(slug="two", title="Two", body="Second.")
    draft = article_save(slug="draft", title="Draft", body="Not yet.", status="draft")
    class Terminal(StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()

    call_command("reindex", stdout=out)

    assert "\r[###############...............] 1/2 one" in out.getvalue()
    assert "\r[##############################] 2/2 two" in out.getvalue()
    assert _entries(published)["ids"] and not _entries(draft)["ids"]
    assert Article.objects.get(pk=published.pk).index_state == "indexed"
