"""What a test does with an emulator, whichever way it runs (loopback server or in-process).

Recorded requests, scripted replies and queued faults all live in the emulator's state;
:class:`EmulatorControls` is the one place that reads and changes them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from langchain_qwen_vl.emulator._faults import split_faults
from langchain_qwen_vl.emulator._script import Replies, Script
from langchain_qwen_vl.emulator._server import EmulatorState


class _ScopedFault(str):
    """A queued fault that remembers the ``with emu.faults(...)`` block that queued it."""

    scope: object | None

    def __new__(cls, text: str, scope: object | None) -> _ScopedFault:
        fault = super().__new__(cls, text)
        fault.scope = scope
        return fault


class EmulatorControls:
    """Recorded traffic, scripted replies and fault queues of one emulator."""

    _state: EmulatorState

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every JSON request body received, in order (the live list)."""
        return self._state.requests

    @property
    def request_count(self) -> int:
        """How many chat requests arrived, whatever their body."""
        return self._state.request_count

    # --- scripted replies ------------------------------------------------------------------

    def set_replies(self, replies: Replies | None) -> None:
        """Replace the scripted replies (``None``: back to the emulator's own answers).

        A list is checked now and consumed from its first item.
        """
        script = None if replies is None else Script(replies)
        with self._state.lock:
            self._state.script = script

    @property
    def replies_left(self) -> int | None:
        """Scripted replies not used yet; ``None`` when the script is a function or unset."""
        script = self._state.script
        return None if script is None else script.remaining

    # --- faults ----------------------------------------------------------------------------

    def _queue_faults(self, faults: tuple[str, ...], scope: object | None) -> None:
        for fault in faults:
            split_faults(fault)  # raise now, in the test, for an unknown word
        with self._state.lock:
            self._state.faults.extend(_ScopedFault(fault, scope) for fault in faults)

    def inject_faults(self, *faults: str) -> None:
        """Queue faults: each following chat request consumes one (same words as the header).

        They stay queued until used or cleared: prefer ``with emu.faults(...):``, which drops
        the unused ones when the block ends.

        Example: ``emu.inject_faults("429", "500")`` → the next request gets a 429, the one
        after a 500, then normal answers. ``"slow:300,429"`` applies both to one request.
        """
        self._queue_faults(faults, None)

    @contextlib.contextmanager
    def faults(self, *faults: str) -> Iterator[None]:
        """Queue faults for the requests made inside the block; unused ones are dropped at exit.

        Example:
            >>> with emu.faults("429"):  # doctest: +SKIP
            ...     llm.invoke("Hi")  # the first try gets a 429, the retry succeeds
        """
        scope = object()
        self._queue_faults(faults, scope)
        try:
            yield
        finally:
            self._drop_faults(scope)

    def _drop_faults(self, scope: object) -> None:
        state = self._state
        with state.lock:
            kept = [f for f in state.faults if getattr(f, "scope", None) is not scope]
            state.faults.clear()
            state.faults.extend(kept)

    @property
    def pending_faults(self) -> tuple[str, ...]:
        """Faults queued and not used yet."""
        with self._state.lock:
            return tuple(self._state.faults)

    def clear_faults(self) -> None:
        """Drop every queued fault (call it after each test that shares this emulator)."""
        with self._state.lock:
            self._state.faults.clear()

    def clear(self) -> None:
        """Forget recorded requests and queued faults (for an emulator shared between tests).

        Scripted replies are kept; ``set_replies`` changes them.
        """
        self.clear_faults()
        with self._state.lock:
            self._state.requests.clear()
            self._state.request_count = 0
