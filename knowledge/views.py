"""The public help centre: published articles, rendered as escaped text, with search."""

from __future__ import annotations

import re

from django.shortcuts import get_object_or_404, render
from django.utils.html import escape
from django.utils.safestring import mark_safe

from knowledge.selectors import article_search, articles_published

BULLET = re.compile(r"^\s*[-*]\s+")


def render_markdown(body: str) -> str:
    """Headings, bullet lists and paragraphs. Everything is escaped first: no raw HTML passes."""
    html = []
    for block in re.split(r"\n\s*\n", body.strip()):
        lines = [line.rstrip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        heading = re.match(r"^(#{1,6})\s+(.*)$", lines[0])
        if heading:
            level = max(2, len(heading.group(1)))  # the page title is the only h1
            html.append(f"<h{level}>{escape(heading.group(2))}</h{level}>")
            lines = lines[1:]
            if not lines:
                continue
        if all(BULLET.match(line) for line in lines):
            items = "".join(f"<li>{_inline(BULLET.sub('', line))}</li>" for line in lines)
            html.append(f"<ul>{items}</ul>")
        else:
            html.append(f"<p>{_inline(' '.join(lines))}</p>")
    return mark_safe("\n".join(html))  # noqa: S308 - every fragment above is escaped


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escape(text))


def help_index(request):
    query = (request.GET.get("q") or "").strip()[:200]
    articles = articles_published().order_by("category", "title")
    locales = sorted(set(articles.values_list("locale", flat=True)))
    locale = request.GET.get("lang", "")
    if locale in locales:
        articles = articles.filter(locale=locale)
    else:
        locale = ""
    hits = article_search(query=query, k=5) if query else []
    if locale:
        hits = [hit for hit in hits if hit.article.locale == locale]
    context = {
        "articles": articles,
        "query": query,
        "hits": hits,
        "locales": locales,
        "locale": locale,
    }
    return render(request, "help/index.html", context)


def help_article(request, slug: str):
    article = get_object_or_404(articles_published(), slug=slug)
    return render(
        request, "help/article.html", {"article": article, "body": render_markdown(article.body)}
    )
