"""Load generators for the bench: HTTP requests and websocket round trips at fixed concurrency,
run from an asyncio loop in the bench process (loopback only)."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np


def percentiles(values_ms: list[float]) -> dict[str, float | None]:
    if not values_ms:
        return {"p50": None, "p95": None}
    p50, p95 = np.percentile(np.asarray(values_ms, dtype=float), [50, 95])
    return {"p50": round(float(p50), 3), "p95": round(float(p95), 3)}


async def http_load(
    url: str, *, body: Callable[[int], dict], headers: dict[str, str], concurrency: int, requests: int, warmup: int
) -> dict[str, Any]:
    """POST `requests` JSON bodies with `concurrency` keep-alive connections; throughput and latency."""
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        for n in range(warmup):
            await client.post(url, json=body(-1 - n))
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(requests):
            queue.put_nowait(n)
        latencies: list[float] = []
        statuses: Counter[int] = Counter()

        async def worker() -> None:
            while not queue.empty():
                n = queue.get_nowait()
                t0 = time.perf_counter()
                response = await client.post(url, json=body(n))
                latencies.append((time.perf_counter() - t0) * 1000)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "requests": requests,
        "concurrency": concurrency,
        "throughput_rps": round(requests / elapsed, 1),
        "latency_ms": percentiles(latencies),
        "status": {str(code): count for code, count in sorted(statuses.items())},
    }


async def ws_echo(url: str, *, origin: str, sockets: int, messages: int) -> dict[str, Any]:
    """Round trips through the echo floor: each socket sends a frame and waits for it back."""
    from websockets.asyncio.client import connect

    async def one(n: int) -> list[float]:
        samples = []
        async with connect(url, origin=origin) as ws:
            for i in range(messages + 1):
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": f"echo {n}-{i}"}))
                json.loads(await ws.recv())
                if i:  # the first frame warms the connection up
                    samples.append((time.perf_counter() - t0) * 1000)
        return samples

    started = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in range(sockets)))
    elapsed = time.perf_counter() - started
    samples = [s for r in results for s in r]
    return {
        "sockets": sockets,
        "round_trips": len(samples),
        "round_trip_ms": percentiles(samples),
        "messages_per_s": round(len(samples) / elapsed, 1),
    }


async def ws_chat(
    url: str, *, origin: str, sockets: int, messages: int, texts: list[str], timeout: float
) -> dict[str, Any]:
    """Customer round trips on /ws/chat/ (DESIGN 5): hello, then messages one at a time.

    `ack` is message → the server's typing frame (intake stored it); `reply` is message → the
    first answer frame (ai, agent or system message, or a confirm), produced by the worker.
    """
    from websockets.asyncio.client import connect

    async def next_frame(ws, deadline: float) -> dict | None:
        try:
            raw = await asyncio.wait_for(ws.recv(), max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            return None
        return json.loads(raw)

    async def one(n: int) -> tuple[list[float], list[float], int]:
        acks, replies, missed = [], [], 0
        async with connect(url, origin=origin) as ws:
            await ws.send(json.dumps({"type": "hello", "email": f"bench-chat-{n}@example.com", "name": f"Bench {n}"}))
            while (frame := await next_frame(ws, time.monotonic() + timeout)) and frame.get("type") != "session":
                pass
            for i in range(messages):
                text = texts[(n * messages + i) % len(texts)]
                t0 = time.perf_counter()
                await ws.send(json.dumps({"type": "message", "text": text}))
                deadline = time.monotonic() + timeout
                answered = False
                while (frame := await next_frame(ws, deadline)) is not None:
                    elapsed = (time.perf_counter() - t0) * 1000
                    if frame.get("type") == "typing":
                        acks.append(elapsed)
                    elif frame.get("type") == "confirm" or (
                        frame.get("type") == "message" and frame.get("author") in ("ai", "agent", "system")
                    ):
                        replies.append(elapsed)
                        answered = True
                        break
                missed += not answered
                # Let the rest of this turn's frames (a handoff after a draft, say) arrive.
                while await next_frame(ws, time.monotonic() + 0.05) is not None:
                    pass
        return acks, replies, missed

    started = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in range(sockets)))
    elapsed = time.perf_counter() - started
    acks = [s for r in results for s in r[0]]
    replies = [s for r in results for s in r[1]]
    return {
        "sockets": sockets,
        "messages": sockets * messages,
        "ack_ms": percentiles(acks),
        "round_trip_ms": percentiles(replies),
        "unanswered": sum(r[2] for r in results),
        "replies_per_s": round(len(replies) / elapsed, 2),
    }
