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
``stall``                 accept the request and answer nothing until the client gives up
``stall-mid``             send the status, headers and half the body (half the stream), then
                          nothing until the client gives up
``reset-mid``             send the status, headers and half the body, then reset the connection
``cut``                   promise the whole body, send half, close the connection cleanly
``malformed``             a 200 whose body (or a stream's first event) is not JSON
``html502``               a proxy's 502 ``text/html`` page instead of the service's answer
``stream-error``          a 200 whose first stream event (or whole JSON body) is an error
                          object, ``internal_error``, as the service sends a failure it met
                          after the status line
``empty-choices``         a 200 with ``"choices": []`` (a stream: one usage chunk, then
                          ``[DONE]``)
========================  ===========================================================

A storm of N 429s is N queued ``429:0`` faults: ``emu.inject_faults(*["429:0"] * n)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

FAULT_HEADER = "x-emulator-fault"
TOOL_STREAM_HEADER = "x-emulator-tool-stream"
#: Faults that replace or break the answer's body; at most one applies (the first given).
BODY_FAULTS = (
    "stall",
    "stall-mid",
    "reset-mid",
    "cut",
    "malformed",
    "html502",
    "stream-error",
    "empty-choices",
)
_FAULT = re.compile(
    r"^(429(?::(\d+(?:\.\d+)?|none))?|500|reset|slow:(\d+)|truncate|repeat-id|"
    + "|".join(BODY_FAULTS)
    + ")$"
)


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """The faults that apply to one request, merged."""

    status: int | None = None  # 429 or 500
    retry_after: str | None = None
    reset: bool = False
    slow_ms: int = 0
    truncate: bool = False
    repeat_id: bool = False
    body_fault: str | None = None  # one of BODY_FAULTS


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
                "reset, slow:<ms>, truncate, repeat-id or one of " + ", ".join(BODY_FAULTS)
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
    body_fault: str | None = None
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
        elif token in BODY_FAULTS and body_fault is None:
            body_fault = token
    return FaultPlan(status, retry_after, reset, slow_ms, truncate, repeat_id, body_fault)
