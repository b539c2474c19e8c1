"""Concurrency: abatch of 500 at 50 ms service latency, and 256 concurrent astream.

Runs on demand (`python bench/bench_pool.py`, or `make bench`). Against bench/static_server.py
with 50 ms of latency per request, measured in this one run, interleaved:

- ``abatch`` of 500 with ``max_concurrency=64``: wall time of ChatQwenVL vs raw httpx doing the
  same 500 POSTs 64 at a time with a default ``AsyncClient`` (goal <= 1.10x) and vs the floor
  model's ``abatch`` (langchain-core's own per-call cost), and the new connections each opened,
  counted by the server (goal <= 64); one raw httpx run through a single 64-connection pool
  shows what httpcore's pool scan costs;
- 256 concurrent ``astream``: wall, median time to first token, peak RSS growth, connections.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_overhead import static_server  # noqa: E402
from floor_model import FloorChatModel  # noqa: E402

from langchain_qwen_vl import ChatQwenVL  # noqa: E402

LATENCY_MS = 50
BATCH, CONCURRENCY = 500, 64
STREAMS = 256
ROUNDS = 3
BATCH_GOAL = 1.10
BODY = b'{"model":"qwen3-vl-flash","messages":[{"role":"user","content":"hi"}]}'
STREAM_BODY = BODY[:-1] + b',"stream":true}'
_SYNC = httpx.Client()
FLOOR = "floor model (default pool)"


def _connections(root: str) -> int:
    return int(httpx.get(f"{root}/stats").json()["connections"])


async def _raw_batch(url: str, limits: httpx.Limits | None = None) -> None:
    # No limits given: httpx's defaults (100 connections, 20 kept alive), as a user would get.
    client = httpx.AsyncClient() if limits is None else httpx.AsyncClient(limits=limits)
    async with client:
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate:
                (await client.post(url, content=BODY)).json()

        await asyncio.gather(*[one() for _ in range(BATCH)])


async def _floor_batch(url: str) -> None:
    async with httpx.AsyncClient() as aclient:
        floor = FloorChatModel(
            url=url, headers={}, body=BODY, stream_body=STREAM_BODY, client=_SYNC, aclient=aclient
        )
        await floor.abatch(["hi"] * BATCH, config={"max_concurrency": CONCURRENCY})


async def _ours_batch(base_url: str) -> None:
    llm = ChatQwenVL(api_key="sk-bench", base_url=base_url, max_retries=0)
    await llm.abatch(["hi"] * BATCH, config={"max_concurrency": CONCURRENCY})
    await llm.aclose()


def _timed(make: Callable[[], Awaitable[Any]]) -> float:
    start = time.perf_counter()
    asyncio.run(make())  # type: ignore[arg-type]
    return time.perf_counter() - start


def batch_markdown(root: str) -> str:
    base_url = root + "/compatible-mode/v1"
    url = base_url + "/chat/completions"
    _connections(root)
    walls: dict[str, list[float]] = {
        "raw httpx (default pool)": [],
        FLOOR: [],
        "ChatQwenVL.abatch": [],
    }
    conns: dict[str, list[int]] = {name: [] for name in walls}
    for _ in range(ROUNDS):
        walls["raw httpx (default pool)"].append(_timed(lambda: _raw_batch(url)))
        conns["raw httpx (default pool)"].append(_connections(root))
        walls[FLOOR].append(_timed(lambda: _floor_batch(url)))
        conns[FLOOR].append(_connections(root))
        walls["ChatQwenVL.abatch"].append(_timed(lambda: _ours_batch(base_url)))
        conns["ChatQwenVL.abatch"].append(_connections(root))
    one_pool = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    single = _timed(lambda: _raw_batch(url, one_pool))
    single_conns = _connections(root)
    raw = statistics.median(walls["raw httpx (default pool)"])
    ours = statistics.median(walls["ChatQwenVL.abatch"])
    lines = [
        f"{BATCH} requests, {LATENCY_MS} ms service latency each, {CONCURRENCY} at a time; "
        f"median of {ROUNDS} interleaved runs (ideal: {BATCH / CONCURRENCY * LATENCY_MS / 1000:.2f}"
        " s).",
        "",
        "| client | wall (median) | runs | new connections |",
        "|---|---|---|---|",
    ]
    for name in walls:
        runs = ", ".join(f"{w:.2f}" for w in walls[name])
        lines.append(
            f"| {name} | {statistics.median(walls[name]):.2f} s | {runs} | "
            f"{', '.join(map(str, conns[name]))} |"
        )
    lines.append(f"| raw httpx, one 64-connection pool | {single:.2f} s | 1 run | {single_conns} |")
    ratio = ours / raw
    worst = max(conns["ChatQwenVL.abatch"])
    lines += [
        "",
        f"ChatQwenVL / floor model: {ours / statistics.median(walls[FLOOR]):.2f}×. "
        f"ChatQwenVL / raw httpx: {ratio:.2f}× (goal ≤ {BATCH_GOAL}×: "
        f"{'met' if ratio <= BATCH_GOAL else 'missed'}); connections opened ≤ {worst} "
        f"(goal ≤ {CONCURRENCY}: {'met' if worst <= CONCURRENCY else 'missed'}).",
    ]
    return "\n".join(lines) + "\n"


async def _streams(open_one: Callable[[], Any]) -> dict[str, float]:
    process = psutil.Process()
    gc.collect()
    base_rss = process.memory_info().rss
    peak = base_rss
    firsts: list[float] = []
    done = False

    async def sample() -> None:
        nonlocal peak
        while not done:
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    start = time.perf_counter()

    async def one() -> None:
        first = True
        async for _ in open_one():
            if first:
                firsts.append(time.perf_counter() - start)
                first = False

    await asyncio.gather(*[one() for _ in range(STREAMS)])
    wall = time.perf_counter() - start
    done = True
    await sampler
    return {
        "wall": wall,
        "ttft": statistics.median(firsts),
        "rss_mb": (peak - base_rss) / 2**20,
    }


def streams_markdown(root: str) -> str:
    base_url = root + "/compatible-mode/v1"
    url = base_url + "/chat/completions"

    async def raw() -> dict[str, float]:
        async with httpx.AsyncClient() as client:

            async def lines() -> Any:
                async with client.stream("POST", url, content=STREAM_BODY) as response:
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            yield line

            return await _streams(lines)

    async def ours() -> dict[str, float]:
        llm = ChatQwenVL(api_key="sk-bench", base_url=base_url, max_retries=0)
        try:
            return await _streams(lambda: llm.astream("hi"))
        finally:
            await llm.aclose()

    _connections(root)
    rows = []
    for name, run in (("raw httpx (default pool)", raw), ("ChatQwenVL.astream", ours)):
        result = asyncio.run(run())
        rows.append(
            f"| {name} | {result['wall']:.2f} s | {result['ttft'] * 1000:.0f} ms | "
            f"{result['rss_mb']:.1f} MB | {_connections(root)} |"
        )
    return (
        f"{STREAMS} streams started at once, {LATENCY_MS} ms service latency each.\n\n"
        "| client | wall | median time to first token | peak RSS growth | connections |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def run() -> str:
    """The Markdown section for bench/RESULTS.md."""
    with static_server(LATENCY_MS) as root:
        batch = batch_markdown(root)
        streams = streams_markdown(root)
    return "## abatch under concurrency\n\n" + batch + "\n## 256 concurrent astream\n\n" + streams


if __name__ == "__main__":
    print(run())
