"""Responses for the body faults of ``_faults.BODY_FAULTS``: stalls, broken and bogus bodies.

Each stands in for something a client meets in production: a hung upstream (``stall``,
``stall-mid``), a connection dropped part-way (``reset-mid``, ``cut``), a 200 that is not
JSON (``malformed``), a proxy's HTML error page (``html502``), a failure reported inside a 200
(``stream-error``) and an answer with no choices (``empty-choices``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from langchain_qwen_vl.emulator._errors import internal_error
from langchain_qwen_vl.emulator._responses import DONE_EVENT, dumps, sse_event

__all__ = ["RAW_SEND_KEY", "early_fault_response", "json_fault_response", "stream_fault_response"]

#: Where ``_server._RawSendMiddleware`` keeps the server's own ``send`` (its transport).
RAW_SEND_KEY = "langchain_qwen_vl.emulator.raw_send"
#: A stalled answer gives up after this long even if the client never does.
STALL_CAP_S = 30.0

_PROXY_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def _transport(scope: Scope) -> Any:
    raw_send = scope.get(RAW_SEND_KEY)
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    return transport if transport is not None and hasattr(transport, "abort") else None


async def _until_disconnect(receive: Receive) -> None:
    async def wait() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(asyncio.TimeoutError):  # not TimeoutError before 3.11
        await asyncio.wait_for(wait(), STALL_CAP_S)


class _BrokenResponse(Response):
    """Send the head and ``first_part`` of a body, then stall, reset or close."""

    def __init__(
        self,
        kind: str,
        first_part: bytes,
        *,
        media_type: str,
        request_id: str,
        content_length: int | None,
    ) -> None:
        super().__init__(status_code=200, media_type=media_type)
        self.kind = kind
        self.first_part = first_part
        headers = [
            (b"content-type", media_type.encode()),
            (b"x-request-id", request_id.encode()),
        ]
        if content_length is not None:  # promise the whole body
            headers.append((b"content-length", str(content_length).encode()))
        self.head = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.head})
        await send({"type": "http.response.body", "body": self.first_part, "more_body": True})
        if self.kind == "stall-mid":
            await _until_disconnect(receive)
            return
        transport = _transport(scope)
        if transport is None:  # not uvicorn: break the response, the closest we can do
            raise ConnectionResetError(f"emulated {self.kind}")
        await asyncio.sleep(0.01)  # let the first part reach the client
        if self.kind == "reset-mid":
            sock = transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:  # cut: a clean close (FIN) before the promised length
            transport.close()
        for _ in range(3):  # let the server notice the disconnect before we return
            await asyncio.sleep(0)


async def early_fault_response(
    kind: str | None, request: Request, request_id: str
) -> Response | None:
    """Faults that answer before the request is looked at: ``stall`` and ``html502``."""
    if kind == "stall":
        await _until_disconnect(request.receive)
        return Response(b"", status_code=504)  # nobody is listening any more
    if kind == "html502":
        return Response(_PROXY_502, status_code=502, media_type="text/html")
    return None


def json_fault_response(kind: str | None, body: dict[str, Any], request_id: str) -> Response | None:
    """A non-streamed answer ``body`` broken the way ``kind`` says."""
    payload = dumps(body).encode()
    headers = {"x-request-id": request_id}
    if kind in ("stall-mid", "reset-mid", "cut"):
        return _BrokenResponse(
            kind,
            payload[: len(payload) // 2],
            media_type="application/json",
            request_id=request_id,
            content_length=len(payload),
        )
    if kind == "malformed":  # JSON, then junk an upstream appended
        junk = payload + b"\n<!-- upstream: connection reset -->"
        return Response(junk, media_type="application/json", headers=headers)
    if kind == "stream-error":
        error = internal_error().body(request_id)
        return Response(dumps(error), media_type="application/json", headers=headers)
    if kind == "empty-choices":
        empty = dumps({**body, "choices": []})
        return Response(empty, media_type="application/json", headers=headers)
    return None


def stream_fault_response(
    kind: str | None, chunks: list[dict[str, Any]], request_id: str
) -> Response | None:
    """A streamed answer of ``chunks`` broken the way ``kind`` says."""
    events = [sse_event(dumps(chunk)) for chunk in chunks]
    if kind in ("stall-mid", "reset-mid", "cut"):
        return _BrokenResponse(
            kind,
            b"".join(events[: max(1, len(events) // 2)]),
            media_type="text/event-stream",
            request_id=request_id,
            content_length=None,
        )
    if kind is None:
        return None
    first = chunks[0] if chunks else {}
    if kind == "malformed":
        bad = sse_event('{"id": "' + str(first.get("id")) + '", "choices": [{"delta": {"content": ')
        body = b"".join([bad, *events[1:], DONE_EVENT])
    elif kind == "stream-error":
        body = sse_event(dumps(internal_error().body(request_id)))
    elif kind == "empty-choices":
        usage = next((c["usage"] for c in chunks if c.get("usage")), None)
        only = {k: first[k] for k in ("id", "object", "created", "model") if k in first}
        body = sse_event(dumps({**only, "choices": [], "usage": usage})) + DONE_EVENT
    else:
        return None
    headers = {"x-request-id": request_id, "cache-control": "no-cache"}
    return Response(body, media_type="text/event-stream", headers=headers)
