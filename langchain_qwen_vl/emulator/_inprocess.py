"""The emulator without a port: httpx transports that call its ASGI app directly.

``httpx.ASGITransport`` is async-only and collects a whole response before returning it, so a
stream would arrive in one piece. The transports here hand each ASGI ``http.response.body``
message to the client as it is sent, so ``stream()`` sees the chunks one by one:

- :class:`SyncASGITransport` runs the app on a private event loop in a daemon thread (one per
  emulator) and passes messages back through a thread-safe queue;
- :class:`AsyncASGITransport` runs the app as a task on the caller's loop.

No socket is opened (pytest-socket's ``disable_socket`` is fine; asyncio's own self-pipe is a
Unix socket pair). A connection reset fault surfaces as ``httpx.RemoteProtocolError``, as over
TCP. The client's read timeout applies as over TCP: waiting longer than it for the response or
for the next piece of the body raises ``httpx.ReadTimeout`` (so ``stall`` faults time out).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.types import ASGIApp

from langchain_qwen_vl.emulator._controls import EmulatorControls
from langchain_qwen_vl.emulator._runner import API_PREFIX, new_state
from langchain_qwen_vl.emulator._script import Replies
from langchain_qwen_vl.emulator._server import create_app

#: Never contacted (the transports answer everything); loopback so that a client built without
#: the transports fails fast on this machine instead of going anywhere.
IN_PROCESS_ROOT = "http://127.0.0.1:9"
_Event = tuple[Any, ...]


def _scope(request: httpx.Request) -> dict[str, Any]:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": unquote(url.path),
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 50000),
        "server": (url.host, url.port or 80),
        "extensions": {},
    }


async def _serve(
    app: ASGIApp, scope: dict[str, Any], body: bytes, emit: Callable[[_Event], None]
) -> None:
    """Run one request through ``app``; report ("start"|"body"|"error"|"done", ...) events."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect until the response ends (then cancelled)
        return {"type": "http.disconnect"}  # pragma: no cover

    async def send(message: Mapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            emit(("start", message["status"], list(message.get("headers", []))))
        elif message["type"] == "http.response.body":
            emit(("body", bytes(message.get("body", b"")), bool(message.get("more_body"))))

    try:
        await app(scope, receive, send)
    except Exception as exc:
        emit(("error", exc))
        return
    emit(("done",))


def _read_timeout(request: httpx.Request) -> float | None:
    """The client's read timeout for ``request`` (None: wait forever), as httpx passes it."""
    timeout = request.extensions.get("timeout")
    return timeout.get("read") if isinstance(timeout, Mapping) else None


def _timed_out(request: httpx.Request) -> httpx.ReadTimeout:
    return httpx.ReadTimeout("the in-process emulator sent nothing within the read timeout",
                             request=request)  # fmt: skip


def _transport_error(exc: BaseException, request: httpx.Request, started: bool) -> Exception:
    if isinstance(exc, ConnectionResetError):
        if not started:
            return httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.ReadError("emulated connection reset", request=request)
    return exc if isinstance(exc, Exception) else RuntimeError(str(exc))


class _Head:
    """The status, headers and first body bytes, read before the response is returned."""

    def __init__(self) -> None:
        self.status = 500
        self.headers: list[tuple[bytes, bytes]] = []
        self.first = b""
        self.finished = False


def _head_done(head: _Head, event: _Event, request: httpx.Request) -> bool:
    """Fold one event into ``head``; True once the response can be handed to the client.

    The head waits for the start *and* the first body message: a reset fault starts a response
    and then breaks it, which must look like "no response at all", as over TCP.
    """
    if event[0] == "start":
        head.status, head.headers = event[1], event[2]
        return False
    if event[0] == "body":
        head.first, head.finished = event[1], not event[2]
        return True
    if event[0] == "error":
        raise _transport_error(event[1], request, started=False)
    head.finished = True
    return True


def _next_event(events: queue.Queue[_Event], request: httpx.Request) -> _Event:
    try:
        return events.get(timeout=_read_timeout(request))
    except queue.Empty:
        raise _timed_out(request) from None


def _piece(event: _Event, request: httpx.Request) -> tuple[bytes, bool]:
    """One body event as (bytes, more to come); an error event raises as the transport would."""
    if event[0] == "body":
        return event[1], event[2]
    if event[0] == "error":
        raise _transport_error(event[1], request, started=True)
    return b"", False


class _SyncBody(httpx.SyncByteStream):
    def __init__(
        self, head: _Head, events: queue.Queue[_Event], job: Future[Any], request: httpx.Request
    ) -> None:
        self._head, self._events, self._job, self._request = head, events, job, request

    def __iter__(self) -> Iterator[bytes]:
        if self._head.first:
            yield self._head.first
        if self._head.finished:
            return
        more = True
        while more:
            chunk, more = _piece(_next_event(self._events, self._request), self._request)
            if chunk:
                yield chunk

    def close(self) -> None:
        self._job.cancel()


class SyncASGITransport(httpx.BaseTransport):
    """A sync httpx transport over an ASGI app, streaming chunk by chunk."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="qwen-vl-emulator-in-process", daemon=True
        )
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._loop.is_closed():
            raise httpx.ConnectError("the in-process emulator has stopped", request=request)
        body = request.read()
        events: queue.Queue[_Event] = queue.Queue()
        job = asyncio.run_coroutine_threadsafe(
            _serve(self._app, _scope(request), body, events.put), self._loop
        )
        head = _Head()
        try:
            while not _head_done(head, _next_event(events, request), request):
                pass
        except BaseException:
            job.cancel()
            raise
        return httpx.Response(
            head.status, headers=head.headers, stream=_SyncBody(head, events, job, request)
        )

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


async def _anext_event(events: asyncio.Queue[_Event], request: httpx.Request) -> _Event:
    try:
        return await asyncio.wait_for(events.get(), _read_timeout(request))
    except TimeoutError:
        raise _timed_out(request) from None


class _AsyncBody(httpx.AsyncByteStream):
    def __init__(
        self,
        head: _Head,
        events: asyncio.Queue[_Event],
        task: asyncio.Task[Any],
        request: httpx.Request,
    ) -> None:
        self._head, self._events, self._task, self._request = head, events, task, request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self._head.first:
            yield self._head.first
        if self._head.finished:
            return
        more = True
        while more:
            event = await _anext_event(self._events, self._request)
            chunk, more = _piece(event, self._request)
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task


class AsyncASGITransport(httpx.AsyncBaseTransport):
    """An async httpx transport over an ASGI app, streaming chunk by chunk."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        events: asyncio.Queue[_Event] = asyncio.Queue()
        task = asyncio.create_task(_serve(self._app, _scope(request), body, events.put_nowait))
        head = _Head()
        try:
            while not _head_done(head, await _anext_event(events, request), request):
                pass
        except BaseException:
            task.cancel()
            raise
        return httpx.Response(
            head.status, headers=head.headers, stream=_AsyncBody(head, events, task, request)
        )


class InProcessEmulator(EmulatorControls):
    """An emulator served through httpx transports: no port, no server.

    Attributes:
        base_url: a loopback URL that is never contacted; pass it with the clients below.
        http_client: an ``httpx.Client`` whose transport calls the emulator directly.
        http_async_client: the same for ``httpx.AsyncClient``.

    ``requests``, ``set_replies``, ``faults``, ``inject_faults``, ``clear_faults`` and ``clear``
    work as on the loopback emulator.
    """

    def __init__(
        self,
        *,
        url_map: Mapping[str, str | Path] | None = None,
        latency_ms: int = 0,
        remote_image_size: tuple[int, int] = (1024, 768),
        replies: Replies | None = None,
    ) -> None:
        self._state = new_state(url_map, latency_ms, remote_image_size, replies)
        self._app = create_app(self._state)
        self.base_url = IN_PROCESS_ROOT + API_PREFIX
        self._sync: SyncASGITransport | None = None
        self.http_client = httpx.Client(transport=_Unstarted(), base_url=self.base_url)
        self.http_async_client = httpx.AsyncClient(
            transport=AsyncASGITransport(self._app), base_url=self.base_url
        )

    def start(self) -> InProcessEmulator:
        """Start the private event loop the sync client runs the app on."""
        if self._sync is None:
            self._sync = SyncASGITransport(self._app)
            self.http_client = httpx.Client(transport=self._sync, base_url=self.base_url)
        return self

    def stop(self) -> None:
        """Close the sync client and stop its event loop."""
        if self._sync is not None:
            self.http_client.close()
            self._sync.close()
            self._sync = None

    def __enter__(self) -> InProcessEmulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"InProcessEmulator({'running' if self._sync else 'stopped'})"


class _Unstarted(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError(
            "the in-process emulator is not running; use `with in_process_emulator() as emu:`"
        )


def in_process_emulator(
    *,
    url_map: Mapping[str, str | Path] | None = None,
    latency_ms: int = 0,
    remote_image_size: tuple[int, int] = (1024, 768),
    replies: Replies | None = None,
) -> InProcessEmulator:
    """An emulator reached through in-process httpx transports: no port, no server thread.

    The recommended seam for unit tests of your own code. Same options as ``run_emulator``.
    Images are read from data URIs and ``url_map`` files (loopback URLs need a real socket).

    Example:
        >>> from langchain_qwen_vl import ChatQwenVL
        >>> with in_process_emulator(replies=["Hello from the script"]) as emu:
        ...     llm = ChatQwenVL(api_key="sk-test", base_url=emu.base_url,
        ...         http_client=emu.http_client, http_async_client=emu.http_async_client)
        ...     llm.invoke("Hi").content
        'Hello from the script'
    """
    return InProcessEmulator(
        url_map=url_map,
        latency_ms=latency_ms,
        remote_image_size=remote_image_size,
        replies=replies,
    )
