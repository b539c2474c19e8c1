"""A local emulator of the Qwen3-VL-Flash API, for demos and tests that must run offline.

What it is: a real HTTP server (Starlette + uvicorn, in a daemon thread, loopback only) that
speaks the service's wire formats as recorded in ``tests/fixtures/dashscope/``: the
OpenAI-compatible ``POST /compatible-mode/v1/chat/completions`` (also ``POST /chat/completions``)
with ``messages``, and the documented ``images`` + ``prompt`` shape; JSON and SSE streams;
thinking (``reasoning_content``); tool calls; ``response_format``; the service's error bodies
and validation rules; usage counted by the documented image/video token formula. Images are
really decoded (data URIs, loopback URLs, files from ``url_map``); other remote URLs are never
fetched and are reported with a nominal size. It never connects to a non-loopback address.

What it is **not**: the model. Answers are deterministic functions of the request and say
only what can be measured — image sizes, the size the model would see, token counts, dominant
colours, an echo of the question — and every free-text answer starts with ``[emulator] ``.
``seed`` and ``temperature`` change nothing.

Faults for resilience tests: header ``X-Emulator-Fault`` or :meth:`EmulatorHandle.inject_faults`
(``429``, ``429:<s>``, ``500``, ``reset``, ``slow:<ms>``, ``truncate``, ``repeat-id``,
``stall``, ``stall-mid``, ``reset-mid``, ``cut``, ``malformed``, ``html502``,
``stream-error``, ``empty-choices``; see :mod:`langchain_qwen_vl.emulator._faults`).

Example:
    >>> import httpx
    >>> from langchain_qwen_vl.emulator import run_emulator
    >>> with run_emulator() as emu:  # doctest: +SKIP
    ...     r = httpx.post(emu.base_url + "/chat/completions",
    ...         headers={"Authorization": "Bearer sk-test"},
    ...         json={"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]})
    ...     r.json()["choices"][0]["message"]["content"]
    '[emulator] No images received. You asked: "Hi"'

Command line: ``python -m langchain_qwen_vl.emulator --port 8765`` prints the base URL.
Requires the ``emulator`` extra (``pip install "langchain-qwen-vl[emulator]"``).
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "langchain_qwen_vl.emulator needs Starlette and uvicorn: "
        'pip install "langchain-qwen-vl[emulator]"'
    ) from exc

from langchain_qwen_vl.emulator._runner import EmulatorHandle, run_emulator

__all__ = ["EmulatorHandle", "run_emulator"]
