#!/usr/bin/env python3
"""`make run`: migrate, load the demo store, then run Chroma, Daphne and one qcluster until Ctrl-C.

Each server gets its own session, so Ctrl-C in the terminal reaches only this supervisor, which
then stops the servers itself: qcluster through its main process only (SIGTERM to its whole
process group hangs it), and whatever is left of a server after a grace period is killed with
its process group, so nothing outlives `make run`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
MANAGE = [str(BIN / "python"), str(ROOT / "manage.py")]
CHROMA_PORT = 8765  # config/settings.py's CHROMA_URL default
STARTUP_SECONDS = 90
GRACE_SECONDS = 20


class ServerExited(Exception):
    pass


def main() -> int:
    port = os.environ.get("PORT", "8000")
    env = _environment(port)
    servers: list[tuple[str, subprocess.Popen]] = []
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)  # from make or a process manager: same as Ctrl-C
    try:
        chroma_heartbeat = None
        if "CHROMA_URL" not in os.environ:
            chroma_heartbeat = f"http://127.0.0.1:{CHROMA_PORT}/api/v2/heartbeat"
            if _is_up(chroma_heartbeat):
                _say(f"A Chroma server already listens on port {CHROMA_PORT}; using it.")
            else:
                var_dir = Path(env.get("FRONTLINE_VAR_DIR", ROOT / "var"))
                var_dir.mkdir(parents=True, exist_ok=True)
                # Chroma logs every request: keep that out of the terminal.
                _say(f"Starting Chroma on port {CHROMA_PORT}; its log: {var_dir / 'chroma.log'}")
                with open(var_dir / "chroma.log", "ab") as log:
                    command = [BIN / "chroma", "run", "--path", var_dir / "chroma", "--host", "127.0.0.1", "--port", CHROMA_PORT]
                    servers.append(("chroma", _start(command, env, output=log)))
        subprocess.run([*MANAGE, "migrate", "--no-input"], env=env, check=True)
        if chroma_heartbeat:
            # seed_demo indexes the articles, so Chroma must answer first.
            _wait_until_up(chroma_heartbeat, "Chroma", servers)
        # Q_SYNC: articles are indexed as they are saved, instead of queueing index tasks that
        # the worker would run again after seed_demo has indexed everything. Its report says
        # what it did, so only warnings are logged.
        seed_env = {**env, "Q_SYNC": "true", "LOG_LEVEL": "WARNING"}
        guide = subprocess.run([*MANAGE, "seed_demo"], env=seed_env, check=True, stdout=subprocess.PIPE, text=True).stdout
        servers.append(("daphne", _start([BIN / "daphne", "-b", "127.0.0.1", "-p", port, "config.asgi:application"], env)))
        servers.append(("qcluster", _start([*MANAGE, "qcluster"], env)))
        _wait_until_up(f"http://127.0.0.1:{port}/admin/login/", "Daphne", servers)
        _say(f"\n{guide}\nFrontline is running. Press Ctrl-C to stop.\n")
        while True:
            _check_alive(servers)
            time.sleep(0.5)
    except KeyboardInterrupt:
        _say("\nStopping Frontline...")
        return 0
    except ServerExited as exc:
        _say(f"{exc}; stopping the others.")
        return 1
    except subprocess.CalledProcessError as exc:
        _say(f"{' '.join(exc.cmd[1:])} failed with exit code {exc.returncode}.")
        return exc.returncode or 1
    finally:
        _stop(servers)


def _environment(port: str) -> dict[str, str]:
    env = dict(os.environ)
    model_dir = ROOT.parent / "shared" / "models" / "all-MiniLM-L6-v2"
    if not env.get("EMBEDDING_MODEL_DIR") and model_dir.is_dir():
        env["EMBEDDING_MODEL_DIR"] = str(model_dir)
    # Links in outbound messages and the printed guide point at this server.
    env.setdefault("SITE_URL", f"http://127.0.0.1:{port}")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _say(text: str) -> None:
    print(text, flush=True)


def _start(command: list, env: dict[str, str], output=None) -> subprocess.Popen:
    return subprocess.Popen(
        [str(part) for part in command], cwd=ROOT, env=env, start_new_session=True, stdout=output, stderr=output
    )


def _is_up(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _check_alive(servers: list[tuple[str, subprocess.Popen]]) -> None:
    for name, proc in servers:
        if proc.poll() is not None:
            raise ServerExited(f"{name} exited with code {proc.returncode}")


def _wait_until_up(url: str, name: str, servers: list[tuple[str, subprocess.Popen]]) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not _is_up(url):
        _check_alive(servers)
        if time.monotonic() > deadline:
            raise ServerExited(f"{name} did not answer at {url} within {STARTUP_SECONDS}s")
        time.sleep(0.3)


def _stop(servers: list[tuple[str, subprocess.Popen]]) -> None:
    # A second Ctrl-C must not cut the clean-up short and leave servers behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Web and worker first: they use Chroma until they stop.
    for name, proc in reversed(servers):
        if proc.poll() is None:
            proc.terminate()  # the main process only
            try:
                proc.wait(GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                _say(f"{name} did not stop within {GRACE_SECONDS}s; killing it.")
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # children it left behind, or itself if it hung
        except ProcessLookupError:
            pass
        proc.wait()


if __name__ == "__main__":
    sys.exit(main())
