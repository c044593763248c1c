from __future__ import annotations

from knowledge import services


def index_article(article_id: int) -> int:
    return services.article_index(article_id=article_id)
