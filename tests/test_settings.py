"""Settings read at start-up, checked in a fresh interpreter as a deploy would meet them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

SETUP = "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; django.setup()"


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "DJANGO_SETTINGS_MODULE"}}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_the_development_secret_key(tmp_path):
    refused = _python(SETUP, DEBUG="false", FRONTLINE_VAR_DIR=str(tmp_path))
    assert refused.returncode != 0
    assert "ImproperlyConfigured" in refused.stderr and "SECRET_KEY" in refused.stderr

    started = _python(SETUP, DEBUG="false", SECRET_KEY="a-real-secret-for-this-test", FRONTLINE_VAR_DIR=str(tmp_path))
    assert started.returncode == 0, started.stderr


def test_default_sqlite_database_uses_wal(tmp_path):
    code = SETUP + (
        "\nfrom django.db import connection"
        "\nwith connection.cursor() as cursor:"
        "\n    cursor.execute('PRAGMA journal_mode')"
        "\n    print(cursor.fetchone()[0])"
    )
    result = _python(code, FRONTLINE_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "wal"
    assert (tmp_path / "frontline.sqlite3").exists()
