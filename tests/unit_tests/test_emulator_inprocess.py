"""The in-process emulator: httpx transports over the ASGI app, with sockets disabled.

These run under the unit-test conftest's ``disable_socket``: passing at all shows that no
network socket is opened.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessageChunk
from pytest_socket import SocketBlockedError

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import InProcessEmulator, in_process_emulator
from langchain_qwen_vl.emulator._inprocess import AsyncASGITransport, SyncASGITransport
from langchain_qwen_vl.errors import QwenVLBadRequestError, QwenVLStreamError, QwenVLTimeoutError

AUTH = {"Authorization": "Bearer sk-test"}
BODY = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def emu() -> Iterator[InProcessEmulator]:
    with in_process_emulator() as handle:
        yield handle


def model(emu: InProcessEmulator, **kwargs: Any) -> ChatQwenVL:
    return ChatQwenVL(
        api_key="sk-test",
        base_url=emu.base_url,
        http_client=emu.http_client,
        http_async_client=emu.http_async_client,
        **kwargs,
    )


def test_sync_client_answers_and_records_the_request(emu: InProcessEmulator) -> None:
    reply = model(emu).invoke("Hello")
    assert reply.content == '[emulator] No images received. You asked: "Hello"'
    assert reply.usage_metadata is not None
    assert reply.usage_metadata["output_tokens"] > 0
    assert emu.requests[-1]["messages"][-1]["content"] == "Hello"


@pytest.mark.filterwarnings("ignore:A test tried to use socket.socket")
def test_no_network_socket_is_needed(emu: InProcessEmulator) -> None:
    with pytest.raises(SocketBlockedError):  # the unit-test conftest blocks network sockets
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert model(emu).invoke("Hello").content == '[emulator] No images received. You asked: "Hello"'
    assert asyncio.run(model(emu).ainvoke("Hello")).content.startswith("[emulator]")


def test_async_client_answers(emu: InProcessEmulator) -> None:
    reply = asyncio.run(model(emu).ainvoke("Hello"))
    assert reply.content == '[emulator] No images received. You asked: "Hello"'


def test_sync_and_async_streams_arrive_in_pieces(emu: InProcessEmulator) -> None:
    llm = model(emu)
    chunks = [c for c in llm.stream("one two three four") if c.content]
    assert len(chunks) > 5
    assert "".join(str(c.content) for c in chunks).endswith('You asked: "one two three four"')

    async def collect() -> list[AIMessageChunk]:
        return [c async for c in llm.astream("one two three four") if c.content]

    assert [c.content for c in asyncio.run(collect())] == [c.content for c in chunks]


# --- chunk by chunk: the client sees the first chunk before the app sends the second ----


def _gated_app(gate: threading.Event, seen: list[str]) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        # The client opens the gate only after it has read "first".
        opened = await asyncio.to_thread(gate.wait, 5)
        seen.append("gate opened" if opened else "gate timed out")
        await send({"type": "http.response.body", "body": b"second", "more_body": False})

    return app


def test_sync_transport_streams_chunk_by_chunk() -> None:
    gate, seen = threading.Event(), []
    transport = SyncASGITransport(_gated_app(gate, seen))
    try:
        with (
            httpx.Client(transport=transport) as client,
            client.stream("GET", "http://127.0.0.1:9/") as response,
        ):
            pieces = response.iter_raw()
            assert next(pieces) == b"first"
            gate.set()
            assert list(pieces) == [b"second"]
    finally:
        transport.close()
    assert seen == ["gate opened"]


def test_async_transport_streams_chunk_by_chunk() -> None:
    gate, seen = threading.Event(), []

    async def run() -> list[bytes]:
        transport = AsyncASGITransport(_gated_app(gate, seen))
        async with (
            httpx.AsyncClient(transport=transport) as client,
            client.stream("GET", "http://127.0.0.1:9/") as response,
        ):
            pieces = response.aiter_raw()
            received = [await anext(pieces)]
            gate.set()
            received.extend([piece async for piece in pieces])
            return received

    assert asyncio.run(run()) == [b"first", b"second"]
    assert seen == ["gate opened"]


async def _breaks_after_one_chunk(scope: Any, receive: Any, send: Any) -> None:
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"first", "more_body": True})
    raise ConnectionResetError("reset mid-stream")


def test_a_reset_mid_stream_is_a_read_error() -> None:
    transport = SyncASGITransport(_breaks_after_one_chunk)
    try:
        with (
            httpx.Client(transport=transport) as client,
            client.stream("GET", "http://127.0.0.1:9/") as response,
        ):
            pieces = response.iter_raw()
            assert next(pieces) == b"first"
            with pytest.raises(httpx.ReadError):
                next(pieces)
    finally:
        transport.close()

    async def run() -> None:
        transport = AsyncASGITransport(_breaks_after_one_chunk)
        async with (
            httpx.AsyncClient(transport=transport) as client,
            client.stream("GET", "http://127.0.0.1:9/") as response,
        ):
            pieces = response.aiter_raw()
            assert await anext(pieces) == b"first"
            with pytest.raises(httpx.ReadError):
                await anext(pieces)

    asyncio.run(run())


# --- faults and errors keep their shapes -----------------------------------------------------


def test_reset_fault_looks_like_no_response(emu: InProcessEmulator) -> None:
    with emu.faults("reset"), pytest.raises(httpx.RemoteProtocolError):
        emu.http_client.post("/chat/completions", json=BODY, headers=AUTH)
    ok = emu.http_client.post("/chat/completions", json=BODY, headers=AUTH)
    assert ok.status_code == 200


def test_429_is_retried_by_the_client_with_the_services_body(emu: InProcessEmulator) -> None:
    with emu.faults("429:0"):
        raw = emu.http_client.post("/chat/completions", json=BODY, headers=AUTH)
    assert raw.status_code == 429
    assert raw.json()["error"]["code"] == "Throttling.RateQuota"
    with emu.faults("429:0"):
        assert model(emu, max_retries=1).invoke("Hi").content.startswith("[emulator]")
    assert emu.request_count == 3  # the raw 429, then the client's 429 and its retry


def test_truncated_stream_is_an_error_for_the_client(emu: InProcessEmulator) -> None:
    with emu.faults("truncate"), pytest.raises(Exception, match=r"(?i)stream|truncat|DONE"):
        list(model(emu, max_retries=0).stream("Tell me a long story please"))


def test_stalls_time_out_at_the_models_timeout(emu: InProcessEmulator) -> None:
    # The emulator's stall lasts 30 s; the model's 0.3 s read timeout must end it, in every path.
    llm = model(emu, timeout=0.3, max_retries=0)
    started = time.monotonic()
    with emu.faults("stall"), pytest.raises(QwenVLTimeoutError):
        llm.invoke("Hi")
    with emu.faults("stall"), pytest.raises(QwenVLTimeoutError):
        asyncio.run(llm.ainvoke("Hi"))
    with emu.faults("stall-mid"), pytest.raises(QwenVLStreamError):
        list(llm.stream("Tell me a long story please"))

    async def astream_mid() -> None:
        async for _ in llm.astream("Tell me a long story please"):
            pass

    with emu.faults("stall-mid"), pytest.raises(QwenVLStreamError):
        asyncio.run(astream_mid())
    assert time.monotonic() - started < 10  # four read timeouts, not four 30 s stalls
    assert llm.invoke("Hi").content.startswith("[emulator]")  # the emulator still answers


def test_the_models_timeout_goes_on_each_request_only_when_set() -> None:
    seen: list[Any] = []
    answer = {"id": "c", "choices": [{"index": 0, "message": {"content": "ok"}}]}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=answer)

    client = httpx.Client(transport=httpx.MockTransport(handler), timeout=42.0)
    for kwargs in ({}, {"timeout": 0.3}):
        ChatQwenVL(api_key="sk-test", http_client=client, **kwargs).invoke("Hi")
    assert seen[0]["read"] == 42.0  # unset: the client's own
    assert seen[1]["read"] == 0.3


def test_a_bad_key_gets_the_401(emu: InProcessEmulator) -> None:
    response = emu.http_client.post(
        "/chat/completions", json=BODY, headers={"Authorization": "Bearer sk-bad"}
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_not_started_client_says_how_to_start() -> None:
    handle = in_process_emulator()
    with pytest.raises(RuntimeError, match="with in_process_emulator"):
        handle.http_client.post("/chat/completions", json=BODY)


# --- scripted replies through ChatQwenVL -------------------------------------------------------


def test_scripted_list_is_consumed_in_order_then_runs_out() -> None:
    replies: list[Any] = ["first", {"content": "second"}, None]
    with in_process_emulator(replies=replies) as emu:
        llm = model(emu, max_retries=0)
        assert [llm.invoke("q").content for _ in range(2)] == ["first", "second"]
        assert str(llm.invoke("q").content).startswith("[emulator] ")  # None: its own answer
        assert emu.replies_left == 0
        with pytest.raises(QwenVLBadRequestError, match="emulator_script_exhausted") as info:
            llm.invoke("q")
        assert "3 were given" in str(info.value)
        assert "request 4" in str(info.value)


def test_scripted_tool_call_streams_as_tool_call_deltas() -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "days": 3}},
    }
    with in_process_emulator(replies=[{"tool_calls": [call]}, {"tool_calls": [call]}]) as emu:
        llm = model(emu).bind_tools([_weather_tool()])
        message = llm.invoke("weather?")
        assert message.tool_calls == [
            {
                "name": "get_weather",
                "args": {"city": "Paris", "days": 3},
                "id": "call_1",
                "type": "tool_call",
            }
        ]
        assert message.response_metadata["finish_reason"] == "tool_calls"
        chunks = list(llm.stream("weather?"))
    fragments = [c.tool_call_chunks for c in chunks if c.tool_call_chunks]
    assert len(fragments) > 2  # the arguments arrive in several deltas, as from the service
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["args"] == {"city": "Paris", "days": 3}


def _weather_tool() -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }


def test_reply_function_sees_the_parsed_request() -> None:
    seen: list[Any] = []

    def reply(request: Any) -> str:
        seen.append(request)
        return f"{request.index}: {request.text} ({request.params['model']})"

    with in_process_emulator(replies=reply) as emu:
        llm = model(emu).bind_tools([_weather_tool()])
        assert llm.invoke("Hello there").content == "0: Hello there (qwen3-vl-flash)"
    assert seen[0].tool_names == ("get_weather",)
    assert seen[0].messages[-1].role == "user"


def test_scripted_usage_counts_the_scripted_text() -> None:
    with in_process_emulator(replies=["x" * 40]) as emu:
        response = emu.http_client.post("/chat/completions", json=BODY, headers=AUTH)
    body = response.json()
    assert body["choices"][0]["message"] == {"content": "x" * 40, "role": "assistant"}
    assert body["usage"]["completion_tokens"] == 10  # ceil(40 bytes / 4)
    assert body["choices"][0]["finish_reason"] == "stop"


def test_scripted_error_reply_has_the_services_shape() -> None:
    error = {"error": {"status": 400, "message": "<400> nope", "code": "invalid_parameter_error"}}
    with in_process_emulator(replies=[error]) as emu:
        response = emu.http_client.post("/chat/completions", json=BODY, headers=AUTH)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error", "id"}
    assert body["error"] == {
        "message": "<400> nope",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_parameter_error",
    }


def test_stream_of_a_scripted_reply_keeps_the_recorded_chunk_shape() -> None:
    body = {**BODY, "stream": True, "stream_options": {"include_usage": True}}
    with in_process_emulator(replies=["alpha beta"]) as emu:
        text = emu.http_client.post("/chat/completions", json=body, headers=AUTH).text
    events = [block[len("data: ") :] for block in text.strip().split("\n\n")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert [c["choices"][0]["delta"] for c in chunks[:-1]] == [
        {"content": "", "role": "assistant"},
        {"content": "alpha"},
        {"content": " beta"},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3


# --- scripted answers have the recorded shapes --------------------------------------------------


def _shape(value: Any) -> Any:
    """Keys and value types, recursively (lists by their first item)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def test_scripted_bodies_have_the_recorded_shapes(recorded: Any) -> None:
    nonstream = json.loads((recorded / "compat-nonstream-vl-multi-image.json").read_text())
    stream_text = (recorded / "compat-stream-text.sse").read_text()
    recorded_chunk = json.loads(stream_text.split("\n\n")[1][len("data: ") :])
    body = {**BODY, "stream": True}
    with in_process_emulator(replies=["A dog and a tiger.", "A dog and a tiger."]) as emu:
        answer = emu.http_client.post("/chat/completions", json=BODY, headers=AUTH).json()
        text = emu.http_client.post("/chat/completions", json=body, headers=AUTH).text
    del answer["usage"]["prompt_tokens_details"]  # a detail the recording's model did not send
    assert _shape(answer) == _shape(nonstream)
    chunk = json.loads(text.split("\n\n")[1][len("data: ") :])
    assert _shape(chunk) == _shape(recorded_chunk)
    assert text.endswith("data: [DONE]\n\n")


def test_max_tokens_and_stop_apply_to_scripted_text() -> None:
    with in_process_emulator(replies=["alpha beta gamma"] * 2) as emu:
        llm = model(emu)
        cut = llm.invoke("q", max_tokens=2)
        assert cut.content == "alpha be"  # 2 tokens of 4 bytes
        assert cut.response_metadata["finish_reason"] == "length"
        stopped = llm.invoke("q", stop=["gamma"])
        assert stopped.content == "alpha beta "
        assert stopped.response_metadata["finish_reason"] == "stop"
