"""Fault injection: the vocabulary of ``X-Emulator-Fault`` and ``EmulatorHandle.inject_faults``.

One request may carry several faults, comma-separated (``slow:300, 429``):

========================  ===========================================================
``429`` / ``429:<s>``     429 ``Throttling.RateQuota`` with ``Retry-After: <s>`` (default 1;
                          ``429:none`` sends no ``Retry-After``)
``500``                   500 ``internal_error``
``reset``                 the connection is reset (TCP RST), no response at all
``slow:<ms>``             wait ``ms`` milliseconds before answering (other requests proceed)
``truncate``              a stream ends after some chunks without ``[DONE]``; a non-stream
                          answer is sent as a cut JSON body
``repeat-id``             streamed tool-call fragments all repeat ``id``, ``type`` and name,
                          like some Qwen servers (same as ``X-Emulator-Tool-Stream: repeat-id``)
========================  ===========================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FAULT_HEADER = "x-emulator-fault"
TOOL_STREAM_HEADER = "x-emulator-tool-stream"
_FAULT = re.compile(r"^(429(?::(\d+(?:\.\d+)?|none))?|500|reset|slow:(\d+)|truncate|repeat-id)$")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults that apply to one request, merged."""

    status: int | None = None  # 429 or 500
    retry_after: str | None = None
    reset: bool = False
    slow_ms: int = 0
    truncate: bool = False
    repeat_id: bool = False


def split_faults(text: str) -> list[str]:
    """The fault tokens of a header value, checked; raise ValueError naming an unknown one.

    Example:
        >>> split_faults("slow:300, 429:2")
        ['slow:300', '429:2']
    """
    tokens = [token.strip().lower() for token in text.split(",") if token.strip()]
    for token in tokens:
        if not _FAULT.match(token):
            raise ValueError(
                f"unknown emulator fault {token!r}; use 429, 429:<seconds>, 429:none, 500, "
                "reset, slow:<ms>, truncate or repeat-id"
            )
    return tokens


def plan_faults(tokens: Iterable[str]) -> FaultPlan:
    """Merge fault tokens (already checked by :func:`split_faults`) into one plan.

    Example:
        >>> plan = plan_faults(["slow:300", "429"])
        >>> plan.status, plan.retry_after, plan.slow_ms
        (429, '1', 300)
    """
    status: int | None = None
    retry_after: str | None = None
    reset = truncate = repeat_id = False
    slow_ms = 0
    for token in tokens:
        match = _FAULT.match(token)
        if match is None:
            raise ValueError(f"unknown emulator fault {token!r}")
        if token.startswith("429") and status is None:
            status = 429
            value = match.group(2)
            retry_after = None if value == "none" else (value or "1")
        elif token == "500" and status is None:
            status = 500
        elif token == "reset":
            reset = True
        elif token.startswith("slow:"):
            slow_ms += int(match.group(3))
        elif token == "truncate":
            truncate = True
        elif token == "repeat-id":
            repeat_id = True
    return FaultPlan(status, retry_after, reset, slow_ms, truncate, repeat_id)
