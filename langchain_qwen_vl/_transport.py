"""HTTP I/O: POST a JSON body or read an SSE stream, with retries, mapping failures to our errors.

The only module that touches the network. Retries (exponential backoff with jitter, honouring
``Retry-After``) happen on 429, 5xx, connection errors and timeouts; never on other 4xx, and
never on a 200 (the call was processed and may be billed: an unusable 200 body raises
:class:`QwenVLResponseError` at once). A stream is retried only before its first event reached
the caller; after that a break raises :class:`QwenVLStreamError`, and so does a stream that ends
without ``data: [DONE]``.

The retry and stream logic is written once, as generators that yield what to do next (send,
read the body, run the body's lines through an :class:`_EventReader`, sleep) and receive the
outcome: the sync and async functions below only perform those steps, the way httpx drives its
auth flows. The per-line work lives in the reader, which both drivers call in a plain loop, so a
line costs one method call rather than two generator switches.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, cast

import httpx
from pydantic_core import from_json

from langchain_qwen_vl._pool import ClientPool
from langchain_qwen_vl._sse import SSELineParser
from langchain_qwen_vl.errors import (
    QwenVLConnectionError,
    QwenVLError,
    QwenVLResponseError,
    QwenVLStreamError,
    QwenVLTimeoutError,
    error_from_response,
)

logger = logging.getLogger("langchain_qwen_vl")

_DONE = "[DONE]"

# Indirections so tests can record the backoff without patching the asyncio module globally.
_sleep = time.sleep
_asleep = asyncio.sleep

OnRetry = Callable[[QwenVLError, int, float], "Awaitable[None] | None"]
"""Called before each retry with (error, retry number from 1, seconds until it)."""


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
    timeout: httpx.Timeout | None = None  # per request; None: the client's own

    def __repr__(self) -> str:  # never show the Authorization header
        return f"Endpoint(url={self.url!r})"


# --- what a flow asks its driver to do ---------------------------------------------------


class _Step:
    __slots__ = ()


class _Send(_Step):
    """Send the request; reply with the response (head only for a stream) or the httpx error."""


class _Read(_Step):
    """Read the whole body; reply with bytes or the httpx error."""


class _Drain(_Step):
    """Read what is left so the connection returns to the pool; reply with nothing."""


@dataclass(slots=True)
class _Wait(_Step):
    """Close the current response, report the retry, sleep ``delay``; reply with nothing."""

    error: QwenVLError
    retry: int
    delay: float


@dataclass(slots=True)
class _Events(_Step):
    """Feed the body's lines to ``reader`` and hand each payload it returns to the caller,
    until it is ``done`` or the body ends (then call ``reader.end()``); reply with nothing,
    the httpx error, or the :class:`QwenVLError` the reader raised."""

    reader: _EventReader


SEND, READ, DRAIN = _Send(), _Read(), _Drain()
Flow = Generator[_Step, Any, Any]


# --- error mapping ------------------------------------------------------------------------


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


def _header_request_id(response: httpx.Response) -> str | None:
    headers = response.headers
    found: str | None = headers.get("x-request-id") or headers.get("x-dashscope-request-id")
    return found


def _unusable(
    response: httpx.Response, endpoint: Endpoint, detail: str, body: Any = None
) -> QwenVLResponseError:
    request_id = None
    if isinstance(body, Mapping):
        found = body.get("request_id") or body.get("id")
        request_id = found if isinstance(found, str) and found else None
    request_id = request_id or _header_request_id(response)
    suffix = f" [request_id={request_id}]" if request_id else ""
    return QwenVLResponseError(
        f"Qwen-VL answered {response.status_code} from {endpoint.url} with an unusable body: "
        f"{detail}. Not retried: the call was processed and may be billed.{suffix}",
        status_code=response.status_code,
        code="malformed_response",
        request_id=request_id,
        body=body,
    )


def _status_error(response: httpx.Response, body: bytes, endpoint: Endpoint) -> QwenVLError:
    return error_from_response(
        response.status_code, body, response.headers, base_url=endpoint.base_url
    )


def _decode_json(
    response: httpx.Response, body: bytes, endpoint: Endpoint, *, require_choices: bool
) -> dict[str, Any]:
    try:
        decoded = from_json(body)
    except ValueError as error:
        raise _unusable(response, endpoint, f"not JSON ({error}; {len(body)} bytes)") from error
    if not isinstance(decoded, dict):
        raise _unusable(response, endpoint, "not a JSON object")
    if "error" in decoded and "choices" not in decoded:
        raise error_from_response(
            response.status_code, decoded, response.headers, base_url=endpoint.base_url
        )
    if require_choices:
        choices = decoded.get("choices")
        if not isinstance(choices, list) or not choices:
            raise _unusable(response, endpoint, "no `choices` in the answer", decoded)
    return decoded


def _json_or_raise(response: httpx.Response, body: bytes, endpoint: Endpoint) -> dict[str, Any]:
    if response.status_code >= 400:
        raise _status_error(response, body, endpoint)
    return _decode_json(response, body, endpoint, require_choices=True)


def _is_event_stream(response: httpx.Response) -> bool:
    content_type = response.headers.get("content-type", "")
    return response.status_code < 400 and "text/event-stream" in content_type


def _check_stream_response(response: httpx.Response, body: bytes, endpoint: Endpoint) -> NoReturn:
    if response.status_code >= 400:
        raise _status_error(response, body, endpoint)
    # Not an event stream: the server answered with a JSON body (e.g. an error object).
    _decode_json(response, body, endpoint, require_choices=False)
    raise _unusable(response, endpoint, "expected an event stream, got a JSON body")


def _payload_of(
    event: str, data: str, response: httpx.Response, endpoint: Endpoint
) -> dict[str, Any] | None:
    """Decode one SSE event; ``None`` for ``[DONE]``; raise for an error event."""
    if data == _DONE:
        return None
    # Not JSON inside a 200 stream: the service answered (and may bill); never retried.
    try:
        payload = from_json(data)
    except ValueError as error:
        detail = f"a stream event is not JSON ({error})"
        raise _unusable(response, endpoint, detail) from error
    if not isinstance(payload, dict):
        raise _unusable(response, endpoint, "a stream event is not a JSON object")
    # An error can arrive inside a 200 stream: natively as `event:error` (recorded in
    # native-error-400-in-stream.sse), or as an OpenAI-style {"error": {...}} object. Report
    # the status actually received and the error's own code.
    if event == "error" or "error" in payload:
        raise error_from_response(
            response.status_code, payload, response.headers, base_url=endpoint.base_url
        )
    return payload


def _truncated(
    endpoint: Endpoint, response: httpx.Response | None, cause: BaseException | None = None
) -> QwenVLStreamError:
    detail = f" ({type(cause).__name__}: {cause})" if cause else ""
    request_id = _header_request_id(response) if response is not None else None
    suffix = f" [request_id={request_id}]" if request_id else ""
    return QwenVLStreamError(
        f"Qwen-VL stream from {endpoint.url} ended before `data: [DONE]`{detail}; the partial "
        f"answer is discarded rather than returned as if complete.{suffix}",
        request_id=request_id,
    )


def _retry_delay_or_raise(
    error: QwenVLError, attempt: int, policy: RetryPolicy, *, started: bool = False
) -> float:
    """Seconds to wait before the next attempt, or re-raise ``error`` when it is final.

    Final: retries used up, an error that is not retryable, or a stream that already handed
    events to the caller (retrying it would repeat them).
    """
    if started or attempt >= policy.max_retries or not getattr(error, "is_retryable", False):
        raise error
    delay = policy.delay(attempt, error)
    logger.info(
        "Qwen-VL request failed (%s); retry %d of %d in %.2fs",
        type(error).__name__,
        attempt + 1,
        policy.max_retries,
        delay,
    )
    return delay


# --- the flows (no I/O) ---------------------------------------------------------------


def post_flow(endpoint: Endpoint, policy: RetryPolicy) -> Flow:
    """One JSON call with retries; returns the decoded answer."""
    attempt = 0
    while True:
        try:
            reply = yield SEND
            if isinstance(reply, httpx.HTTPError):
                raise _from_httpx(reply, endpoint) from reply
            response: httpx.Response = reply
            body = yield READ
            if isinstance(body, httpx.HTTPError):
                raise _from_httpx(body, endpoint) from body
            return _json_or_raise(response, body, endpoint)
        except QwenVLError as error:
            failure, delay = error, _retry_delay_or_raise(error, attempt, policy)
        attempt += 1
        yield _Wait(failure, attempt, delay)


class _EventReader:
    """The lines of one event-stream answer in, decoded payloads out: the per-line work of a
    stream, written once and called by both drivers in their own loop over the lines."""

    __slots__ = ("_any_choice", "_endpoint", "_last", "_parser", "_response", "done", "started")

    def __init__(self, response: httpx.Response, endpoint: Endpoint) -> None:
        self._parser = SSELineParser()
        self._response = response
        self._endpoint = endpoint
        self._last: dict[str, Any] = {}
        self._any_choice = False
        self.started = False
        self.done = False

    def feed(self, line: str) -> dict[str, Any] | None:
        """One line; the payload it completes, if any (``done`` is set at ``[DONE]``)."""
        event = self._parser.feed(line)
        return None if event is None else self._event(event)

    def end(self) -> dict[str, Any] | None:
        """The body ended: a last event without its closing blank line still completes."""
        event = self._parser.finish()
        return None if event is None else self._event(event)

    def _event(self, event: tuple[str, str]) -> dict[str, Any] | None:
        payload = _payload_of(event[0], event[1], self._response, self._endpoint)
        if payload is None:
            if not self._any_choice:
                raise _unusable(
                    self._response, self._endpoint, "the stream had no `choices`", self._last
                )
            self.done = True
            return None
        self.started, self._last = True, payload
        if not self._any_choice and payload.get("choices"):
            self._any_choice = True
        return payload


def stream_flow(endpoint: Endpoint, policy: RetryPolicy) -> Flow:
    """One streamed call with retries before the first event; emits each decoded payload."""
    attempt = 0
    while True:
        reader: _EventReader | None = None
        try:
            reply = yield SEND
            if isinstance(reply, httpx.HTTPError):
                raise _from_httpx(reply, endpoint) from reply
            if not _is_event_stream(reply):
                body = yield READ
                if isinstance(body, httpx.HTTPError):
                    raise _from_httpx(body, endpoint) from body
                _check_stream_response(reply, body, endpoint)
            reader = _EventReader(reply, endpoint)
            outcome = yield _Events(reader)
            if isinstance(outcome, QwenVLError):
                raise outcome
            if isinstance(outcome, httpx.HTTPError):
                if reader.started:
                    raise _truncated(endpoint, reply, outcome) from outcome
                raise _from_httpx(outcome, endpoint) from outcome
            if not reader.done:
                raise _truncated(endpoint, reply)
            # Read what follows [DONE] so the connection goes back to the pool (an unfinished
            # body makes httpx close it: a new TCP connect each stream).
            yield DRAIN
            return None
        except QwenVLError as error:
            failure = error
            started = reader is not None and reader.started
            delay = _retry_delay_or_raise(error, attempt, policy, started=started)
        attempt += 1
        yield _Wait(failure, attempt, delay)


# --- sync driver ----------------------------------------------------------------------


def _notify(on_retry: OnRetry | None, step: _Wait) -> Awaitable[None] | None:
    return on_retry(step.error, step.retry, step.delay) if on_retry is not None else None


def post_json(
    client: httpx.Client | ClientPool[httpx.Client],
    endpoint: Endpoint,
    body: bytes,
    policy: RetryPolicy,
    on_retry: OnRetry | None = None,
) -> dict[str, Any]:
    """POST ``body`` and return the decoded JSON answer, retrying transient failures."""
    result: dict[str, Any] = {}
    for payload in stream_sync(post_flow(endpoint, policy), client, endpoint, body, on_retry):
        result = payload
    return result


def stream_events(
    client: httpx.Client | ClientPool[httpx.Client],
    endpoint: Endpoint,
    body: bytes,
    policy: RetryPolicy,
    on_retry: OnRetry | None = None,
) -> Iterator[dict[str, Any]]:
    """POST ``body`` and yield each decoded SSE payload until ``[DONE]``."""
    return stream_sync(stream_flow(endpoint, policy), client, endpoint, body, on_retry)


def stream_sync(
    flow: Flow,
    client: httpx.Client | ClientPool[httpx.Client],
    endpoint: Endpoint,
    body: bytes,
    on_retry: OnRetry | None,
) -> Iterator[dict[str, Any]]:
    """Perform a flow's steps with a sync client; yield emitted payloads and the return value."""
    pool = client if isinstance(client, ClientPool) else None
    slot = -1
    response: httpx.Response | None = None
    lines: Iterator[str] | None = None

    def done() -> None:
        nonlocal response, slot
        if response is not None:
            response.close()
            response = None
        if slot >= 0 and pool is not None:
            pool.release(slot)
            slot = -1

    try:
        step = next(flow)
        while True:
            reply: Any = None
            if isinstance(step, _Events):
                assert lines is not None
                reader = step.reader
                try:
                    for line in lines:
                        payload = reader.feed(line)
                        if payload is not None:
                            yield payload
                        elif reader.done:
                            break
                    else:
                        payload = reader.end()
                        if payload is not None:
                            yield payload
                except (httpx.HTTPError, QwenVLError) as error:
                    reply = error
            elif step is SEND:
                done()
                if pool is not None:
                    slot, http = pool.acquire()
                else:
                    http = cast(httpx.Client, client)
                request = http.build_request(
                    "POST",
                    endpoint.url,
                    content=body,
                    headers=endpoint.headers,
                    timeout=endpoint.timeout or httpx.USE_CLIENT_DEFAULT,
                )
                try:
                    response = reply = http.send(request, stream=True)
                    lines = response.iter_lines()
                except httpx.HTTPError as error:
                    reply = error
            elif step is READ:
                assert response is not None
                try:
                    reply = response.read()
                except httpx.HTTPError as error:
                    reply = error
            elif step is DRAIN:
                assert lines is not None
                try:
                    for _ in lines:
                        pass
                except httpx.HTTPError:
                    pass  # the answer is complete; only the connection is lost
            elif isinstance(step, _Wait):
                done()
                _notify(on_retry, step)
                _sleep(step.delay)
            step = flow.send(reply)
    except StopIteration as stop:
        done()
        if stop.value is not None:
            yield stop.value
    finally:
        done()
        flow.close()


# --- async driver ---------------------------------------------------------------------


async def apost_json(
    client: httpx.AsyncClient | ClientPool[httpx.AsyncClient],
    endpoint: Endpoint,
    body: bytes,
    policy: RetryPolicy,
    on_retry: OnRetry | None = None,
) -> dict[str, Any]:
    """Async :func:`post_json`."""
    result: dict[str, Any] = {}
    flow = post_flow(endpoint, policy)
    async for payload in stream_async(flow, client, endpoint, body, on_retry):
        result = payload
    return result


def astream_events(
    client: httpx.AsyncClient | ClientPool[httpx.AsyncClient],
    endpoint: Endpoint,
    body: bytes,
    policy: RetryPolicy,
    on_retry: OnRetry | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Async :func:`stream_events`."""
    return stream_async(stream_flow(endpoint, policy), client, endpoint, body, on_retry)


async def stream_async(
    flow: Flow,
    client: httpx.AsyncClient | ClientPool[httpx.AsyncClient],
    endpoint: Endpoint,
    body: bytes,
    on_retry: OnRetry | None,
) -> AsyncIterator[dict[str, Any]]:
    """Async :func:`stream_sync`."""
    pool = client if isinstance(client, ClientPool) else None
    slot = -1
    response: httpx.Response | None = None
    lines: AsyncIterator[str] | None = None

    async def done() -> None:
        nonlocal response, slot
        if response is not None:
            await response.aclose()
            response = None
        if slot >= 0 and pool is not None:
            pool.release(slot)
            slot = -1

    try:
        step = next(flow)
        while True:
            reply: Any = None
            if isinstance(step, _Events):
                assert lines is not None
                reader = step.reader
                try:
                    async for line in lines:
                        payload = reader.feed(line)
                        if payload is not None:
                            yield payload
                        elif reader.done:
                            break
                    else:
                        payload = reader.end()
                        if payload is not None:
                            yield payload
                except (httpx.HTTPError, QwenVLError) as error:
                    reply = error
            elif step is SEND:
                await done()
                if pool is not None:
                    slot, http = pool.acquire()
                else:
                    http = cast(httpx.AsyncClient, client)
                request = http.build_request(
                    "POST",
                    endpoint.url,
                    content=body,
                    headers=endpoint.headers,
                    timeout=endpoint.timeout or httpx.USE_CLIENT_DEFAULT,
                )
                try:
                    response = reply = await http.send(request, stream=True)
                    lines = response.aiter_lines()
                except httpx.HTTPError as error:
                    reply = error
            elif step is READ:
                assert response is not None
                try:
                    reply = await response.aread()
                except httpx.HTTPError as error:
                    reply = error
            elif step is DRAIN:
                assert lines is not None
                try:
                    async for _ in lines:
                        pass
                except httpx.HTTPError:
                    pass  # the answer is complete; only the connection is lost
            elif isinstance(step, _Wait):
                await done()
                notified = _notify(on_retry, step)
                if inspect.isawaitable(notified):
                    await notified
                await _asleep(step.delay)
            step = flow.send(reply)
    except StopIteration as stop:
        await done()
        if stop.value is not None:
            yield stop.value
    finally:
        await done()
        flow.close()


__all__ = [
    "Endpoint",
    "OnRetry",
    "RetryPolicy",
    "apost_json",
    "astream_events",
    "post_json",
    "stream_events",
]
