"""Print a user's REST API token (created on first use) alone on the last line."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Create (or reuse) the API token of USERNAME and print it alone on the last line."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--create",
            action="store_true",
            help="create USERNAME as a non-staff API user if it does not exist",
        )

    def handle(self, *args, username: str, create: bool, **options):
        User = get_user_model()
        user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
        if user is None:
            if not create:
                raise CommandError(
                    f"No user {username!r}. Pass --create to make a non-staff API user."
                )
            # No usable password: this account signs in with its token only.
            user = User.objects.create_user(**{User.USERNAME_FIELD: username}, password=None)
            self.stderr.write(f"Created API user {username!r}.")
        token, created = Token.objects.get_or_create(user=user)
        self.stderr.write(f"{'New' if created else 'Existing'} token for {username!r}:")
        self.stdout.write(token.key)
