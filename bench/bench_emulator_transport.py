"""The in-process emulator against the loopback one: time per call, and chunk-by-chunk streams.

Runs on demand (`python bench/bench_emulator_transport.py`, or `make bench`). Both emulators
answer the same scripted reply; the baseline is the loopback emulator measured in this run.
Prints medians and ratios (in-process / loopback) for invoke and stream, and, for a stream
whose chunks are spaced by the emulator, when the first chunk reached the caller compared
with when the last one did (chunk by chunk: the first arrives long before the last).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import in_process_emulator, run_emulator

CALLS = 200
WARMUP = 20
REPLY = "A scripted answer of about a dozen words, streamed word by word to the caller."


def _median_ms(call: Callable[[], object]) -> float:
    for _ in range(WARMUP):
        call()
    times = []
    for _ in range(CALLS):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def _measure(llm: ChatQwenVL) -> tuple[float, float]:
    invoke = _median_ms(lambda: llm.invoke("Hi"))
    stream = _median_ms(lambda: list(llm.stream("Hi")))
    return invoke, stream


def _arrival_ms(llm: ChatQwenVL) -> tuple[float, float]:
    start = time.perf_counter()
    arrivals = [time.perf_counter() - start for chunk in llm.stream("Hi") if chunk.content]
    return arrivals[0] * 1000, arrivals[-1] * 1000


def main() -> None:
    replies = lambda request: REPLY  # noqa: E731 - the same answer for every request
    with run_emulator(replies=replies) as loop_emu:
        loopback = ChatQwenVL(api_key="sk-bench", base_url=loop_emu.base_url)
        base_invoke, base_stream = _measure(loopback)
    with in_process_emulator(replies=replies) as emu:
        inproc = ChatQwenVL(
            api_key="sk-bench",
            base_url=emu.base_url,
            http_client=emu.http_client,
            http_async_client=emu.http_async_client,
        )
        invoke, stream = _measure(inproc)
    print(
        f"invoke: loopback {base_invoke:.2f} ms, in-process {invoke:.2f} ms "
        f"(ratio {invoke / base_invoke:.2f})"
    )
    print(
        f"stream: loopback {base_stream:.2f} ms, in-process {stream:.2f} ms "
        f"(ratio {stream / base_stream:.2f})"
    )

    # A long reply: the emulator yields to its event loop between chunks, so a transport that
    # hands chunks over as they are sent delivers the first long before the last.
    long_reply = " ".join(["word"] * 2000)
    with in_process_emulator(replies=lambda request: long_reply) as emu:
        inproc = ChatQwenVL(
            api_key="sk-bench",
            base_url=emu.base_url,
            http_client=emu.http_client,
            http_async_client=emu.http_async_client,
        )
        first, last = _arrival_ms(inproc)
    print(
        f"in-process stream of 2,000 chunks: first chunk at {first:.1f} ms, last at "
        f"{last:.1f} ms (first/last {first / last:.3f}; 1.0 would mean buffered)"
    )


if __name__ == "__main__":
    main()
