"""Retries, error mapping and stream integrity, on httpx.MockTransport (no sockets)."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from langchain_qwen_vl import _transport
from langchain_qwen_vl._transport import Endpoint, RetryPolicy
from langchain_qwen_vl.errors import (
    QwenVLBadRequestError,
    QwenVLConnectionError,
    QwenVLError,
    QwenVLInputError,
    QwenVLRateLimitError,
    QwenVLResponseError,
    QwenVLServerError,
    QwenVLStreamError,
    QwenVLTimeoutError,
)

ENDPOINT = Endpoint(
    url="https://dashscope.test/compatible-mode/v1/chat/completions",
    headers={"Authorization": "Bearer sk-secret"},
    base_url="https://dashscope.test/compatible-mode/v1",
)
OK_BODY = {"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"content": "hi"}}]}
RATE_LIMITED = {
    "error": {
        "message": "Requests rate limit exceeded, please try again later.",
        "type": "limit_requests",
        "param": None,
        "code": "Throttling.RateQuota",
    }
}


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    recorded: list[float] = []
    monkeypatch.setattr(_transport, "_sleep", recorded.append)

    async def fake_async_sleep(delay: float) -> None:
        recorded.append(delay)

    monkeypatch.setattr(_transport, "_asleep", fake_async_sleep)
    return recorded


def _client(responses: list[httpx.Response | Exception]) -> tuple[httpx.Client, list[int]]:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        assert request.headers["Authorization"] == "Bearer sk-secret"
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return httpx.Client(transport=httpx.MockTransport(handler)), calls


def test_429_is_retried_honouring_retry_after(sleeps: list[float]) -> None:
    client, calls = _client(
        [
            httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3"}),
            httpx.Response(200, json=OK_BODY),
        ]
    )
    body = _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=2))
    assert body == OK_BODY
    assert len(calls) == 2
    assert sleeps == [3.0]


def test_5xx_and_connect_errors_back_off_exponentially(sleeps: list[float]) -> None:
    client, calls = _client(
        [
            httpx.Response(500, json={"error": {"code": "internal_error", "message": "boom"}}),
            httpx.ConnectError("refused"),
            httpx.Response(200, json=OK_BODY),
        ]
    )
    policy = RetryPolicy(max_retries=3, initial_delay=1.0)
    assert _transport.post_json(client, ENDPOINT, b"{}", policy) == OK_BODY
    assert len(calls) == 3
    # jitter keeps each delay within [0.5, 1] of the exponential step
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 2.0


def test_retries_give_up_with_the_last_error(sleeps: list[float]) -> None:
    client, calls = _client([httpx.Response(429, json=RATE_LIMITED)] * 3)
    with pytest.raises(QwenVLRateLimitError) as info:
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=2, initial_delay=0))
    assert len(calls) == 3
    assert info.value.code == "Throttling.RateQuota"
    assert info.value.is_retryable


def test_other_4xx_is_never_retried(sleeps: list[float]) -> None:
    client, calls = _client(
        [httpx.Response(400, json={"error": {"code": "invalid_parameter_error", "message": "x"}})]
    )
    with pytest.raises(QwenVLBadRequestError):
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=5))
    assert len(calls) == 1
    assert sleeps == []


def test_timeout_maps_to_timeout_error(sleeps: list[float]) -> None:
    client, calls = _client([httpx.ReadTimeout("slow")] * 2)
    with pytest.raises(QwenVLTimeoutError):
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=1, initial_delay=0))
    assert len(calls) == 2


def test_malformed_200_is_not_retried_and_carries_the_request_id(sleeps: list[float]) -> None:
    client, calls = _client(
        [httpx.Response(200, content=b'{"id": "c1", "choi', headers={"x-request-id": "rq-7"})] * 3
    )
    with pytest.raises(QwenVLResponseError, match="not JSON") as info:
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=2))
    assert len(calls) == 1
    assert sleeps == []
    assert info.value.status_code == 200
    assert info.value.request_id == "rq-7"
    assert not info.value.is_retryable


def test_empty_choices_is_a_response_error_with_status_and_request_id(
    sleeps: list[float],
) -> None:
    client, calls = _client([httpx.Response(200, json={"id": "chatcmpl-9", "choices": []})] * 2)
    with pytest.raises(QwenVLResponseError, match="choices") as info:
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=1))
    assert len(calls) == 1
    assert (info.value.status_code, info.value.request_id) == (200, "chatcmpl-9")
    assert not isinstance(info.value, QwenVLInputError)


def test_request_id_falls_back_to_the_header() -> None:
    client, _ = _client(
        [
            httpx.Response(
                400,
                json={"error": {"code": "invalid_parameter_error", "message": "x"}},
                headers={"x-request-id": "hdr-1"},
            )
        ]
    )
    with pytest.raises(QwenVLBadRequestError) as info:
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=0))
    assert info.value.request_id == "hdr-1"
    assert "hdr-1" in str(info.value)


def test_retry_is_logged_at_info(sleeps: list[float], caplog: pytest.LogCaptureFixture) -> None:
    client, _ = _client([httpx.Response(500, json={}), httpx.Response(200, json=OK_BODY)])
    with caplog.at_level(logging.DEBUG, logger="langchain_qwen_vl"):
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=1))
    retry_records = [r for r in caplog.records if "retry 1 of 1" in r.getMessage()]
    assert [r.levelno for r in retry_records] == [logging.INFO]


def test_on_retry_hears_each_retry(sleeps: list[float]) -> None:
    client, _ = _client(
        [
            httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "0"}),
            httpx.Response(500, json={}),
            httpx.Response(200, json=OK_BODY),
        ]
    )
    heard: list[tuple[str, int, float]] = []

    def on_retry(error: QwenVLError, retry: int, delay: float) -> None:
        heard.append((type(error).__name__, retry, delay))

    policy = RetryPolicy(max_retries=2, initial_delay=0)
    assert _transport.post_json(client, ENDPOINT, b"{}", policy, on_retry) == OK_BODY
    assert heard == [("QwenVLRateLimitError", 1, 0.0), ("QwenVLServerError", 2, 0.0)]


def test_secret_is_not_in_endpoint_repr() -> None:
    assert "sk-secret" not in repr(ENDPOINT)


def _sse(*events: str) -> bytes:
    return "".join(f"data: {e}\n\n" for e in events).encode()


def _stream_response(content: bytes | Iterator[bytes], status: int = 200) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/event-stream"}, content=content)


def test_stream_reads_until_done(recorded: Path) -> None:
    client, _ = _client([_stream_response((recorded / "compat-stream-text.sse").read_bytes())])
    payloads = list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy()))
    assert len(payloads) == 9
    assert payloads[-1]["usage"] == {
        "prompt_tokens": 22,
        "completion_tokens": 17,
        "total_tokens": 39,
    }


def test_stream_without_done_raises_instead_of_truncating() -> None:
    client, _ = _client([_stream_response(_sse(json.dumps({"choices": []})))])
    with pytest.raises(QwenVLStreamError, match=r"\[DONE\]"):
        list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(max_retries=0)))


def test_stream_retried_before_first_event_only(sleeps: list[float]) -> None:
    first = json.dumps({"choices": [{"index": 0, "delta": {"content": "a"}}]})
    client, calls = _client(
        [
            httpx.Response(503, json={"error": {"code": "ModelUnavailable", "message": "busy"}}),
            _stream_response(_sse(first, "[DONE]")),
        ]
    )
    payloads = list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(initial_delay=0)))
    assert len(payloads) == 1
    assert len(calls) == 2


def test_stream_that_breaks_after_a_chunk_is_not_retried() -> None:
    first = json.dumps({"choices": [{"index": 0, "delta": {"content": "a"}}]})

    def body() -> Iterator[bytes]:
        yield _sse(first)
        raise httpx.ReadError("connection reset")

    client, calls = _client([_stream_response(body()), _stream_response(_sse(first, "[DONE]"))])
    received: list[dict[str, object]] = []
    events = _transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy())
    with pytest.raises(QwenVLStreamError, match="ReadError"):
        received.extend(events)
    assert len(received) == 1
    assert len(calls) == 1


def test_native_error_event_inside_a_200_stream(recorded: Path) -> None:
    raw = (recorded / "native-error-400-in-stream.sse").read_bytes()
    client, _ = _client([_stream_response(raw)])
    with pytest.raises(QwenVLBadRequestError) as info:
        list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy()))
    assert info.value.code == "InvalidParameter"
    assert info.value.status_code == 200  # what was received, not a made-up 400
    assert info.value.request_id == "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"


def test_stream_error_status_is_mapped_before_reading_events() -> None:
    client, _ = _client([httpx.Response(401, content=b'{"error": {"code": "invalid_api_key"}}')])
    with pytest.raises(QwenVLError) as info:
        list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy()))
    assert getattr(info.value, "status_code", None) == 401


async def test_async_paths_retry_and_stream(sleeps: list[float]) -> None:
    responses: list[Callable[[], httpx.Response]] = [
        lambda: httpx.Response(429, json=RATE_LIMITED),
        lambda: httpx.Response(200, json=OK_BODY),
        lambda: _stream_response(_sse(json.dumps({"choices": []}))),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return responses.pop(0)()

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        policy = RetryPolicy(initial_delay=0)
        assert await _transport.apost_json(client, ENDPOINT, b"{}", policy) == OK_BODY
        with pytest.raises(QwenVLStreamError):
            async for _ in _transport.astream_events(
                client, ENDPOINT, b"{}", RetryPolicy(max_retries=0)
            ):
                pass
    assert len(sleeps) == 1


def test_connection_error_names_the_url() -> None:
    client, _ = _client([httpx.ConnectError("refused")])
    with pytest.raises(QwenVLConnectionError, match=r"dashscope\.test"):
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=0))


def test_proxy_html_page_is_summarised_and_retried(sleeps: list[float]) -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    client, calls = _client(
        [httpx.Response(502, content=page, headers={"content-type": "text/html"})] * 2
    )
    with pytest.raises(QwenVLServerError) as info:
        _transport.post_json(client, ENDPOINT, b"{}", RetryPolicy(max_retries=1))
    assert len(calls) == 2
    assert "HTML page (502 Bad Gateway)" in str(info.value)
    assert "<body>" not in str(info.value)
    assert info.value.server_message == page.decode()


def test_error_object_inside_a_200_stream_keeps_status_and_code() -> None:
    error = {"error": {"code": "internal_error", "message": "boom"}, "id": "chatcmpl-3"}
    client, _ = _client([_stream_response(_sse(json.dumps(error)))])
    with pytest.raises(QwenVLServerError) as info:
        list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(max_retries=0)))
    assert (info.value.status_code, info.value.code) == (200, "internal_error")
    assert info.value.request_id == "chatcmpl-3"


def test_undecodable_stream_event_is_a_response_error_not_retried(sleeps: list[float]) -> None:
    client, calls = _client([_stream_response(_sse('{"choices": ['))] * 2)
    with pytest.raises(QwenVLResponseError):
        list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(max_retries=1)))
    assert len(calls) == 1


def test_a_long_retry_after_is_capped(sleeps: list[float]) -> None:
    client, calls = _client(
        [
            httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "3600"}),
            httpx.Response(200, json=OK_BODY),
        ]
    )
    policy = RetryPolicy(max_retries=1, max_retry_after=60.0)
    assert _transport.post_json(client, ENDPOINT, b"{}", policy) == OK_BODY
    assert len(calls) == 2
    assert sleeps == [60.0]  # an hour asked for; the policy waits at most a minute


class _TrackedBody(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A streamed body that records whether it was read to its end."""

    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts
        self.read_to_end = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.parts
        self.read_to_end = True

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part
        self.read_to_end = True


def _tracked_stream() -> tuple[_TrackedBody, httpx.MockTransport]:
    chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    body = _TrackedBody(
        [f"data: {json.dumps(chunk)}\n\n".encode(), b"data: [DONE]\n\n", b": trailing\n\n"]
    )
    headers = {"content-type": "text/event-stream"}
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, headers=headers, stream=body)
    )
    return body, transport


def test_what_follows_done_is_read_so_the_connection_is_kept() -> None:
    # An unfinished body makes httpx close the connection: a new TCP connect per stream.
    body, transport = _tracked_stream()
    client = httpx.Client(transport=transport)
    events = list(_transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(0)))
    assert len(events) == 1
    assert body.read_to_end


async def test_what_follows_done_is_read_so_the_connection_is_kept_async() -> None:
    body, transport = _tracked_stream()
    client = httpx.AsyncClient(transport=transport)
    events = [e async for e in _transport.astream_events(client, ENDPOINT, b"{}", RetryPolicy(0))]
    assert len(events) == 1
    assert body.read_to_end
