"""HTTP I/O: POST a JSON body or read an SSE stream, with retries, mapping failures to our errors.

The only module that touches the network. Retries (exponential backoff with jitter, honouring
``Retry-After``) happen on 429, 5xx, connection errors and timeouts; never on other 4xx. A stream
is retried only before its first event reached the caller; after that a break raises
:class:`QwenVLStreamError`, and so does a stream that ends without ``data: [DONE]``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import httpx
from httpx_sse import ServerSentEvent
from httpx_sse._decoders import SSEDecoder

from langchain_qwen_vl.errors import (
    QwenVLAPIStatusError,
    QwenVLConnectionError,
    QwenVLError,
    QwenVLServerError,
    QwenVLStreamError,
    QwenVLTimeoutError,
    error_from_response,
)

logger = logging.getLogger("langchain_qwen_vl")

_DONE = "[DONE]"

# Indirections so tests can record the backoff without patching the asyncio module globally.
_sleep = time.sleep
_asleep = asyncio.sleep


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait between attempts."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, error: QwenVLError) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        retry_after: float | None = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.max_retry_after)
        backoff = min(self.max_delay, self.initial_delay * (2.0**attempt))
        return backoff * (0.5 + random.random() / 2)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a request goes and with which headers (the key lives only in ``headers``)."""

    url: str
    headers: Mapping[str, str]
    base_url: str

    def __repr__(self) -> str:  # never show the Authorization header
        return f"Endpoint(url={self.url!r})"


def _should_retry(error: QwenVLError) -> bool:
    # A stream error is retryable too, but only before the first event (callers check that).
    return bool(getattr(error, "is_retryable", False))


def _from_httpx(error: httpx.HTTPError, endpoint: Endpoint) -> QwenVLError:
    if isinstance(error, httpx.TimeoutException):
        return QwenVLTimeoutError(
            f"Qwen-VL request to {endpoint.url} timed out ({type(error).__name__}) — raise "
            "`timeout` or try again later."
        )
    return QwenVLConnectionError(
        f"Could not reach Qwen-VL at {endpoint.url}: {type(error).__name__}: {error} — check "
        "base_url/region and your network."
    )


def _malformed(endpoint: Endpoint, detail: str) -> QwenVLServerError:
    return QwenVLServerError(
        f"Qwen-VL returned a malformed response from {endpoint.url}: {detail}",
        status_code=200,
        code="malformed_response",
    )


def _status_error(response: httpx.Response, body: bytes, endpoint: Endpoint) -> QwenVLError:
    return error_from_response(
        response.status_code, body, dict(response.headers), base_url=endpoint.base_url
    )


def _decode_json(body: bytes, endpoint: Endpoint) -> dict[str, Any]:
    try:
        decoded = json.loads(body)
    except ValueError as error:
        raise _malformed(endpoint, f"body is not JSON ({error}); {len(body)} bytes") from error
    if not isinstance(decoded, dict):
        raise _malformed(endpoint, "body is not a JSON object")
    if "error" in decoded and "choices" not in decoded:
        raise error_from_response(400, decoded, base_url=endpoint.base_url)
    return decoded


def _decode_line(decoder: SSEDecoder, line: str, first: bool) -> ServerSentEvent | None:
    if first:
        line = line.lstrip("\ufeff")
    return decoder.decode(line.rstrip("\r\n"))


def _iter_events(response: httpx.Response) -> Iterator[ServerSentEvent]:
    decoder = SSEDecoder()
    first = True
    for line in response.iter_lines():
        event = _decode_line(decoder, line, first)
        first = False
        if event is not None:
            yield event
    # A body whose last event lacks the closing blank line still completes that event: the
    # recorded compat-stream-text.sse ends with "data: [DONE]\n" and nothing after it.
    event = decoder.decode("")
    if event is not None:
        yield event


async def _aiter_events(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    decoder = SSEDecoder()
    first = True
    async for line in response.aiter_lines():
        event = _decode_line(decoder, line, first)
        first = False
        if event is not None:
            yield event
    event = decoder.decode("")
    if event is not None:
        yield event


def _payload_of(event: ServerSentEvent, endpoint: Endpoint) -> dict[str, Any] | None:
    """Decode one SSE event; ``None`` for ``[DONE]``; raise for an error event."""
    if event.data == _DONE:
        return None
    try:
        payload = json.loads(event.data)
    except ValueError as error:
        raise QwenVLStreamError(f"Qwen-VL stream sent an undecodable event: {error}") from error
    if not isinstance(payload, dict):
        raise QwenVLStreamError("Qwen-VL stream sent an event that is not a JSON object")
    # An error can arrive inside a 200 stream: natively as `event:error` (recorded in
    # native-error-400-in-stream.sse), or as an OpenAI-style {"error": {...}} object.
    if event.event == "error" or "error" in payload:
        raise error_from_response(400, payload, base_url=endpoint.base_url)
    return payload


def _raise_truncated(endpoint: Endpoint, cause: BaseException | None = None) -> NoReturn:
    detail = f" ({type(cause).__name__}: {cause})" if cause else ""
    raise QwenVLStreamError(
        f"Qwen-VL stream from {endpoint.url} ended before `data: [DONE]`{detail}; the partial "
        "answer is discarded rather than returned as if complete."
    ) from cause


def _check_stream_response(response: httpx.Response, body: bytes, endpoint: Endpoint) -> None:
    if response.status_code >= 400:
        raise _status_error(response, body, endpoint)
    # Not an event stream: the server answered with a JSON body (e.g. an error object).
    _decode_json(body, endpoint)
    raise _malformed(endpoint, "expected an event stream, got a JSON body")


def _retry_delay_or_raise(
    error: QwenVLError, attempt: int, policy: RetryPolicy, *, started: bool = False
) -> float:
    """Seconds to wait before the next attempt, or re-raise ``error`` when it is final.

    Final: retries used up, an error that is not retryable, or a stream that already handed
    events to the caller (retrying it would repeat them).
    """
    if started or attempt >= policy.max_retries or not _should_retry(error):
        raise error
    delay = policy.delay(attempt, error)
    logger.warning(
        "Qwen-VL request failed (%s); retry %d of %d in %.2fs",
        type(error).__name__,
        attempt + 1,
        policy.max_retries,
        delay,
    )
    return delay


def _json_or_raise(response: httpx.Response, endpoint: Endpoint) -> dict[str, Any]:
    if response.status_code >= 400:
        raise _status_error(response, response.content, endpoint)
    return _decode_json(response.content, endpoint)


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return response.status_code < 400 and "text/event-stream" in content_type


# --- sync ------------------------------------------------------------------------------


def post_json(
    client: httpx.Client, endpoint: Endpoint, body: bytes, policy: RetryPolicy
) -> dict[str, Any]:
    """POST ``body`` and return the decoded JSON answer, retrying transient failures."""
    attempt = 0
    while True:
        try:
            try:
                response = client.post(endpoint.url, content=body, headers=endpoint.headers)
            except httpx.HTTPError as http_error:
                raise _from_httpx(http_error, endpoint) from http_error
            return _json_or_raise(response, endpoint)
        except QwenVLError as error:
            _sleep(_retry_delay_or_raise(error, attempt, policy))
            attempt += 1


def stream_events(
    client: httpx.Client, endpoint: Endpoint, body: bytes, policy: RetryPolicy
) -> Iterator[dict[str, Any]]:
    """POST ``body`` and yield each decoded SSE payload until ``[DONE]``."""
    attempt = 0
    while True:
        started = False
        try:
            try:
                with client.stream(
                    "POST", endpoint.url, content=body, headers=endpoint.headers
                ) as response:
                    if not _is_event_stream(response):
                        _check_stream_response(response, response.read(), endpoint)
                    events = _iter_events(response)
                    for event in events:
                        payload = _payload_of(event, endpoint)
                        if payload is None:
                            # Read what follows [DONE] so the connection goes back to the pool
                            # (an unfinished body makes httpx close it: a new TCP connect each
                            # stream).
                            for _ in events:
                                pass
                            return
                        started = True
                        yield payload
                    _raise_truncated(endpoint)
            except httpx.HTTPError as http_error:
                if started:
                    _raise_truncated(endpoint, http_error)
                raise _from_httpx(http_error, endpoint) from http_error
        except QwenVLError as error:
            _sleep(_retry_delay_or_raise(error, attempt, policy, started=started))
            attempt += 1


# --- async -----------------------------------------------------------------------------


async def apost_json(
    client: httpx.AsyncClient, endpoint: Endpoint, body: bytes, policy: RetryPolicy
) -> dict[str, Any]:
    """Async :func:`post_json`."""
    attempt = 0
    while True:
        try:
            try:
                response = await client.post(endpoint.url, content=body, headers=endpoint.headers)
            except httpx.HTTPError as http_error:
                raise _from_httpx(http_error, endpoint) from http_error
            return _json_or_raise(response, endpoint)
        except QwenVLError as error:
            await _asleep(_retry_delay_or_raise(error, attempt, policy))
            attempt += 1


async def astream_events(
    client: httpx.AsyncClient, endpoint: Endpoint, body: bytes, policy: RetryPolicy
) -> AsyncIterator[dict[str, Any]]:
    """Async :func:`stream_events`."""
    attempt = 0
    while True:
        started = False
        try:
            try:
                async with client.stream(
                    "POST", endpoint.url, content=body, headers=endpoint.headers
                ) as response:
                    if not _is_event_stream(response):
                        _check_stream_response(response, await response.aread(), endpoint)
                    aevents = _aiter_events(response)
                    async for event in aevents:
                        payload = _payload_of(event, endpoint)
                        if payload is None:
                            async for _ in aevents:  # keep the connection for the pool
                                pass
                            return
                        started = True
                        yield payload
                    _raise_truncated(endpoint)
            except httpx.HTTPError as http_error:
                if started:
                    _raise_truncated(endpoint, http_error)
                raise _from_httpx(http_error, endpoint) from http_error
        except QwenVLError as error:
            await _asleep(_retry_delay_or_raise(error, attempt, policy, started=started))
            attempt += 1


__all__ = [
    "Endpoint",
    "QwenVLAPIStatusError",
    "RetryPolicy",
    "apost_json",
    "astream_events",
    "post_json",
    "stream_events",
]
