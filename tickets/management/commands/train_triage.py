"""Train a new triage model version on every labelled example and print its validation scores."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tickets.models import TriageModel
from tickets.services_triage import triage_train


class Command(BaseCommand):
    help = (
        "Train a new triage model on the labelled examples (agents' corrections included). It "
        "becomes active only if it scores no worse than the active model on the same held-out examples."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--force", action="store_true", help="activate the new model even if it scores worse"
        )

    def handle(self, *args, force: bool, **options):
        active = triage_train(activate_if_not_worse=not force, progress=self._progress)
        new = TriageModel.objects.order_by("-version").first()
        scores = new.scores
        state = "active" if new.pk == active.pk else f"kept inactive (v{active.version} stays active)"
        self.stdout.write(f"Triage v{new.version}: {state}")
        self.stdout.write(f"  examples        {new.examples} ({scores.get('corrections', 0)} agent corrections)")
        self.stdout.write(f"  training time   {new.train_seconds:.1f}s")
        self.stdout.write(
            f"  validation      accuracy {_pct(scores.get('validation_accuracy'))} on "
            f"{scores.get('validation_size', 0)} held-out examples; in scope {_pct(scores.get('in_scope_accuracy'))}, "
            f"out-of-scope recall {_pct(scores.get('out_of_scope_recall'))}"
        )
        compared = scores.get("compared_with")
        if compared:
            self.stdout.write(
                f"  previous        v{compared['version']}: {_pct(compared['validation_accuracy'])} on the same examples"
            )
        for name, tone in (scores.get("tone") or {}).items():
            self.stdout.write(
                f"  {name:<15} rules {_pct(tone['rules_accuracy'])}, model {_pct(tone['model_accuracy'])} "
                f"on {tone['validation_size']}: using the {tone['used']}"
            )
        weakest = sorted((scores.get("per_intent") or {}).items(), key=lambda item: item[1]["f1"])[:5]
        if weakest:
            self.stdout.write("  weakest intents " + ", ".join(f"{name} F1 {row['f1']:.2f}" for name, row in weakest))

    def _progress(self, message: str) -> None:
        self.stderr.write(f"... {message}")


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
