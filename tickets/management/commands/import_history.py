"""Import past tickets (CSV or JSONL) as training examples, mapping their categories to intents."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tickets.importers import HistoryImportError, history_import, mapping_parse


class Command(BaseCommand):
    help = (
        "Import an export of past tickets (columns text|body|message, subject, category|intent|label, "
        "urgency, sentiment) as training examples. Bad rows are reported by line and skipped; "
        "nothing is stored when no row is usable."
    )

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument(
            "--format", choices=["csv", "jsonl"], help="default: guessed from the name and content"
        )
        parser.add_argument(
            "--mapping",
            help='a JSON file {"Old Name": "new_intent"} or lines of Old Name=new_intent',
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="OLD=NEW",
            help='one mapping, e.g. --map "Where is my order=order_status"',
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="report what would be imported; store nothing"
        )
        parser.add_argument(
            "--train", action="store_true", help="retrain the triage model afterwards"
        )

    def handle(
        self,
        *args,
        file: str,
        format: str | None,
        mapping: str | None,
        map: list[str],
        dry_run: bool,
        train: bool,
        **options,
    ):
        path = Path(file)
        try:
            data = path.read_bytes()
            pairs = mapping_parse(Path(mapping).read_text(encoding="utf-8")) if mapping else {}
            pairs.update(mapping_parse("\n".join(map)))
            report = history_import(
                data=data,
                name=path.name,
                fmt=format,
                mapping=pairs,
                dry_run=dry_run,
                progress=self._progress,
            )
        except (OSError, HistoryImportError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write("\n".join(report.lines()))
        if dry_run:
            return
        if train:
            from tickets.services_triage import triage_train

            self.stderr.write("training the triage model ...")
            model = triage_train()
            self.stdout.write(
                f"Active model: v{model.version}, {model.examples} examples, {model.train_seconds:.1f}s"
            )
        else:
            self.stdout.write(
                "Retrain to use these examples: run again with --train, or `manage.py train_triage`."
            )

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        end = "\n" if done >= total else ""
        self.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} rows", ending=end
        )
        self.stderr.flush()
