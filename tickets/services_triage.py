"""Training and activating triage models."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import Max

from tickets import triage
from tickets.models import Intent, TrainingExample, TriageModel

log = logging.getLogger(__name__)


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


def triage_train(*, activate_if_not_worse: bool = True) -> TriageModel:
    """Train on every labelled example; the new model becomes active unless it scores worse."""
    intents_ensure_defaults()
    rows = list(TrainingExample.objects.exclude(intent="").values_list("text", "intent"))
    texts = [text for text, _ in rows]
    labels = [intent for _, intent in rows]
    model, scores = triage.train_intent_model(texts, labels)
    with transaction.atomic():
        version = (TriageModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        current = TriageModel.objects.filter(active=True).order_by("-version").first()
        better = (
            current is None
            or not activate_if_not_worse
            or (scores.get("validation_accuracy") or 0) >= (current.scores.get("validation_accuracy") or 0) - 0.005
        )
        row = TriageModel.objects.create(
            version=version,
            examples=len(texts),
            train_seconds=float(scores["seconds"] or 0),
            scores=scores,
            blob=triage.dumps(model),
            active=better,
        )
        if better:
            TriageModel.objects.exclude(pk=row.pk).update(active=False)
    log.info("triage v%s trained on %s examples in %.1fs: %s", version, len(texts), scores["seconds"], scores)
    return row if better else current
