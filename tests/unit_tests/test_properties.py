"""Property-based: random answers, random SSE bodies and random messages.

Whatever the service sends, parsing yields a valid message or raises our documented error
(a ``QwenVLError``), never another exception; whatever text a user sends, the payload builder
produces a JSON body carrying that text, or refuses with ``QwenVLInputError``.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage

from langchain_qwen_vl import ChatQwenVL, _parse_guard, _transport
from langchain_qwen_vl._transport import Endpoint, RetryPolicy
from langchain_qwen_vl._wire.chat_completions import StreamAssembler
from langchain_qwen_vl.errors import QwenVLError, QwenVLInputError

FAST = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENDPOINT = Endpoint(url="https://dashscope.test/v1/chat/completions", headers={}, base_url="x")

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Values that look like answers often enough to get past the first checks.
KEYS = ("content", "reasoning_content", "tool_calls", "role", "function", "index", "id")
near_message = st.dictionaries(st.sampled_from(KEYS), json_value, max_size=4)
near_choice = st.fixed_dictionaries(
    {},
    optional={
        "message": near_message | json_value,
        "delta": near_message | json_value,
        "finish_reason": st.sampled_from(["stop", "length", None]) | json_value,
        "index": st.integers(0, 3) | json_value,
    },
)
near_usage = st.dictionaries(
    st.sampled_from(
        ["prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details"]
    ),
    st.integers(0, 10**6) | json_value,
    max_size=4,
)
near_answer = st.fixed_dictionaries(
    {"choices": st.lists(near_choice | json_value, max_size=3) | json_value},
    optional={
        "id": st.text(max_size=12) | json_value,
        "usage": near_usage | json_value,
        "model": st.text(max_size=8),
    },
)


@FAST
@given(near_answer | st.dictionaries(st.text(max_size=8), json_value, max_size=4))
@example({"choices": [{"message": {"content": "x"}}], "usage": {"completion_tokens": float("inf")}})
def test_any_answer_parses_or_raises_our_error(body: dict[str, Any]) -> None:
    try:
        result = _parse_guard.parse_result(body)
    except QwenVLError:
        return
    assert isinstance(result.generations[0].message, AIMessage)


@FAST
@given(st.lists(near_answer | st.dictionaries(st.text(max_size=8), json_value), max_size=6))
# Found by a CI run: a count of Infinity (Python's json accepts it) raised OverflowError.
@example([{"choices": [], "id": "", "usage": {"prompt_tokens": float("inf")}}])
def test_any_chunk_sequence_assembles_or_raises_our_error(payloads: list[dict[str, Any]]) -> None:
    assembler = StreamAssembler()
    merged: AIMessageChunk | None = None
    try:
        for payload in payloads:
            chunk = _parse_guard.feed(assembler, payload)
            if chunk is not None:
                assert isinstance(chunk.message, AIMessageChunk)
                merged = chunk.message if merged is None else merged + chunk.message
    except QwenVLError:
        return
    if merged is not None:
        assert isinstance(merged.content, str | list)


sse_line = (
    st.sampled_from(["", "data: [DONE]", ": ping", "event: error", "id: 3", "retry: 10"])
    | near_answer.map(lambda answer: "data: " + json.dumps(answer))
    | st.text(max_size=30).map(lambda text: "data: " + text)
    | st.text(max_size=30)
)


@FAST
@given(st.lists(sse_line, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_any_sse_body_streams_or_raises_our_error(lines: list[str], newline: str) -> None:
    raw = newline.join(lines).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=raw, headers={"content-type": "text/event-stream"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    assembler = StreamAssembler()
    try:
        for payload in _transport.stream_events(client, ENDPOINT, b"{}", RetryPolicy(0)):
            assert isinstance(payload, dict)
            _parse_guard.feed(assembler, payload)
    except QwenVLError:
        return


text_block = st.text().map(lambda text: {"type": "text", "text": text})
odd_block = st.dictionaries(st.sampled_from(["type", "text", "mime_type"]), st.text(max_size=6))
content = st.text() | st.lists(st.text() | text_block | odd_block, max_size=5)


@FAST
@given(st.lists(content, min_size=1, max_size=3), st.booleans())
def test_any_text_content_builds_a_body_or_is_refused(
    contents: list[Any], with_system: bool
) -> None:
    llm = ChatQwenVL(api_key="sk-test", base_url="https://dashscope.test/v1")
    messages: list[Any] = [HumanMessage(content=c) for c in contents]
    if with_system:
        messages.insert(0, SystemMessage(content="be brief ☃"))
    try:
        payload = llm._build_payload(messages)
    except QwenVLInputError:
        return
    decoded = json.loads(llm._encode(payload))
    sent = json.dumps(decoded["messages"], ensure_ascii=False)
    for item in contents:
        pieces = [item] if isinstance(item, str) else item
        for piece in pieces:
            text = piece if isinstance(piece, str) else piece.get("text")
            if isinstance(text, str) and (isinstance(piece, str) or piece.get("type") == "text"):
                assert json.dumps(text, ensure_ascii=False)[1:-1] in sent
