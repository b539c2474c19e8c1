"""A local emulator of the Qwen3-VL-Flash API, for demos and for testing your app offline.

What it is: the service's HTTP API as recorded from the real service — the OpenAI-compatible
``POST /compatible-mode/v1/chat/completions`` (also ``POST /chat/completions``) with
``messages``, and the documented ``images`` + ``prompt`` shape; JSON and SSE streams;
thinking (``reasoning_content``); tool calls; ``response_format``; the service's error bodies
and validation rules; usage counted by the documented image/video token formula. Images are
really decoded (data URIs, loopback URLs, files from ``url_map``); other remote URLs are never
fetched and are reported with a nominal size. It never connects to a non-loopback address.

Two ways to run it:

- :func:`run_emulator` — a real HTTP server (Starlette + uvicorn) on a loopback port, in a
  daemon thread; also ``python -m langchain_qwen_vl.emulator``;
- :func:`in_process_emulator` — no port: ``http_client`` / ``http_async_client`` whose httpx
  transports call the app directly (for unit tests with sockets disabled).

What it answers: by default, not the model — deterministic answers that say only what can be
measured (image sizes, the size the model would see, token counts, dominant colours, an echo
of the question), each starting with ``[emulator] ``; with tools bound it acts as a plain
agent (see :mod:`langchain_qwen_vl.emulator._agent`). With ``replies=`` it answers what your
test scripts: a list consumed in order, a function ``request -> reply``, or
:func:`by_image` (see :mod:`langchain_qwen_vl.emulator._script`). ``seed`` and ``temperature``
change nothing.

Keys: any ``Authorization: Bearer sk-...`` key is accepted; a missing header, another scheme,
a key not starting with ``sk-``, or a key containing ``bad`` gets the service's 401.

Faults for resilience tests: header ``X-Emulator-Fault``, ``with emu.faults(...):`` (dropped
when the block ends) or ``emu.inject_faults(...)`` (kept until used or ``emu.clear_faults()``):
``429``, ``429:<s>``, ``500``, ``reset``, ``slow:<ms>``, ``truncate``, ``repeat-id``,
``stall``, ``stall-mid``, ``reset-mid``, ``cut``, ``malformed``, ``html502``,
``stream-error``, ``empty-choices`` (see :mod:`langchain_qwen_vl.emulator._faults`).

Example:
    >>> import httpx
    >>> from langchain_qwen_vl.emulator import run_emulator
    >>> with run_emulator() as emu:  # doctest: +SKIP
    ...     r = httpx.post(emu.base_url + "/chat/completions",
    ...         headers={"Authorization": "Bearer sk-test"},
    ...         json={"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]})
    ...     r.json()["choices"][0]["message"]["content"]
    '[emulator] No images received. You asked: "Hi"'

Command line: ``python -m langchain_qwen_vl.emulator --port 8765 [--replies FILE.jsonl]``
prints the base URL. Requires the ``emulator`` extra.
"""

from __future__ import annotations

try:
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    from langchain_qwen_vl._extras import install_hint

    raise ImportError(
        f"langchain_qwen_vl.emulator needs Starlette and uvicorn: {install_hint('emulator')}"
    ) from exc

from langchain_qwen_vl.emulator._by_image import by_image, image_fingerprint
from langchain_qwen_vl.emulator._inprocess import InProcessEmulator, in_process_emulator
from langchain_qwen_vl.emulator._runner import EmulatorHandle, run_emulator
from langchain_qwen_vl.emulator._script import ScriptedImage, ScriptedRequest

__all__ = [
    "EmulatorHandle",
    "InProcessEmulator",
    "ScriptedImage",
    "ScriptedRequest",
    "by_image",
    "image_fingerprint",
    "in_process_emulator",
    "run_emulator",
]
