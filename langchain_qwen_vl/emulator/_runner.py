"""Running the emulator: a uvicorn server on a loopback port, in a daemon thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from langchain_qwen_vl.emulator._batch import BatchService
from langchain_qwen_vl.emulator._controls import EmulatorControls
from langchain_qwen_vl.emulator._images import is_loopback_host
from langchain_qwen_vl.emulator._script import Replies, Script
from langchain_qwen_vl.emulator._server import EmulatorState, create_app

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 5.0
API_PREFIX = "/compatible-mode/v1"


def new_state(
    url_map: Mapping[str, str | Path] | None,
    latency_ms: int,
    remote_image_size: tuple[int, int],
    replies: Replies | None,
) -> EmulatorState:
    """The state of a new emulator, with its options checked."""
    width, height = remote_image_size
    if width <= 0 or height <= 0 or latency_ms < 0:
        raise ValueError("remote_image_size must be positive and latency_ms non-negative")
    return EmulatorState(
        url_map={url: Path(path) for url, path in (url_map or {}).items()},
        latency_ms=latency_ms,
        remote_image_size=(width, height),
        script=None if replies is None else Script(replies),
    )


class EmulatorHandle(EmulatorControls):
    """A running (or ready to run) emulator; use it as a context manager.

    Attributes and properties:
        base_url: ``http://127.0.0.1:PORT/compatible-mode/v1``, for ``ChatQwenVL(base_url=...)``.
        requests: every JSON request body received, in order (the live list).
        request_count: how many chat requests arrived (bodies that were not JSON included).

    Scripted replies (``set_replies``), faults (``faults``, ``inject_faults``,
    ``clear_faults``) and ``clear`` come from :class:`EmulatorControls`.

    Example:
        >>> with run_emulator() as emu:  # doctest: +SKIP
        ...     with emu.faults("429"):
        ...         httpx.post(emu.base_url + "/chat/completions", ...)  # -> 429
        ...     httpx.post(emu.base_url + "/chat/completions", ...)  # -> a normal answer
    """

    def __init__(
        self,
        port: int = 0,
        *,
        url_map: Mapping[str, str | Path] | None = None,
        latency_ms: int = 0,
        remote_image_size: tuple[int, int] = (1024, 768),
        host: str = "127.0.0.1",
        replies: Replies | None = None,
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(
                f"the emulator serves on loopback only (127.0.0.1, ::1 or localhost), not {host!r}"
            )
        self._host = "127.0.0.1" if host == "localhost" else host.strip("[]")
        self._requested_port = port
        self._port: int | None = None
        self._state = new_state(url_map, latency_ms, remote_image_size, replies)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None

    # --- what tests read -------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port served (known once started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not running; use `with run_emulator() as emu:`")
        return self._port

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` without the API prefix (``/health`` lives there)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL: ``http://127.0.0.1:PORT/compatible-mode/v1``."""
        return self.root_url + API_PREFIX

    @property
    def batch(self) -> BatchService:
        """The emulated Batch API: ``settings`` (speeds), ``advance(s)``, ``fail_line(id)``."""
        return self._state.batch

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> EmulatorHandle:
        """Start serving; return once the port accepts connections."""
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("this emulator is already running")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._requested_port))
        sock.listen(2048)
        self._socket = sock
        self._port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            create_app(self._state),
            log_level="warning",
            access_log=False,
            http="h11",
            loop="asyncio",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"qwen-vl-emulator-{self._port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start (see the uvicorn log above)")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop serving and wait for the server thread to end."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(_STOP_TIMEOUT_S)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> EmulatorHandle:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._port is not None else "not running"
        return f"EmulatorHandle({where})"


def run_emulator(
    port: int = 0,
    *,
    url_map: Mapping[str, str | Path] | None = None,
    latency_ms: int = 0,
    remote_image_size: tuple[int, int] = (1024, 768),
    replies: Replies | None = None,
) -> EmulatorHandle:
    """An emulator on ``127.0.0.1:port`` (a free port when 0), to use as a context manager.

    Args:
        port: TCP port; 0 picks a free one.
        url_map: remote image URLs served from local files instead (never downloaded).
        latency_ms: extra delay before every chat answer.
        remote_image_size: ``(width, height)`` assumed for remote images that are not fetched.
        replies: what the model answers instead of the emulator's own measured answers: a list
            consumed one per request (a string, a dict with ``content`` and/or ``tool_calls``
            in OpenAI's shape, or ``None`` for the emulator's own answer; when it runs out the
            next request gets a 400 ``emulator_script_exhausted``), or a function
            ``request -> reply`` (see :mod:`langchain_qwen_vl.emulator._script`).

    Example:
        >>> from langchain_qwen_vl import ChatQwenVL
        >>> with run_emulator() as emu:  # doctest: +SKIP
        ...     llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-emulator")
        ...     llm.invoke("Hello").content
        '[emulator] No images received. You asked: "Hello"'
    """
    return EmulatorHandle(
        port,
        url_map=url_map,
        latency_ms=latency_ms,
        remote_image_size=remote_image_size,
        replies=replies,
    )
