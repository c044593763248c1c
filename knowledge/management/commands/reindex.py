"""Rebuild the vector index of every published article, e.g. once the Chroma server is up."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from knowledge.management.progress import ProgressBar
from knowledge.models import Article
from knowledge.services import reindex_all


class Command(BaseCommand):
    help = "Drop the article index in Chroma (CHROMA_URL) and index every published article again."

    def handle(self, *args, **options):
        count = Article.objects.filter(status=Article.Status.PUBLISHED).count()
        self.stdout.write(f"Reindexing {count} published articles into {settings.CHROMA_URL}")
        bar = ProgressBar(self.stdout, count)
        done = 0

        def progress(slug: str, entries: int) -> None:
            nonlocal done
            done += 1
            bar.update(done, f"{slug}: {entries} entries")

        total = reindex_all(progress=progress)
        self.stdout.write(self.style.SUCCESS(f"Indexed {total} entries."))
