"""Onboarding from history: past tickets exported from another helpdesk become labelled
training examples, their categories mapped onto Frontline intents.

Used by `manage.py import_history` and by the upload form in admin. The import is one
transaction: a row that cannot be read is reported with its line number and skipped, and a
file with nothing usable in it stores nothing at all.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.text import slugify

from tickets.models import Intent, TrainingExample

TEXT_KEYS = ("text", "body", "message")
CATEGORY_KEYS = ("category", "intent", "label")
SENTIMENTS = {"negative", "neutral", "positive"}
URGENCIES = {"low", "normal", "high", "urgent"}
HEAD_SHARE = 0.8


class HistoryImportError(ValueError):
    """The file as a whole cannot be imported; nothing was stored."""


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    duplicates: int = 0
    per_intent: Counter = field(default_factory=Counter)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)
    unmapped: dict[str, str] = field(default_factory=dict)  # export category -> intent it became
    created_intents: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def head_intents(self) -> list[str]:
        """The most frequent intents that together make up 80 % of the imported volume."""
        total = sum(self.per_intent.values())
        head, covered = [], 0
        for intent, count in self.per_intent.most_common():
            if total and covered >= HEAD_SHARE * total:
                break
            head.append(intent)
            covered += count
        return head

    def lines(self) -> list[str]:
        """The report as text, for the command's output and the admin message."""
        verb = "would import" if self.dry_run else "imported"
        out = [
            f"{self.rows} rows read, {verb} {self.imported}, {len(self.errors)} skipped, {self.duplicates} duplicates"
        ]
        for line, reason in self.errors[:50]:
            out.append(f"  line {line}: {reason}")
        if len(self.errors) > 50:
            out.append(f"  ... and {len(self.errors) - 50} more")
        if self.unmapped:
            out.append("Unmapped categories (new intents named after them):")
            out.extend(
                f"  {source!r} -> {intent}" for source, intent in sorted(self.unmapped.items())
            )
        if self.created_intents:
            out.append(f"New intents (path 'answer'): {', '.join(self.created_intents)}")
        total = sum(self.per_intent.values())
        out.append("Per intent:")
        out.extend(
            f"  {intent:<32} {count:>6}  {count / total:6.1%}"
            for intent, count in self.per_intent.most_common()
        )
        head = self.head_intents
        out.append(
            f"{len(head)} of {len(self.per_intent)} intents make up 80 % of volume: {', '.join(head)}"
        )
        return out


def mapping_parse(text: str) -> dict[str, str]:
    """A mapping from JSON (`{"Old Name": "new_intent"}`) or lines of `Old Name=new_intent`."""
    text = (text or "").strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise HistoryImportError(f"the mapping is not valid JSON: {exc}") from exc
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
            raise HistoryImportError("the mapping must map category names to intent names")
        return {k.strip(): v.strip() for k, v in data.items()}
    mapping = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        source, sep, target = line.rpartition("=")
        if not sep or not source.strip() or not target.strip():
            raise HistoryImportError(
                f"mapping line {number}: expected 'Old Name=new_intent', got {line!r}"
            )
        mapping[source.strip()] = target.strip()
    return mapping


def intent_slug(category: str) -> str:
    return slugify(category).replace("-", "_")[:80]


def _detect_format(name: str, data: bytes) -> str:
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    return "jsonl" if data.lstrip()[:1] == b"{" else "csv"


def _first(row: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return ""


def _bad_encoding(values) -> bool:
    # Undecodable bytes survive decoding as lone surrogates (errors="surrogateescape").
    return any(isinstance(v, str) and any("\udc80" <= ch <= "\udcff" for ch in v) for v in values)


def _rows_jsonl(text: str):
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if _bad_encoding([line]):
            yield number, None, "not valid UTF-8"
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"invalid JSON ({exc.msg})"
            continue
        if not isinstance(row, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, {str(k).strip().lower(): v for k, v in row.items()}, ""


def _rows_csv(text: str):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise HistoryImportError(f"line 1: unreadable CSV header ({exc})") from exc
    if not any(k in header for k in TEXT_KEYS) or not any(k in header for k in CATEGORY_KEYS):
        raise HistoryImportError(
            f"the CSV header needs a text column ({'|'.join(TEXT_KEYS)}) and a category column "
            f"({'|'.join(CATEGORY_KEYS)}); found {', '.join(header) or 'nothing'}"
        )
    start = reader.line_num + 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, None, f"unreadable CSV ({exc})"
            start = reader.line_num + 1
            continue
        number, start = start, reader.line_num + 1
        if not any(v.strip() for v in values):
            continue
        if _bad_encoding(values):
            yield number, None, "not valid UTF-8"
            continue
        yield number, dict(zip(header, values, strict=False)), ""


def history_import(
    *,
    data: bytes,
    name: str = "",
    fmt: str | None = None,
    mapping: dict[str, str] | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Import an export of past tickets (CSV or JSONL; `fmt` None guesses from the name and the
    content). Categories are looked up in `mapping` (exactly, then ignoring case); a category
    mapped nowhere becomes an intent named by its slug, and missing intents are created with
    the answer path. Raises HistoryImportError, storing nothing, when the file cannot be read
    or no row in it is usable."""
    mapping = mapping or {}
    folded = {k.casefold(): v for k, v in mapping.items()}
    fmt = fmt or _detect_format(name, data)
    if fmt not in {"csv", "jsonl"}:
        raise HistoryImportError(f"unknown format {fmt!r}: use csv or jsonl")
    if b"\x00" in data[:4096]:
        raise HistoryImportError("this is not a text file (it contains NUL bytes)")
    text = data.decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    rows = list(_rows_csv(text) if fmt == "csv" else _rows_jsonl(text))

    report = ImportReport(rows=len(rows), dry_run=dry_run)
    known = set(Intent.objects.values_list("name", flat=True))
    seen = set(TrainingExample.objects.values_list("text", "intent"))
    examples: list[TrainingExample] = []
    for done, (number, row, problem) in enumerate(rows, 1):
        if progress and (done % 200 == 0 or done == len(rows)):
            progress(done, len(rows))
        if row is None:
            report.errors.append((number, problem))
            continue
        body, category = _first(row, TEXT_KEYS), _first(row, CATEGORY_KEYS)
        if not body or not category:
            report.errors.append((number, "missing text" if not body else "missing category"))
            continue
        if _bad_encoding(row.values()):
            report.errors.append((number, "not valid UTF-8"))
            continue
        intent = mapping.get(category) or folded.get(category.casefold())
        if not intent:
            intent = category if category in known else intent_slug(category)
            if not intent:
                report.errors.append((number, f"category {category!r} has no usable name"))
                continue
            if category not in known:
                report.unmapped[category] = intent
        subject = _first(row, ("subject",))
        # The same shape the classify stage sees for an email: "subject. body".
        if subject and not body.startswith(subject[:40]):
            body = f"{subject}. {body}"
        if (body, intent) in seen:
            report.duplicates += 1
            continue
        seen.add((body, intent))
        sentiment = _first(row, ("sentiment",)).lower()
        urgency = _first(row, ("urgency",)).lower()
        examples.append(
            TrainingExample(
                text=body,
                intent=intent,
                sentiment=sentiment if sentiment in SENTIMENTS else "",
                urgency=urgency if urgency in URGENCIES else "",
                source=TrainingExample.Source.HISTORY,
            )
        )
        report.per_intent[intent] += 1
    report.imported = len(examples)

    if not rows:
        raise HistoryImportError("the file has no rows")
    if not examples and not report.duplicates:
        raise HistoryImportError(
            "no usable rows; nothing imported. "
            + "; ".join(f"line {line}: {reason}" for line, reason in report.errors[:5])
        )
    report.created_intents = sorted(set(report.per_intent) - known)
    if dry_run:
        return report
    with transaction.atomic():
        Intent.objects.bulk_create(
            [
                Intent(
                    name=intent,
                    path=Intent.Path.ANSWER,
                    description=_description(intent, report.unmapped),
                )
                for intent in report.created_intents
            ]
        )
        TrainingExample.objects.bulk_create(examples, batch_size=1000)
    return report


def _description(intent: str, unmapped: dict[str, str]) -> str:
    sources = [source for source, target in unmapped.items() if target == intent]
    return (
        f"imported from history ({', '.join(sources)})"[:255]
        if sources
        else "imported from history"
    )
