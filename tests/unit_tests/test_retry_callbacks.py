"""Retries reach LangChain callbacks (on_retry) for invoke, ainvoke and batch; SSE fast path."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from httpx_sse._decoders import SSEDecoder
from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
from tenacity import RetryCallState

from langchain_qwen_vl import ChatQwenVL, _transport
from langchain_qwen_vl._sse import SSELineParser

OK_BODY = {"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"content": "hi"}}]}


@pytest.fixture(autouse=True)
def _no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_async_sleep(delay: float) -> None:
        return None

    monkeypatch.setattr(_transport, "_sleep", lambda delay: None)
    monkeypatch.setattr(_transport, "_asleep", no_async_sleep)


def _flaky_handler() -> Any:
    """Every request first fails with 503, then succeeds (per request body)."""
    seen: set[bytes] = set()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.content not in seen:
            seen.add(request.content)
            return httpx.Response(503, json={"error": {"code": "internal_error"}})
        return httpx.Response(200, json=OK_BODY)

    return handler


class Recorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.retries: list[RetryCallState] = []

    def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None:
        self.retries.append(retry_state)


class AsyncRecorder(AsyncCallbackHandler):
    def __init__(self) -> None:
        self.retries: list[RetryCallState] = []

    async def on_retry(self, retry_state: RetryCallState, **kwargs: Any) -> None:
        self.retries.append(retry_state)


def _model(**kwargs: Any) -> ChatQwenVL:
    return ChatQwenVL(api_key="sk-test", base_url="https://dashscope.test/v1", **kwargs)


def test_invoke_and_batch_report_each_retry() -> None:
    client = httpx.Client(transport=httpx.MockTransport(_flaky_handler()))
    llm = _model(http_client=client)
    recorder = Recorder()
    assert llm.invoke("a", config={"callbacks": [recorder]}).content == "hi"
    assert len(recorder.retries) == 1
    state = recorder.retries[0]
    assert state.attempt_number == 1
    assert state.outcome is not None
    assert state.outcome.failed
    assert type(state.outcome.exception()).__name__ == "QwenVLServerError"
    llm.batch(["b", "c", "d"], config={"callbacks": [recorder]})
    assert len(recorder.retries) == 4


async def test_ainvoke_reports_each_retry_to_async_handlers() -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(_flaky_handler()))
    llm = _model(http_async_client=client)
    recorder = AsyncRecorder()
    await llm.ainvoke("a", config={"callbacks": [recorder]})
    await llm.abatch(["b", "c"], config={"callbacks": [recorder]})
    assert [s.attempt_number for s in recorder.retries] == [1, 1, 1]


LINES = [
    'data: {"a": 1}',
    "",
    ": keep-alive comment",
    "data: line one",
    "data: line two",
    "",
    "id: 7",
    "event: error",
    'data: {"code": "x"}',
    "",
    "data: [DONE]",
]


def test_fast_sse_parser_matches_the_general_decoder() -> None:
    fast = SSELineParser()
    got = [e for e in (fast.feed(line) for line in LINES) if e is not None]
    got += [e for e in [fast.finish()] if e is not None]
    decoder = SSEDecoder()
    want = [(ev.event, ev.data) for ev in map(decoder.decode, [*LINES, ""]) if ev is not None]
    assert got == want
    assert got[0] == ("message", '{"a": 1}')
    assert got[1] == ("message", "line one\nline two")
    assert got[-1] == ("message", "[DONE]")


def test_fast_sse_parser_strips_a_leading_bom_and_the_one_space() -> None:
    parser = SSELineParser()
    assert parser.feed("\ufeffdata:  two spaces") is None
    assert parser.feed("") == ("message", " two spaces")
