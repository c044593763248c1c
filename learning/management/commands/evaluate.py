"""`manage.py evaluate BUNDLE_DIR [--json OUT] [--llm]`: onboard a bundle, replay it, print the report."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from learning.evaluation import BundleError, bundle_evaluate, report_summary


class Command(BaseCommand):
    help = "Replay an evaluation bundle through the pipeline in a throwaway database and print the report (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("bundle", help="a bundle folder (see DESIGN.md, 'Evaluation bundle')")
        parser.add_argument(
            "--json", dest="out", metavar="OUT", help="also write the report to this file"
        )
        parser.add_argument(
            "--llm", action="store_true", help="use the language model in settings.LLM_MODEL"
        )

    def handle(self, *args, bundle: str, out: str | None, llm: bool, **options):
        if llm and not settings.LLM_MODEL:
            raise CommandError(
                "--llm needs a language model: set LLM_MODEL (and LLM_API_BASE / LLM_API_KEY if it needs them)."
            )
        try:
            report = bundle_evaluate(path=bundle, llm=llm, progress=self._progress)
        except BundleError as exc:
            raise CommandError(str(exc)) from exc
        text = json.dumps(report, indent=2)
        self.stdout.write(text)
        if out:
            Path(out).write_text(text + "\n", encoding="utf-8")
        self.stderr.write(report_summary(report), style_func=str)

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(f"evaluate: {done}/{total} tickets", style_func=str)
        self.stderr.flush()
