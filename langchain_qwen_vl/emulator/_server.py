"""The HTTP side of the emulator: routes, auth, faults, media I/O, JSON and SSE responses.

A Starlette app, served by uvicorn on loopback only. Handlers are async and every blocking
step (reading mapped files, Pillow decoding) runs in a worker thread, so many requests can be
in flight at once (``slow:<ms>`` faults sleep with ``asyncio.sleep``). Nothing here logs
headers; the ``Authorization`` header is read once, to check it, and never stored.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from langchain_qwen_vl.emulator._answers import (
    Answer,
    ImageFacts,
    build_answer,
    image_facts,
)
from langchain_qwen_vl.emulator._batch import BatchService
from langchain_qwen_vl.emulator._batch_routes import batch_routes
from langchain_qwen_vl.emulator._errors import (
    ServiceError,
    internal_error,
    invalid_parameter,
    new_request_id,
    rate_limited,
    unauthorized,
)
from langchain_qwen_vl.emulator._fault_responses import (
    RAW_SEND_KEY,
    early_fault_response,
    json_fault_response,
    stream_fault_response,
)
from langchain_qwen_vl.emulator._faults import (
    FAULT_HEADER,
    TOOL_STREAM_HEADER,
    FaultPlan,
    plan_faults,
    split_faults,
)
from langchain_qwen_vl.emulator._images import ColourShare, decode_image, fetch_media_bytes
from langchain_qwen_vl.emulator._request import ChatRequest, ImageRef, VideoRef
from langchain_qwen_vl.emulator._responses import (
    DONE_EVENT,
    completion_body,
    dumps,
    sse_event,
    stream_chunks,
)
from langchain_qwen_vl.emulator._script import Script, scripted_answer, scripted_request
from langchain_qwen_vl.emulator._validation import parse_request
from langchain_qwen_vl.emulator._video import VideoFacts, measure_video

_RAW_SEND_KEY = RAW_SEND_KEY


@dataclass
class EmulatorState:
    """Configuration and the record of traffic, shared between the server and its handle."""

    url_map: Mapping[str, Path] = field(default_factory=dict)
    latency_ms: int = 0
    remote_image_size: tuple[int, int] = (1024, 768)  # (width, height)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: deque[str] = field(default_factory=deque)
    request_count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    script: Script | None = None
    batch: BatchService = field(default_factory=BatchService)

    def receive(self, body: Any) -> str | None:
        """Record one chat request; return the queued fault it consumes, if any."""
        with self.lock:
            self.request_count += 1
            if isinstance(body, dict):
                self.requests.append(body)
            return self.faults.popleft() if self.faults else None


# --- responses -------------------------------------------------------------------------------


def _json_response(
    payload: Any, status: int, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        dumps(payload),
        status_code=status,
        media_type="application/json",
        headers={"x-request-id": request_id, **(headers or {})},
    )


def _error_response(
    error: ServiceError, request_id: str, headers: Mapping[str, str] | None = None
) -> Response:
    return _json_response(error.body(request_id), error.status, request_id, headers)


class _ResetResponse(Response):
    """Not a response: reset the TCP connection so the client sees no status line at all."""

    def __init__(self) -> None:
        super().__init__(status_code=500)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw_send = scope.get(_RAW_SEND_KEY)
        # uvicorn hands each request a bound method of its request/response cycle, which
        # holds the connection's transport: aborting it with SO_LINGER 0 sends a TCP RST.
        transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            # Another server: start a response and break it, the closest thing we can do.
            await send({"type": "http.response.start", "status": 200, "headers": []})
            raise ConnectionResetError("emulated connection reset")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        for _ in range(3):  # let the server notice the disconnect before we return
            await asyncio.sleep(0)


class _RawSendMiddleware:
    """Keep the server's own ``send`` in the scope (Starlette wraps it) for ``_ResetResponse``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[_RAW_SEND_KEY] = send
        await self.app(scope, receive, send)


# --- media ------------------------------------------------------------------------------------


async def _measure_image(ref: ImageRef, chat: ChatRequest, state: EmulatorState) -> ImageFacts:
    fetched = await fetch_media_bytes(ref.url, url_map=state.url_map)
    if fetched.data is None:
        width, height = state.remote_image_size
        colours: tuple[ColourShare, ...] = ()
    else:
        decoded = await run_in_threadpool(decode_image, fetched.data)
        width, height, colours = decoded.width, decoded.height, decoded.colours
    return image_facts(
        width,
        height,
        max_pixels=ref.max_pixels,
        min_pixels=ref.min_pixels,
        vl_high_resolution_images=chat.vl_high_resolution_images,
        colours=colours,
        fetched=fetched.data is not None,
        url=ref.url,
        data=fetched.data,
    )


async def _measure_video(video: VideoRef, state: EmulatorState) -> VideoFacts:
    return await measure_video(video, url_map=state.url_map, remote_size=state.remote_image_size)


async def _gather_in_order(jobs: Sequence[Any]) -> list[Any]:
    # Run concurrently, but report the error of the first failing item in request order so
    # that the same request always gets the same error.
    results = await asyncio.gather(*jobs, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


# --- the chat route ---------------------------------------------------------------------------


async def _answer(
    state: EmulatorState,
    body: Any,
    chat: ChatRequest,
    images: Sequence[ImageFacts],
    videos: Sequence[VideoFacts],
) -> Answer:
    """The scripted reply when a script is set (and does not defer), else the default answer."""
    script = state.script
    if script is None:
        return build_answer(chat, images, videos)
    seen = [
        (f.url, f.width if f.fetched else None, f.height if f.fetched else None, f.data)
        for f in images
    ]
    request = scripted_request(script.next_index(), body, chat, seen)
    reply = await run_in_threadpool(script.next_reply, request)
    if reply is None:
        return build_answer(chat, images, videos)
    if reply.error is not None:
        raise reply.error
    return scripted_answer(chat, images, videos, reply)


def _check_auth(request: Request) -> None:
    """Accept any ``Bearer sk-...`` key; 401 without one, or for a key containing ``bad``."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key.startswith("sk-") or "bad" in key:
        raise unauthorized()


def _faults_for(request: Request, queued: str | None) -> FaultPlan:
    tokens = split_faults(queued or "") + split_faults(request.headers.get(FAULT_HEADER, ""))
    if request.headers.get(TOOL_STREAM_HEADER, "").strip().lower() == "repeat-id":
        tokens.append("repeat-id")
    return plan_faults(tokens)


def _emulator_misuse(message: str, request_id: str) -> Response:
    error = ServiceError(f"[emulator] {message}", code="emulator_bad_fault", param=FAULT_HEADER)
    return _error_response(error, request_id)


async def _stream(chunks: list[dict[str, Any]], *, truncate: bool) -> AsyncIterator[bytes]:
    if truncate:
        chunks = chunks[: max(1, len(chunks) // 2)]
    for chunk in chunks:
        yield sse_event(dumps(chunk))
        await asyncio.sleep(0)
    if not truncate:
        yield DONE_EVENT


async def chat_completions(request: Request) -> Response:
    """``POST /chat/completions``: both request shapes, faults, then the emulated answer."""
    state: EmulatorState = request.app.state.emulator
    request_id = new_request_id()
    raw = await request.body()
    try:
        body: Any = json.loads(raw)
    except ValueError:
        body = None
    queued = state.receive(body)
    try:
        faults = _faults_for(request, queued)
    except ValueError as exc:
        return _emulator_misuse(str(exc), request_id)
    delay_ms = state.latency_ms + faults.slow_ms
    if delay_ms:
        await asyncio.sleep(delay_ms / 1000)
    if faults.reset:
        return _ResetResponse()
    early = await early_fault_response(faults.body_fault, request, request_id)
    if early is not None:
        return early
    if faults.status == 429:
        retry = {"Retry-After": faults.retry_after} if faults.retry_after is not None else {}
        return _error_response(rate_limited(), request_id, retry)
    if faults.status == 500:
        return _error_response(internal_error(), request_id)
    try:
        _check_auth(request)
        if body is None:
            raise invalid_parameter("The request body is not valid JSON")
        chat = parse_request(body)
        images = await _gather_in_order([_measure_image(r, chat, state) for r in chat.images])
        videos = await _gather_in_order([_measure_video(v, state) for v in chat.videos])
        answer = await _answer(state, body, chat, images, videos)
    except ServiceError as error:
        return _error_response(error, request_id)
    completion_id, created = f"chatcmpl-{request_id}", int(time.time())
    if chat.stream:
        chunks = stream_chunks(
            answer,
            completion_id=completion_id,
            created=created,
            model=chat.model,
            include_usage=chat.include_usage,
            repeat_ids=faults.repeat_id,
        )
        broken = stream_fault_response(faults.body_fault, chunks, request_id)
        if broken is not None:
            return broken
        return StreamingResponse(
            _stream(chunks, truncate=faults.truncate),
            media_type="text/event-stream",
            headers={"x-request-id": request_id, "cache-control": "no-cache"},
        )
    body_out = completion_body(
        answer, completion_id=completion_id, created=created, model=chat.model
    )
    broken = json_fault_response(faults.body_fault, body_out, request_id)
    if broken is not None:
        return broken
    payload = dumps(body_out)
    if faults.truncate:
        payload = payload[: len(payload) // 2]
    return Response(payload, media_type="application/json", headers={"x-request-id": request_id})


async def health(request: Request) -> Response:
    """``GET /health``: liveness, and what the emulator is."""
    return _json_response({"status": "ok", "emulator": "langchain_qwen_vl"}, 200, new_request_id())


async def _route_error(request: Request, exc: Exception) -> Response:
    status = int(getattr(exc, "status_code", 404))
    error = ServiceError(
        f"[emulator] no route for {request.method} {request.url.path}; use POST "
        "/compatible-mode/v1/chat/completions (or GET /health)",
        status=status,
        code="not_found" if status == 404 else "method_not_allowed",
    )
    return _error_response(error, new_request_id())


def create_app(state: EmulatorState) -> ASGIApp:
    """The ASGI app of one emulator, bound to its ``state``."""
    app = Starlette(
        routes=[
            Route("/chat/completions", chat_completions, methods=["POST"]),
            Route("/compatible-mode/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            *batch_routes(),
        ],
        exception_handlers={404: _route_error, 405: _route_error},
    )
    app.state.emulator = state
    return _RawSendMiddleware(app)
