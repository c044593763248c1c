"""Training, versioning and activating triage models."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import Max

from tickets import triage
from tickets.models import Intent, TrainingExample, TriageModel

log = logging.getLogger(__name__)

VALIDATION = 0.1
# Validation accuracy is a sample: a difference this small is noise, not a worse model.
NOT_WORSE_MARGIN = 0.005
RETRAIN_SCHEDULE = "retrain triage"


def intents_ensure_defaults() -> None:
    """Create the default taxonomy and its shipped examples when the workspace has none."""
    if not Intent.objects.exists():
        Intent.objects.bulk_create(
            Intent(name=name, path=path, action_type=action, article_slug=article)
            for name, (path, action, article) in triage.DEFAULT_INTENTS.items()
        )
    if not TrainingExample.objects.exists():
        TrainingExample.objects.bulk_create(
            TrainingExample(
                text=row["text"],
                intent=row["intent"],
                urgency=row.get("urgency", ""),
                sentiment=row.get("sentiment", ""),
                source=TrainingExample.Source.SHIPPED,
            )
            for row in triage.load_shipped_examples()
        )


def _intent_examples() -> tuple[list[str], list[str], int]:
    """(texts, intents, corrections): one label per text, an agent's correction overriding the
    history's label for the same text (the latest correction wins)."""
    labelled: dict[str, str] = {}
    corrections = 0
    rows = TrainingExample.objects.exclude(intent="").order_by("id").values_list("text", "intent", "source")
    ordered = sorted(rows, key=lambda row: row[2] == TrainingExample.Source.CORRECTION)
    for text, intent, source in ordered:
        corrections += source == TrainingExample.Source.CORRECTION
        labelled[text] = intent
    return list(labelled), list(labelled.values()), corrections


def _tone_examples() -> list[dict]:
    """The workspace's sentiment/urgency labels, then the shipped ones for texts it lacks."""
    rows: dict[str, dict] = {}
    stored = TrainingExample.objects.exclude(sentiment="", urgency="").values("text", "sentiment", "urgency")
    for row in stored:
        rows[row["text"]] = row
    for row in triage.load_tone_examples() + triage.load_shipped_examples():
        rows.setdefault(row["text"], row)
    return list(rows.values())


def _load(row: TriageModel | None) -> triage.IntentModel | None:
    return None if row is None else triage.loads(row.blob)


def triage_train(
    *, activate_if_not_worse: bool = True, progress: Callable[[str], None] | None = None
) -> TriageModel:
    """Train a new version on every labelled example (agents' corrections included); it becomes
    active unless it scores worse than the active one on the same held-out examples.
    Returns the active row."""
    say = progress or (lambda _msg: None)
    started = time.perf_counter()
    intents_ensure_defaults()
    texts, labels, corrections = _intent_examples()
    say(f"embedding {len(texts)} examples")
    embedded = triage.embed_for_training(texts)
    model, scores = triage.train_intent_model(
        texts, labels, validation=VALIDATION, embedded=embedded, progress=say
    )
    tone_rows = _tone_examples()
    say(f"fitting sentiment and urgency on {len(tone_rows)} labelled examples")
    model.tone, scores["tone"] = triage.train_tone_model(tone_rows)
    scores["corrections"] = corrections
    seconds = time.perf_counter() - started  # embedding included: it is most of the work
    current = TriageModel.objects.filter(active=True).order_by("-version").first()
    better = True
    held = triage.validation_mask(texts, labels, VALIDATION)
    current_model = _load(current)
    if current_model is not None and held.any():
        # Scored on this version's held-out examples, so both models face the same questions.
        emb_name, dense = embedded
        scored = triage.score_intents(
            current_model,
            [t for t, h in zip(texts, held, strict=True) if h],
            [lab for lab, h in zip(labels, held, strict=True) if h],
            dense=dense[held] if dense is not None and emb_name == current_model.embedder_name else None,
        )
        scores["compared_with"] = {"version": current.version, "validation_accuracy": scored["validation_accuracy"]}
        if activate_if_not_worse:
            better = (scores["validation_accuracy"] or 0) >= scored["validation_accuracy"] - NOT_WORSE_MARGIN
    with transaction.atomic():
        version = (TriageModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        row = TriageModel.objects.create(
            version=version,
            examples=len(texts),
            train_seconds=round(seconds, 3),
            scores=scores,
            blob=triage.dumps(model),
            active=better,
        )
        if better:
            TriageModel.objects.exclude(pk=row.pk).update(active=False)
    log.info(
        "triage v%s trained on %s examples in %.1fs (%s): accuracy %s",
        version,
        len(texts),
        seconds,
        "activated" if better else "kept inactive",
        scores.get("validation_accuracy"),
    )
    return row if better else current


def schedules_ensure() -> str:
    """The weekly retrain (idempotent): picks up new history and agents' corrections."""
    from django.utils import timezone
    from django_q.models import Schedule

    # First run a week from now: seed_demo or onboarding has just trained a model.
    Schedule.objects.update_or_create(
        name=RETRAIN_SCHEDULE,
        defaults={"func": "tickets.tasks.retrain_triage", "schedule_type": Schedule.WEEKLY, "repeats": -1},
        create_defaults={
            "func": "tickets.tasks.retrain_triage",
            "schedule_type": Schedule.WEEKLY,
            "repeats": -1,
            "next_run": timezone.now() + timezone.timedelta(days=7),
        },
    )
    return "tickets.tasks.retrain_triage weekly"
