"""Driving the async scan pipeline from sync code, and the progress bar.

:func:`iterate_in_background_loop` runs an async iterator on an event loop in a private thread
and hands each item over through a queue with a hand-back credit, so a slow consumer pauses
the producer instead of letting results pile up. It works from plain scripts, from threads
without an event loop, and from code already inside a running loop (Jupyter), because the
caller's loop is never touched. Closing the generator (``break``, an exception, Ctrl-C)
cancels the async side and waits for its clean-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import queue
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["Progress", "iterate_in_background_loop", "stderr_is_interactive"]

T = TypeVar("T")


class Progress:
    """A tqdm bar (pages done / total, tokens so far), or nothing."""

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            tqdm = importlib.import_module("tqdm").tqdm  # optional extra "progress", untyped
            self._bar = tqdm(total=0, unit="page", desc="scans", dynamic_ncols=True)

    def add_total(self, pages: int) -> None:
        if self._bar is not None:
            self._bar.total += pages
            self._bar.refresh()

    def advance(self, tokens: int) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"{tokens:,} tokens", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def iterate_in_background_loop(
    make_iterator: Callable[[], AsyncIterator[T]],
    *,
    on_exit: Callable[[], Any] | None = None,
) -> Iterator[T]:
    """Drive an async iterator from sync code: its own event loop runs in a private thread.

    Items are handed over one at a time (the producer waits for the consumer to take each),
    exceptions are re-raised in the caller, and closing the generator (``break``, an
    exception, Ctrl-C) cancels the async side and waits for its clean-up. ``on_exit`` is
    awaited (if it returns an awaitable) on the loop before it closes, e.g. to close clients.
    """
    handoff: queue.Queue[tuple[str, Any]] = queue.Queue()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        credit = asyncio.Semaphore(0)
        state["credit"] = credit
        ready.set()
        try:
            iterator = make_iterator()
            try:
                async for item in iterator:
                    handoff.put(("item", item))
                    await credit.acquire()
            finally:
                aclose = getattr(iterator, "aclose", None)
                if aclose is not None:
                    await aclose()
        except asyncio.CancelledError:
            handoff.put(("cancelled", None))
        except BaseException as exc:
            handoff.put(("error", exc))
        else:
            handoff.put(("done", None))
        finally:
            if on_exit is not None:
                with contextlib.suppress(Exception):
                    result = on_exit()
                    if asyncio.iscoroutine(result):
                        await result

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            state["task"] = loop.create_task(main())
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(state["task"])
        finally:
            ready.set()
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    thread = threading.Thread(target=run, name="qwen-vl-scan-loop", daemon=True)
    thread.start()
    ready.wait()
    finished = False
    try:
        while True:
            kind, value = handoff.get()
            if kind == "item":
                loop.call_soon_threadsafe(state["credit"].release)
                yield value
            elif kind == "error":
                finished = True
                raise value
            else:
                finished = True
                return
    finally:
        if not finished and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed in between
                loop.call_soon_threadsafe(state["task"].cancel)
        thread.join()


def stderr_is_interactive() -> bool:
    """Progress bars only on a terminal: not in CI logs, pipes or files."""
    try:
        return sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False
