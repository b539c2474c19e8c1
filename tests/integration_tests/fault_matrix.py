"""The fault matrix: each emulator fault × each call path → expected outcome and requests sent.

One table, used by ``test_fault_matrix.py`` (which runs every cell against the emulator) and
rendered into ``docs/reliability.md`` (a test checks the page holds exactly this rendering).
Every cell runs with ``max_retries=2``, ``timeout=0.3`` s and no backoff sleep.
"""

from __future__ import annotations

from dataclasses import dataclass

PATHS = ("invoke", "stream", "ainvoke", "astream", "batch", "scan")
STREAMS = ("stream", "astream")
MAX_RETRIES = 2
TIMEOUT_S = 0.3

OK = "ok"
RATE = "QwenVLRateLimitError"
RESPONSE = "QwenVLResponseError"
STREAM = "QwenVLStreamError"


@dataclass(frozen=True)
class Fault:
    """A fault, what it stands for, and per path: (outcome, requests sent)."""

    name: str
    queued: tuple[str, ...]
    means: str
    calls: tuple[str, int]
    streams: tuple[str, int] | None = None  # when streams differ from the calls

    def expected(self, path: str) -> tuple[str, int]:
        if path in STREAMS and self.streams is not None:
            return self.streams
        return self.calls


FAULTS: tuple[Fault, ...] = (
    Fault("none", (), "a healthy answer", (OK, 1)),
    Fault("storm of 2 × 429", ("429:0",) * 2, "rate limited twice, then served", (OK, 3)),
    Fault("storm of 3 × 429", ("429:0",) * 3, "rate limited past max_retries", (RATE, 3)),
    Fault("500", ("500",), "the service failed once", (OK, 2)),
    Fault("html502", ("html502",), "a proxy's HTML 502 page", (OK, 2)),
    Fault("reset", ("reset",), "connection reset before any answer", (OK, 2)),
    Fault("stall", ("stall",), "no answer until the read timeout", (OK, 2)),
    Fault(
        "stall-mid",
        ("stall-mid",),
        "half the body, then silence",
        (OK, 2),
        (STREAM, 1),
    ),
    Fault(
        "reset-mid",
        ("reset-mid",),
        "half the body, then a TCP reset",
        (OK, 2),
        (STREAM, 1),
    ),
    Fault("cut", ("cut",), "half the body, then a clean close", (OK, 2), (STREAM, 1)),
    Fault(
        "truncate",
        ("truncate",),
        "a 200 JSON body cut short / a stream without [DONE]",
        (RESPONSE, 1),
        (STREAM, 1),
    ),
    Fault("malformed", ("malformed",), "a 200 whose body is not JSON", (RESPONSE, 1)),
    Fault(
        "stream-error",
        ("stream-error",),
        "a 200 carrying an internal_error object",
        (OK, 2),
    ),
    Fault("empty-choices", ("empty-choices",), 'a 200 with "choices": []', (RESPONSE, 1)),
)


def render_matrix() -> str:
    """The matrix as a Markdown table (outcome / requests sent)."""
    head = "| fault | what the server does | " + " | ".join(PATHS) + " |"
    rule = "|" + "---|" * (len(PATHS) + 2)
    rows = [head, rule]
    for fault in FAULTS:
        cells = []
        for path in PATHS:
            outcome, requests = fault.expected(path)
            cells.append(f"{outcome} / {requests}")
        rows.append(f"| {fault.name} | {fault.means} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
