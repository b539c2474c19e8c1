"""Per-call overhead, import time and construction time of ChatQwenVL (issue: speed targets).

Runs on demand (`python bench/bench_overhead.py`, or `make bench`); prints medians and ratios
measured in this one run against baselines measured in the same run:

- invoke / stream on loopback against a static recorded response, vs a raw httpx POST of the
  same body (targets: invoke <= 1.3x, stream <= 1.5x); ChatOpenAI on the same server too;
- `import langchain_qwen_vl` vs `import langchain_core.language_models` (target <= 1.3x);
- constructing a ChatQwenVL (target < 1 ms).
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
from langchain_core.messages import HumanMessage

from langchain_qwen_vl import ChatQwenVL

HERE = Path(__file__).resolve().parent
CALLS = 300
WARMUP = 30


def _free_port() -> int:
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def static_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, str(HERE / "static_server.py"), str(port)])
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{port}/")
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/compatible-mode/v1"
    finally:
        process.terminate()
        process.wait(10)


def median_seconds(fn: Callable[[], Any], calls: int = CALLS) -> float:
    for _ in range(WARMUP):
        fn()
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_calls(base_url: str) -> None:
    messages = [
        HumanMessage(
            content=[
                {"type": "text", "text": "What is in these pictures?"},
                {"type": "image", "url": "https://example.com/a.png"},
            ]
        )
    ]
    llm = ChatQwenVL(api_key="sk-bench", base_url=base_url, max_retries=0)
    url = base_url + "/chat/completions"
    headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
    body = json.dumps(llm._build_payload(messages)).encode()
    stream_body = json.dumps(llm._build_payload(messages, stream=True)).encode()
    raw = httpx.Client()

    def raw_invoke() -> None:
        raw.post(url, content=body, headers=headers).json()

    def raw_stream() -> None:
        with raw.stream("POST", url, content=stream_body, headers=headers) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    json.loads(line[6:])

    def ours_invoke() -> None:
        llm.invoke(messages)

    def ours_stream() -> None:
        for _ in llm.stream(messages):
            pass

    # The floor: what langchain-core's invoke/stream machinery (callbacks, tracing, message
    # merging) costs by itself, measured on a fake model that does no I/O, same messages.
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    recorded = llm.invoke(messages)
    words = [w + " " for w in str(recorded.content).split(" ")][:8]

    def fake_invoke() -> None:
        GenericFakeChatModel(messages=iter([recorded])).invoke(messages)

    def fake_stream() -> None:
        for _ in GenericFakeChatModel(messages=iter(["".join(words)])).stream(messages):
            pass

    results = {
        "core floor invoke": median_seconds(fake_invoke),
        "core floor stream": median_seconds(fake_stream),
        "raw httpx invoke": median_seconds(raw_invoke),
        "ChatQwenVL invoke": median_seconds(ours_invoke),
        "raw httpx stream": median_seconds(raw_stream),
        "ChatQwenVL stream": median_seconds(ours_stream),
    }
    try:
        from langchain_openai import ChatOpenAI

        openai = ChatOpenAI(
            model="qwen3-vl-flash",
            api_key="sk-bench",
            base_url=base_url,  # type: ignore[arg-type]
            max_retries=0,
        )

        def openai_invoke() -> None:
            openai.invoke(messages)

        def openai_stream() -> None:
            for _ in openai.stream(messages):
                pass

        results["ChatOpenAI invoke"] = median_seconds(openai_invoke)
        results["ChatOpenAI stream"] = median_seconds(openai_stream)
    except ImportError:
        print("langchain-openai not installed: ChatOpenAI rows skipped (pip install -e '.[bench]')")

    print(f"\n== per-call overhead on loopback, median of {CALLS} calls")
    for name, seconds in results.items():
        print(f"{name:<22} {seconds * 1000:8.3f} ms")

    def ratio(name: str, kind: str) -> float:
        return results[f"{name} {kind}"] / results[f"raw httpx {kind}"]

    print(f"invoke ratio ChatQwenVL / raw httpx: {ratio('ChatQwenVL', 'invoke'):.2f}x (<= 1.3x)")
    print(f"stream ratio ChatQwenVL / raw httpx: {ratio('ChatQwenVL', 'stream'):.2f}x (<= 1.5x)")
    for kind in ("invoke", "stream"):
        own = (
            results[f"ChatQwenVL {kind}"]
            - results[f"raw httpx {kind}"]
            - results[f"core floor {kind}"]
        )
        best = (results[f"raw httpx {kind}"] + results[f"core floor {kind}"]) / results[
            f"raw httpx {kind}"
        ]
        print(
            f"{kind}: langchain-core floor alone would give {best:.2f}x; this package adds "
            f"{own * 1000:.3f} ms on top of raw httpx + floor"
        )
    if "ChatOpenAI invoke" in results:
        print(
            f"ChatOpenAI / raw httpx: invoke {ratio('ChatOpenAI', 'invoke'):.2f}x, "
            f"stream {ratio('ChatOpenAI', 'stream'):.2f}x"
        )


def _import_seconds(statement: str, runs: int = 15) -> float:
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


def bench_import() -> None:
    pairs = [
        ("import langchain_core.language_models", "import langchain_qwen_vl", "<= 1.3x"),
        (
            "from langchain_core.language_models import BaseChatModel",
            "from langchain_qwen_vl import ChatQwenVL",
            "no target; the cost of the chat model itself",
        ),
    ]
    print("\n== import time, median of 15 fresh interpreters")
    for baseline, ours, target in pairs:
        base_s, ours_s = _import_seconds(baseline), _import_seconds(ours)
        print(f"{baseline:<58} {base_s * 1000:8.1f} ms")
        print(f"{ours:<58} {ours_s * 1000:8.1f} ms")
        print(f"ratio: {ours_s / base_s:.2f}x ({target})")


def bench_construct() -> None:
    ChatQwenVL(api_key="sk-bench")
    seconds = median_seconds(lambda: ChatQwenVL(api_key="sk-bench", temperature=0.2), 2000)
    print("\n== constructing ChatQwenVL, median of 2000")
    print(f"{seconds * 1e6:.1f} us (target < 1000 us)")


def main() -> None:
    bench_construct()
    bench_import()
    with static_server() as base_url:
        bench_calls(base_url)


if __name__ == "__main__":
    main()
