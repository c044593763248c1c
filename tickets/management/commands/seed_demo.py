"""Load the demo store (safe to run any number of times) and print how to try it."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from tickets.demo import demo_guide, demo_seed


class Command(BaseCommand):
    help = (
        "Create the demo store: workspace, intents and a trained triage model, help articles and "
        "their search index, 50 customers, 200 orders, demo staff logins, an API token and the "
        "sweep schedule. Only what is missing is created."
    )

    def handle(self, *args, **options):
        parts = demo_seed()
        self.stdout.write(self.style.SUCCESS("Demo store ready:"))
        self.stdout.write("\n".join(f"  {part:<16}{summary}" for part, summary in parts))
        self.stdout.write("")
        self.stdout.write("\n".join(demo_guide()))
