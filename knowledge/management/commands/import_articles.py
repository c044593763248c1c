"""`manage.py import_articles PATH`: bulk-load articles from Markdown, HTML or JSONL exports."""

from __future__ import annotations

from collections import Counter

from django.core.management.base import BaseCommand, CommandError

from knowledge.importers import ImportSourceError, rows_from_path
from knowledge.management.progress import ProgressBar
from knowledge.models import Article
from knowledge.services import ImportResult, articles_import


class Command(BaseCommand):
    help = (
        "Import articles from a folder (or .zip) of Markdown files with optional front matter "
        "(title, slug, category, intents, audience, locale, status) or HTML exports, or from a "
        "JSONL file of {slug, title, body, category?, intents?}. Prints what happened to each file."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="a folder, a .zip, a .jsonl, or one .md/.html file")
        parser.add_argument(
            "--status",
            choices=Article.Status.values,
            default=Article.Status.PUBLISHED,
            help="status of new articles whose source does not say (default: published)",
        )

    def handle(self, *args, path: str, status: str, **options):
        try:
            rows = rows_from_path(path)
        except ImportSourceError as exc:
            raise CommandError(str(exc)) from exc
        if not rows:
            raise CommandError(f"No .md, .html or .jsonl files in {path}.")
        bar = ProgressBar(self.stderr, len(rows))
        results = articles_import(
            rows=rows, status=status, progress=lambda done, total, r: bar.update(done, r.source)
        )
        for result in results:
            self.stdout.write(self._line(result))
        counts = Counter(r.outcome for r in results)
        summary = ", ".join(
            f"{counts[k]} {k}" for k in ("created", "updated", "unchanged", "skipped")
        )
        style = self.style.WARNING if counts["skipped"] else self.style.SUCCESS
        self.stdout.write(style(f"{len(results)} entries: {summary}."))

    def _line(self, result: ImportResult) -> str:
        text = f"{result.outcome:<9} {result.source}"
        if result.slug and result.outcome != "skipped":
            text += f" -> {result.slug}"
        if result.reason:
            text += f"  ({result.reason})"
        return self.style.WARNING(text) if result.outcome == "skipped" else text
