"""A tokens-per-minute budget for long scan runs.

For scans the binding limit of the service is tokens per minute (1,000,000 published for
qwen3-vl-flash, enforced per second too), not requests: a page costs ~2,500 image tokens plus
its output. Sending 16 pages at once on a cold start and then more as fast as answers come back
produces bursts of 429s, and every retry re-sends (and the service re-counts) the image.

:class:`TokenBudget` is a token bucket that refills at ``tokens_per_minute / 60`` per second and
holds at most ``burst_seconds`` of refill. Before a page is sent its worst case is reserved
(estimated input tokens + ``max_tokens``); when the answer arrives the reservation is settled
against the ``usage`` the service billed, and the difference goes back into the bucket. A
reservation larger than the bucket waits for a full bucket and then runs the bucket into debt,
which later reservations pay off — so a single huge page never deadlocks the run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

__all__ = ["Reservation", "TokenBudget"]


@dataclass(slots=True)
class Reservation:
    """Tokens taken from a :class:`TokenBudget` for one request, until it is settled."""

    tokens: int
    settled: bool = False


class TokenBudget:
    """Token bucket over LLM tokens, for one event loop (not thread-safe, by design).

    Example:
        >>> budget = TokenBudget(600_000)  # 10,000 tokens per second
        >>> async def one_page() -> None:
        ...     reservation = await budget.acquire(2_522 + 4_096)
        ...     ...  # send the page
        ...     budget.settle(reservation, used=3_100)
    """

    def __init__(
        self,
        tokens_per_minute: int,
        *,
        burst_seconds: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if tokens_per_minute <= 0:
            raise ValueError(f"max_tokens_per_minute must be positive, got {tokens_per_minute}")
        if burst_seconds <= 0:
            raise ValueError(f"burst_seconds must be positive, got {burst_seconds}")
        self.tokens_per_minute = tokens_per_minute
        self.rate = tokens_per_minute / 60.0
        self.capacity = self.rate * burst_seconds
        self._level = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock: asyncio.Lock | None = None
        self._settled: asyncio.Event | None = None
        #: Seconds spent waiting for the budget, summed over all acquisitions.
        self.waited_s = 0.0

    @property
    def level(self) -> float:
        """Tokens available now (negative while the bucket is in debt)."""
        self._refill()
        return self._level

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now

    async def acquire(self, tokens: int) -> Reservation:
        """Wait until ``tokens`` fit in the budget (FIFO among waiters), then reserve them."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        need = min(float(max(tokens, 0)), self.capacity)
        async with self._lock:
            self._refill()
            # A small tolerance and a minimum sleep: float rounding must not leave a waiter
            # spinning on a shortfall of 1e-12 tokens.
            while self._level < need - 1e-6:
                delay = max((need - self._level) / self.rate, 1e-3)
                started = self._clock()
                await self._wait(delay)
                self.waited_s += max(0.0, self._clock() - started)
                self._refill()
            self._level -= max(tokens, 0)
        return Reservation(max(tokens, 0))

    async def _wait(self, delay: float) -> None:
        """Sleep ``delay`` seconds, or less if a settlement gives tokens back meanwhile."""
        self._settled = asyncio.Event()
        sleeper = asyncio.ensure_future(self._sleep(delay))
        settled = asyncio.ensure_future(self._settled.wait())
        try:
            await asyncio.wait({sleeper, settled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            settled.cancel()

    def settle(self, reservation: Reservation, used: int | None) -> None:
        """Replace a reservation by what was really billed (``None``: keep the reservation).

        A request that failed before reaching the service should be settled with ``used=0``.
        """
        if reservation.settled:
            return
        reservation.settled = True
        if used is None:
            return
        self._refill()
        self._level = min(self.capacity, self._level + reservation.tokens - max(used, 0))
        if self._settled is not None:
            self._settled.set()
