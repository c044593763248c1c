"""`make bench` at a tiny scale: every number of the report is there, and nothing is left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Paths into the report that must hold a number (DESIGN section 5, "Benchmark report").
NUMBERS = [
    "rest_intake.throughput_rps",
    "rest_intake.latency_ms.p50",
    "rest_intake.latency_ms.p95",
    "rest_intake.floor.throughput_rps",
    "rest_intake.floor.latency_ms.p95",
    "pipeline.in_process.tickets_per_s",
    "pipeline.worker.tickets_per_s",
    "chat.sockets_1.round_trip_ms.p50",
    "chat.sockets_1.round_trip_ms.p95",
    "chat.sockets_1.floor.round_trip_ms.p95",
    "chat.sockets_3.round_trip_ms.p95",
    "chat.sockets_3.ack_ms.p95",
    "chat.sockets_3.floor.round_trip_ms.p95",
    "embeddings.batch_texts_per_s",
    "embeddings.single_ms.p50",
    "embeddings.single_ms.p95",
    "classification.us_per_ticket.mean",
    "peak_rss_mb.web.peak.max_process",
    "peak_rss_mb.worker.peak.max_process",
    "peak_rss_mb.worker.peak.total",
]
RETRIEVAL_NUMBERS = [
    "entries",
    "passages",
    "retrieval_ms.p50",
    "retrieval_ms.p95",
    "chroma_raw_ms.p95",
    "chroma_raw_filtered_ms.p95",
    "scope_share",
    "breakdown_ms.index_query.p95",
    "breakdown_ms.index_query_chroma_filter.p95",
    "breakdown_ms.keyword_search.p95",
    "breakdown_ms.keyword_freshness_check.p95",
]


def _get(report: dict, path: str):
    value = report
    for key in path.split("."):
        assert isinstance(value, dict) and key in value, f"{path}: no {key!r} in the report"
        value = value[key]
    return value


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def test_quick_bench_reports_every_number_and_cleans_up(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        # Sizes given out of order, as a user might: measured smallest first.
        [sys.executable, "-m", "learning.bench", "--quick", "--retrieval-sizes", "1200,800"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)  # stdout holds the report and nothing else

    for path in NUMBERS:
        assert _is_number(_get(report, path)), f"{path} is {_get(report, path)!r}"
    assert report["rest_intake"]["status"] == {"201": report["rest_intake"]["requests"]}
    assert report["chat"]["sockets_3"]["unanswered"] == 0
    sizes = report["retrieval"]["sizes"]
    assert list(sizes) == ["800", "1200"]
    for row in sizes.values():
        for path in RETRIEVAL_NUMBERS:
            assert _is_number(_get(row, path)), f"retrieval {path} is {_get(row, path)!r}"
    assert sizes["1200"]["entries"] >= 1200
    assert report["retrieval"]["corpus"]["derived"]

    # The throwaway world (database, Chroma data, logs) is gone, and so are its servers.
    assert list(tmp_path.iterdir()) == []
    leftovers = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout
    assert leftovers == ""
