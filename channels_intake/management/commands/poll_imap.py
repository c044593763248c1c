"""Read a mailbox over IMAP for teams without an ESP: each UNSEEN message goes through the same
`email_ingest` as the webhooks, then is marked \\Seen so it is read once."""

from __future__ import annotations

import imaplib
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from channels_intake.email import email_ingest_raw


class Command(BaseCommand):
    help = "Poll the IMAP mailbox (IMAP_HOST, IMAP_USER, IMAP_PASSWORD, IMAP_FOLDER) for new mail."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="poll once and exit")

    def handle(self, *args, once: bool = False, **options):
        if not (settings.IMAP_HOST and settings.IMAP_USER):
            raise CommandError("Set IMAP_HOST, IMAP_USER and IMAP_PASSWORD first.")
        while True:
            try:
                count = self.poll()
                self.stdout.write(f"{count} new message(s)")
            except (imaplib.IMAP4.error, OSError) as exc:
                if once:
                    raise CommandError(f"IMAP poll failed: {exc}") from exc
                self.stderr.write(f"IMAP poll failed, retrying: {exc}")
            if once:
                return
            time.sleep(settings.IMAP_POLL_SECONDS)

    def poll(self) -> int:
        with imaplib.IMAP4_SSL(settings.IMAP_HOST, settings.IMAP_PORT) as imap:
            imap.login(settings.IMAP_USER, settings.IMAP_PASSWORD)
            imap.select(settings.IMAP_FOLDER)
            _, data = imap.uid("search", None, "UNSEEN")
            uids = data[0].split() if data and data[0] else []
            for uid in uids:
                # BODY.PEEK leaves the message unread until it is safely stored: a crash
                # mid-way means it is fetched again, and its Message-ID makes that harmless.
                _, parts = imap.uid("fetch", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in parts if isinstance(p, tuple)), None)
                if raw:
                    email_ingest_raw(raw=raw, provider="imap")
                imap.uid("store", uid, "+FLAGS", "(\\Seen)")
            return len(uids)
