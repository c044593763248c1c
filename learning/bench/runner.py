"""The bench run: a throwaway world, the servers `make run` starts, each measurement beside its floor.

Everything lives in one temp folder (SQLite database, Chroma data, server logs) that is deleted
at the end; the servers are started and stopped with `bin/run.py`'s own helpers, so qcluster is
stopped through its main process only (DESIGN section 6). Progress goes to stderr, the report
(JSON) to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Scale:
    rest_requests: int = 400
    rest_concurrency: int = 8
    chat_sockets: tuple[int, ...] = (1, 20)
    chat_messages: int = 3
    echo_messages: int = 50
    worker_tickets: int = 60
    pipeline_tickets: int = 100
    classify_texts: int = 300
    embed_texts: int = 256
    retrieval_sizes: tuple[int, ...] = (1_000, 10_000, 100_000)
    retrieval_queries: int = 150
    real_entries: int = 2_000  # index entries embedded for real; the rest are derived


QUICK = Scale(
    rest_requests=30,
    rest_concurrency=4,
    chat_sockets=(1, 3),
    chat_messages=1,
    echo_messages=5,
    worker_tickets=4,
    pipeline_tickets=4,
    classify_texts=10,
    embed_texts=16,
    retrieval_sizes=(800, 1_200),
    retrieval_queries=10,
    real_entries=800,
)
RETRIEVAL_TARGET_P95_MS = {10_000: 25.0, 100_000: 60.0}  # issue 5
# "servers" is REST intake, the worker pipeline, chat and peak RSS (Daphne and qcluster running).
PHASES = ("servers", "classification", "embeddings", "pipeline", "retrieval")


_STARTED = time.monotonic()


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated entry counts, got {text!r}") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return tuple(sorted(sizes))


def say(text: str) -> None:
    print(f"bench [{time.monotonic() - _STARTED:5.0f}s]: {text}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m learning.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tiny run (about 90 s, mostly seeding) that exercises every measurement")
    parser.add_argument("--out", help="also write the report to this file")
    parser.add_argument(
        "--only",
        choices=PHASES,
        action="append",
        help="run only this phase (repeatable); the world is still set up as for a full run",
    )
    parser.add_argument(
        "--retrieval-sizes",
        type=_sizes,
        help="index sizes in Chroma entries, comma-separated (default 1000,10000,100000); each "
        "passage makes about 12 entries, so 1200000 is about 100,000 passages",
    )
    args = parser.parse_args(argv)
    phases = set(args.only or PHASES)
    scale = QUICK if args.quick else Scale()
    if args.retrieval_sizes:
        scale = replace(scale, retrieval_sizes=args.retrieval_sizes)
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="frontline-bench-"))
    run = _supervisor()
    signal.signal(signal.SIGTERM, run._interrupt)  # from make or a CI timeout: clean up as on Ctrl-C
    servers: list[tuple[str, Any]] = []
    report: dict[str, Any] = {}
    try:
        env = _environment(run, workdir)
        os.environ.clear()
        os.environ.update(env)
        chroma_port = int(env["CHROMA_URL"].rsplit(":", 1)[1])
        say(f"throwaway world in {workdir}; starting Chroma on port {chroma_port}")
        with open(workdir / "chroma.log", "ab") as log:
            command = [run.BIN / "chroma", "run", "--path", workdir / "chroma", "--host", "127.0.0.1", "--port", chroma_port]
            servers.append(("chroma", run._start(command, env, output=log)))
        import django

        django.setup()
        from learning.bench import measure

        _quiet(run._wait_until_up, f"{env['CHROMA_URL']}/api/v2/heartbeat", "Chroma", servers)
        report["setup"] = measure.world_setup(say=say)
        report["config"] = _config(env, scale)
        if "servers" in phases:
            report.update(_servers_phase(run, env, workdir, servers, scale, measure))
        if "classification" in phases:
            report["classification"] = measure.classification(scale.classify_texts, say=say)
        if "embeddings" in phases:
            report["embeddings"] = measure.embeddings(scale.embed_texts, say=say)
        if "pipeline" in phases:
            report["pipeline"] = {**report.get("pipeline", {}), "in_process": measure.pipeline_in_process(scale.pipeline_tickets, say=say)}
        if "retrieval" in phases:
            report["retrieval"] = measure.retrieval(
                sizes=scale.retrieval_sizes,
                queries=scale.retrieval_queries,
                real_entries=scale.real_entries,
                targets=RETRIEVAL_TARGET_P95_MS,
                say=say,
            )
    except BaseException:
        _show_logs(workdir)
        raise
    finally:
        _quiet(_stop, run, servers)
        shutil.rmtree(workdir, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    ordered = {key: report[key] for key in REPORT_ORDER if key in report}
    text = json.dumps(ordered, indent=2)
    print(text, flush=True)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    say(f"done in {report['seconds']}s")
    return 0


REPORT_ORDER = (
    "config", "rest_intake", "chat", "pipeline", "retrieval", "embeddings", "classification",
    "peak_rss_mb", "setup", "seconds",
)


def _servers_phase(run, env, workdir: Path, servers: list, scale: Scale, measure) -> dict[str, Any]:
    """REST intake and chat against a real Daphne, with a qcluster answering the chat."""
    from learning.bench import load

    port = _free_port()
    base = origin = f"http://127.0.0.1:{port}"
    web_env = {**env, "PORT": str(port)}
    with open(workdir / "daphne.log", "ab") as log:
        daphne = run._start([run.BIN / "daphne", "-b", "127.0.0.1", "-p", port, "learning.bench.asgi:application"], web_env, output=log)
    servers.append(("daphne", daphne))
    _quiet(run._wait_until_up, f"{base}/admin/login/", "Daphne", servers)
    rss = {"web": {"idle": measure.rss_mb([daphne.pid])}}
    out: dict[str, Any] = {}

    say(f"REST intake: {scale.rest_requests} requests at concurrency {scale.rest_concurrency}, floor first")
    token = measure.api_token()
    texts = measure.customer_texts()
    floor = asyncio.run(
        load.http_load(
            f"{base}/bench/floor/",
            body=lambda n: {"body": texts[n % len(texts)]},
            headers={},
            concurrency=scale.rest_concurrency,
            requests=scale.rest_requests,
            warmup=10,
        )
    )
    product = asyncio.run(
        load.http_load(
            f"{base}/api/v1/tickets/",
            body=lambda n: {
                "channel": "api",
                "customer": {"email": f"bench-rest-{n % 50}@example.com", "name": "Bench Customer"},
                "body": texts[n % len(texts)],
            },
            headers={"Authorization": f"Token {token}"},
            concurrency=scale.rest_concurrency,
            requests=scale.rest_requests,
            warmup=10,
        )
    )
    out["rest_intake"] = {
        "endpoint": "POST /api/v1/tickets/",
        **product,
        "floor": {"what": "bare Django view inserting one row, same Daphne", **floor},
    }
    # The intake backlog is not the worker's job in this bench: it would delay the chat replies.
    dropped = measure.queue_purge()

    with open(workdir / "qcluster.log", "ab") as log:
        qcluster = run._start([*run.MANAGE, "qcluster"], env, output=log)
    servers.append(("qcluster", qcluster))
    measure.wait_for_workers(qcluster.pid)
    rss["worker"] = {"idle": measure.rss_mb(measure.process_tree(qcluster.pid))}
    say(f"worker: {scale.worker_tickets} tickets through qcluster ({dropped} intake tasks purged first)")
    out["pipeline"] = {"worker": measure.pipeline_worker(scale.worker_tickets)}

    chat: dict[str, Any] = {"protocol": "/ws/chat/ hello then message; ack = typing frame, round trip = first reply frame"}
    for sockets in scale.chat_sockets:
        say(f"chat: {sockets} socket(s), echo floor then /ws/chat/")
        echo = asyncio.run(load.ws_echo(f"ws://127.0.0.1:{port}/bench/echo/", origin=origin, sockets=sockets, messages=scale.echo_messages))
        turns = asyncio.run(
            load.ws_chat(
                f"ws://127.0.0.1:{port}/ws/chat/",
                origin=origin,
                sockets=sockets,
                messages=scale.chat_messages,
                texts=measure.CHAT_QUESTIONS,
                timeout=20,
            )
        )
        chat[f"sockets_{sockets}"] = {**turns, "floor": {"what": "bare Channels echo consumer, same Daphne", **echo}}
    out["chat"] = chat

    rss["web"]["peak"] = measure.rss_mb([daphne.pid], peak=True)
    tree = measure.process_tree(qcluster.pid)
    rss["worker"]["peak"] = measure.rss_mb(tree, peak=True)
    rss["worker"]["processes"] = len(tree)
    out["peak_rss_mb"] = rss
    # The in-process measurements that follow must not share the cores with idle servers.
    _quiet(_stop, run, [s for s in servers if s[0] in ("daphne", "qcluster")])
    servers[:] = [s for s in servers if s[0] not in ("daphne", "qcluster")]
    return out


def _show_logs(workdir: Path) -> None:
    """The servers' last words, before their folder goes."""
    for log in sorted(workdir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-15:]
        if lines:
            say(f"last lines of {log.name}:\n" + "\n".join(lines))


def _stop(run, servers: list) -> None:
    """bin/run.py's stop (qcluster through its main process), keeping our Ctrl-C handling."""
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        run._stop(servers)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def _quiet(function, *args):
    # bin/run.py talks on stdout; the bench keeps stdout for the report.
    with contextlib.redirect_stdout(sys.stderr):
        return function(*args)


def _supervisor():
    """bin/run.py (a script, not a package), loaded for its start/wait/stop helpers."""
    spec = importlib.util.spec_from_file_location("frontline_run", ROOT / "bin" / "run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(run, workdir: Path) -> dict[str, str]:
    """`make run`'s environment, pointed at the throwaway world and stripped of anything that
    could reach the user's own services (their database, Redis queue, LLM)."""
    env = run._environment(port="0")
    for name in ("DATABASE_URL", "REDIS_URL", "CHROMA_URL", "LLM_MODEL", "EMBEDDING_MODEL", "Q_SYNC", "SITE_URL"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="learning.bench.settings",
        FRONTLINE_VAR_DIR=str(workdir),
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        CHROMA_URL=f"http://127.0.0.1:{_free_port()}",
        CHROMA_COLLECTION="bench",
        DEBUG="false",  # production-like: no query log growing in memory, no static handler
        SECRET_KEY=secrets.token_urlsafe(40),
        LOG_LEVEL="WARNING",
        # The bench's load is one client: the per-token and per-chat limits would answer 429.
        API_THROTTLE_RATE="100000000/min",
        CHAT_RATE_LIMIT="100000/min",
        SWEEP_STALE_SECONDS="86400",
        PYTHONUNBUFFERED="1",
        # The servers' temp files (Chroma drops a session file there) go with the world.
        TMPDIR=str(workdir),
        ANONYMIZED_TELEMETRY="False",
    )
    return env


def _config(env: dict[str, str], scale: Scale) -> dict[str, Any]:
    from django.conf import settings

    from tickets.embeddings import embedder

    return {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_at_start": os.getloadavg()[0]},
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "channel_layer": "in-memory",
        "broker": "django-q2 ORM",
        "chat_poll_seconds": settings.CHAT_POLL_SECONDS,
        "q_workers": settings.Q_CLUSTER["workers"],
        "chroma": "local server over HTTP (chroma run)",
        "embedder": embedder().name,
        "debug": settings.DEBUG,
        "scale": asdict(scale),
    }
