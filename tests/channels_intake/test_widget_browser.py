"""The chat widget in a real browser: Debian's chromium, driven by Playwright, against a real
Daphne serving the demo host page, with the pipeline answering inline (Q_SYNC).

The server is a subprocess on its own SQLite file (it cannot see this test's database), seeded
by `seed_demo` with the triage model this session already trained, so the test stays quick.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SECRET = "browser-test-secret"
STARTUP_SECONDS = 120
REPLY_MS = 30_000

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the test extra not installed
    sync_playwright = None

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(sync_playwright is None, reason="playwright is not installed (pip install '.[test]')"),
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]

# Migrate, load the trained model, seed the demo store, then serve: all in one process, so the
# in-process Chroma index that seed_demo fills is the one the server searches.
SERVER = textwrap.dedent(
    """
    import json, os, sys
    import django
    django.setup()
    from django.core.management import call_command
    from tickets.models import TriageModel
    call_command("migrate", verbosity=0)
    meta = json.loads(open(sys.argv[2]).read())
    TriageModel.objects.get_or_create(version=1, defaults={
        "examples": meta["examples"], "scores": meta["scores"], "active": True,
        "blob": open(sys.argv[1], "rb").read()})
    call_command("seed_demo", stdout=open(os.devnull, "w"))
    from daphne.cli import CommandLineInterface
    CommandLineInterface().run(["-b", "127.0.0.1", "-p", sys.argv[3], "config.asgi:application"])
    """
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(tmp_path, _triage_blob):
    blob, scores, examples = _triage_blob
    (tmp_path / "triage.bin").write_bytes(blob)
    (tmp_path / "triage.json").write_text(json.dumps({"scores": scores, "examples": examples}))
    port = _free_port()
    database = tmp_path / "frontline.sqlite3"
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "LLM_MODEL")},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": f"sqlite:///{database}",
        "FRONTLINE_VAR_DIR": str(tmp_path),
        "CHROMA_URL": "memory://",
        "Q_SYNC": "true",
        "CHAT_IDENTITY_SECRET": SECRET,
        "CHAT_RATE_LIMIT": "3/min",
        "LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / "server.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(tmp_path / "triage.bin"), str(tmp_path / "triage.json"), str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
            try:
                urllib.request.urlopen(f"{url}/widget/demo/", timeout=2)
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"the server did not start:\n{(tmp_path / 'server.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield url, database
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()
        log.close()


def _order_status(database: Path, number: str) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("select status from tickets_order where number = ?", [number]).fetchone()[0]


def test_a_customer_chats_confirms_a_cancellation_and_finds_it_after_a_reload(server):
    url, database = server
    assert _order_status(database, "N-1043") == "paid"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{url}/widget/demo/")
            launcher = page.get_by_role("button", name="Open Support chat")
            launcher.click()
            dialog = page.get_by_role("dialog", name="Support")
            expect(dialog).to_be_visible()
            message = dialog.get_by_role("textbox", name="Message")
            expect(message).to_be_focused()
            log = dialog.get_by_role("log")

            message.fill("how long does shipping take?")
            message.press("Enter")
            expect(log.locator(".fl-ai").last).to_contain_text("business days", timeout=REPLY_MS)

            message.fill("please cancel my order N-1043")
            message.press("Enter")
            yes = log.get_by_role("button", name="Yes")
            expect(yes).to_be_visible(timeout=REPLY_MS)
            expect(log.locator(".fl-ai").last).to_contain_text("N-1043")
            yes.click()
            expect(log.locator(".fl-customer").last).to_have_text("YouYes")
            expect(yes).to_have_count(0)
            expect(log.locator(".fl-ai").last).to_contain_text("cancel", timeout=REPLY_MS)
            assert _order_status(database, "N-1043") == "cancelled"

            # The fourth message in a minute is over CHAT_RATE_LIMIT: refused, and handed back.
            message.fill("<b>one more</b> thing")
            message.press("Enter")
            expect(log.get_by_role("alert")).to_contain_text("too quickly")
            expect(message).to_have_value("<b>one more</b> thing")

            page.reload()
            dialog = page.get_by_role("dialog", name="Support")
            expect(dialog).to_be_visible()  # it was open: it stays open
            log = dialog.get_by_role("log")
            expect(log.locator(".fl-customer").first).to_have_text("Youhow long does shipping take?")
            expect(log.locator(".fl-ai")).to_have_count(3)  # answer, question, done
            expect(log.locator(".fl-ai").last).to_contain_text("cancel")

            # Customer text is text: the markup typed above never becomes an element.
            message = dialog.get_by_role("textbox", name="Message")
            message.fill("<b>one more</b> thing")
            message.press("Enter")
            expect(log.locator(".fl-customer").last).to_have_text("You<b>one more</b> thing")
            assert log.locator(".fl-customer b").count() == 0

            # A phone-sized screen gets the whole screen; Escape closes and focus goes back.
            page.set_viewport_size({"width": 390, "height": 760})
            box = dialog.bounding_box()
            assert box is not None and (box["width"], box["height"]) == (390, 760)
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
            expect(page.get_by_role("button", name="Open Support chat")).to_be_focused()
        finally:
            browser.close()
    with sqlite3.connect(database) as db:
        assert db.execute("select verified from channels_intake_chatsession").fetchall() == [(1,)]
