"""Per-call overhead, import time and construction time of ChatQwenVL.

Runs on demand (`python bench/bench_overhead.py`, or `make bench`, which also writes
bench/RESULTS.md). Everything is measured in this one run, against a loopback server replaying
a recorded body (bench/static_server.py), as medians of per-call times taken call by call in
turn (one call of each contender, then the next round), so machine noise and cache state hit
all alike. Slices of 40 calls per contender, measured before, let drift between slices move
the ratio to the floor by ±0.04 from run to run; one call each in turn keeps it within ±0.01.

- invoke / stream / ainvoke / astream of ChatQwenVL vs raw httpx, vs the "floor" model
  (bench/floor_model.py; goal ChatQwenVL <= 1.08x the floor), vs ChatOpenAI (langchain-openai)
  and ChatQwen (langchain-qwq) pointed at the same server, when installed;
- `import langchain_qwen_vl` vs `import langchain_core.language_models`;
- constructing a ChatQwenVL (goal < 1 ms).
"""

from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import HumanMessage

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from floor_model import FloorChatModel  # noqa: E402

from langchain_qwen_vl import ChatQwenVL  # noqa: E402

ROUNDS = 400  # calls per contender and mode, one of each contender in turn
WARMUP = 20
MODES = ("invoke", "stream", "ainvoke", "astream")
FLOOR_GOAL = 1.08


def free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def static_server(latency_ms: int = 0) -> Iterator[str]:
    """Start bench/static_server.py; yield its root URL (``http://127.0.0.1:PORT``)."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(HERE / "static_server.py"), str(port), str(latency_ms)]
    )
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{root}/stats")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield root
    finally:
        process.terminate()
        process.wait(10)


MESSAGES = [
    HumanMessage(
        content=[
            {"type": "text", "text": "What is in these pictures?"},
            {"type": "image", "url": "https://example.com/a.png"},
        ]
    )
]

# One event loop for every async measurement: async clients keep connections bound to a loop.
_LOOP = asyncio.new_event_loop()

Sync = Callable[[], Any]
Async = Callable[[], Awaitable[Any]]


def contenders(base_url: str) -> dict[str, dict[str, Sync | Async]]:
    """name -> mode -> one call."""
    ours = ChatQwenVL(api_key="sk-bench", base_url=base_url, max_retries=0)
    url = base_url + "/chat/completions"
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    body = json.dumps(ours._build_payload(MESSAGES)).encode()
    stream_body = json.dumps(ours._build_payload(MESSAGES, stream=True)).encode()
    raw, araw = httpx.Client(), httpx.AsyncClient()
    floor = FloorChatModel(
        url=url,
        headers=headers,
        body=body,
        stream_body=stream_body,
        client=httpx.Client(),
        aclient=httpx.AsyncClient(),
    )

    def raw_stream() -> None:
        with raw.stream("POST", url, content=stream_body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    async def raw_astream() -> None:
        async with araw.stream("POST", url, content=stream_body, headers=headers) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    async def raw_ainvoke() -> None:
        (await araw.post(url, content=body, headers=headers)).json()

    table: dict[str, dict[str, Sync | Async]] = {
        "raw httpx": {
            "invoke": lambda: raw.post(url, content=body, headers=headers).json(),
            "stream": raw_stream,
            "ainvoke": raw_ainvoke,
            "astream": raw_astream,
        }
    }
    models: dict[str, Any] = {"floor": floor, "ChatQwenVL": ours}
    try:
        from langchain_openai import ChatOpenAI

        models["ChatOpenAI"] = ChatOpenAI(
            model="qwen3-vl-flash", api_key="sk-bench", base_url=base_url, max_retries=0
        )
    except ImportError:
        print("langchain-openai not installed: ChatOpenAI skipped (pip install -e '.[bench]')")
    try:
        from langchain_qwq import ChatQwen

        models["ChatQwen"] = ChatQwen(
            model="qwen3-vl-flash", api_key="sk-bench", base_url=base_url, max_retries=0
        )
    except ImportError:
        print("langchain-qwq not installed: ChatQwen skipped (pip install -e '.[bench]')")
    for name, model in models.items():
        table[name] = _model_calls(model)
    return table


def _model_calls(model: Any) -> dict[str, Sync | Async]:
    def stream() -> None:
        for _ in model.stream(MESSAGES):
            pass

    async def astream() -> None:
        async for _ in model.astream(MESSAGES):
            pass

    return {
        "invoke": lambda: model.invoke(MESSAGES),
        "stream": stream,
        "ainvoke": lambda: model.ainvoke(MESSAGES),
        "astream": astream,
    }


def _timed_sync(call: Sync, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return samples


def _in_turn_sync(calls: dict[str, Sync], rounds: int) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
    return samples


def _in_turn_async(calls: dict[str, Async], rounds: int) -> dict[str, list[float]]:
    async def body() -> dict[str, list[float]]:
        samples: dict[str, list[float]] = {name: [] for name in calls}
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                await call()
                samples[name].append(time.perf_counter() - start)
        return samples

    return _LOOP.run_until_complete(body())


def measure(table: dict[str, dict[str, Sync | Async]]) -> dict[tuple[str, str], float]:
    """Median seconds per call, keyed by (contender, mode)."""
    medians: dict[tuple[str, str], float] = {}
    for mode in MODES:
        calls: Any = {name: modes[mode] for name, modes in table.items()}
        in_turn = _in_turn_async if mode.startswith("a") else _in_turn_sync
        in_turn(calls, WARMUP)
        for name, values in in_turn(calls, ROUNDS).items():
            medians[(name, mode)] = statistics.median(values)
    return medians


def calls_markdown(medians: dict[tuple[str, str], float]) -> tuple[str, dict[str, float]]:
    names = sorted(
        {name for name, _ in medians}, key=list(dict.fromkeys(n for n, _ in medians)).index
    )
    lines = [
        f"Median per call on loopback (static recorded body) of {ROUNDS} calls per contender, "
        "one call of each contender in turn.",
        "",
        "| contender | " + " | ".join(MODES) + " |",
        "|---|" + "---|" * len(MODES),
    ]
    for name in names:
        cells = []
        for mode in MODES:
            seconds = medians[(name, mode)]
            raw = medians[("raw httpx", mode)]
            floor = medians[("floor", mode)]
            cells.append(
                f"{seconds * 1000:.3f} ms ({seconds / raw:.2f}× raw, {seconds / floor:.2f}× floor)"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    ratios = {mode: medians[("ChatQwenVL", mode)] / medians[("floor", mode)] for mode in MODES}
    verdict = ", ".join(
        f"{mode} {ratio:.2f}× ({'met' if ratio <= FLOOR_GOAL else 'missed'})"
        for mode, ratio in ratios.items()
    )
    lines += ["", f"ChatQwenVL vs floor (goal ≤ {FLOOR_GOAL}×): {verdict}."]
    return "\n".join(lines) + "\n", ratios


def _import_seconds(statement: str, runs: int = 11) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    samples = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return statistics.median(samples)


def import_markdown() -> str:
    pairs = [
        ("import langchain_core.language_models", "import langchain_qwen_vl"),
        (
            "from langchain_core.language_models import BaseChatModel",
            "from langchain_qwen_vl import ChatQwenVL",
        ),
    ]
    lines = ["| baseline | ms | ours | ms | ratio |", "|---|---|---|---|---|"]
    for baseline, ours in pairs:
        base_s, ours_s = _import_seconds(baseline), _import_seconds(ours)
        lines.append(
            f"| `{baseline}` | {base_s * 1000:.1f} | `{ours}` | {ours_s * 1000:.1f} | "
            f"{ours_s / base_s:.2f}× |"
        )
    ChatQwenVL(api_key="sk-bench")
    samples = _timed_sync(lambda: ChatQwenVL(api_key="sk-bench", temperature=0.2), 2000)
    construct_us = statistics.median(samples) * 1e6
    lines += [
        "",
        f"Constructing a ChatQwenVL: {construct_us:.1f} µs median of 2000 (goal < 1000 µs: "
        f"{'met' if construct_us < 1000 else 'missed'}).",
    ]
    return "\n".join(lines) + "\n"


def run() -> str:
    """The Markdown section for bench/RESULTS.md."""
    with static_server() as root:
        medians = measure(contenders(root + "/compatible-mode/v1"))
    calls, _ = calls_markdown(medians)
    return (
        "## Per-call overhead\n\n" + calls + "\n## Import and construction\n\n" + import_markdown()
    )


if __name__ == "__main__":
    print(run())
