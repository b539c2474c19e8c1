"""Streamed chunks: reasoning, text on the finish chunk, tool-call fragments, v1 indices."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessageChunk

from langchain_qwen_vl._wire.chat_completions import StreamAssembler


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "model": "qwen3-vl-flash",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }


def _merge(payloads: list[dict[str, Any]], **kwargs: Any) -> AIMessageChunk:
    assembler = StreamAssembler(**kwargs)
    merged: AIMessageChunk | None = None
    chunks = [assembler.feed(payload) for payload in payloads] + [assembler.finish()]
    for chunk in chunks:
        if chunk is None:
            continue
        message = chunk.message
        assert isinstance(message, AIMessageChunk)
        merged = message if merged is None else merged + message
    assert merged is not None
    return merged


def test_text_on_the_finish_chunk_is_kept() -> None:
    merged = _merge(
        [
            _chunk({"role": "assistant", "content": ""}),
            _chunk({"content": "Hel"}),
            _chunk({"content": "lo"}, finish="stop"),
        ]
    )
    assert merged.content == "Hello"
    assert merged.response_metadata["finish_reason"] == "stop"


def test_reasoning_then_content_stay_apart() -> None:
    merged = _merge(
        [
            _chunk({"role": "assistant", "content": None, "reasoning_content": "Think"}),
            _chunk({"content": None, "reasoning_content": "ing."}),
            _chunk({"content": "Answer"}, finish="stop"),
        ]
    )
    assert merged.content == "Answer"
    assert merged.additional_kwargs["reasoning_content"] == "Thinking."
    blocks = merged.content_blocks
    assert blocks[0] == {"type": "reasoning", "reasoning": "Thinking."}


def _tool_fragments(repeat_id: bool) -> list[dict[str, Any]]:
    def frag(index: int, call_id: str, name: str, args: str, first: bool) -> dict[str, Any]:
        fragment: dict[str, Any] = {"index": index, "function": {"arguments": args}}
        if first or repeat_id:
            fragment |= {"id": call_id, "type": "function"}
            fragment["function"]["name"] = name
        return fragment

    return [
        _chunk({"tool_calls": [frag(0, "call_a", "get_weather", '{"loc', True)]}),
        _chunk({"tool_calls": [frag(0, "call_a", "get_weather", 'ation": "Paris"}', False)]}),
        _chunk({"tool_calls": [frag(1, "call_b", "get_time", '{"city": ', True)]}),
        _chunk({"tool_calls": [frag(1, "call_b", "get_time", '"Rome"}', False)]}, "tool_calls"),
    ]


def test_parallel_tool_calls_merge_by_index() -> None:
    merged = _merge(_tool_fragments(repeat_id=False))
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]
    assert merged.tool_calls[0]["args"] == {"location": "Paris"}
    assert merged.tool_calls[1]["args"] == {"city": "Rome"}
    assert [c["id"] for c in merged.tool_calls] == ["call_a", "call_b"]


def test_servers_repeating_id_and_name_do_not_double_the_name() -> None:
    merged = _merge(_tool_fragments(repeat_id=True))
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]
    assert [c["id"] for c in merged.tool_calls] == ["call_a", "call_b"]
    assert merged.tool_calls[0]["args"] == {"location": "Paris"}


def test_v1_tool_call_indices_do_not_collide_with_reasoning_and_text() -> None:
    payloads = [
        _chunk({"reasoning_content": "I need the weather."}),
        _chunk({"content": "Let me check."}),
        *_tool_fragments(repeat_id=False),
    ]
    merged = _merge(payloads, output_version="v1")
    indices = [c["index"] for c in merged.tool_call_chunks]
    assert indices == [2, 3]
    assert all(isinstance(i, int) for i in indices)
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]


def test_usage_only_chunk_and_empty_keepalive() -> None:
    assembler = StreamAssembler()
    assert assembler.feed({"choices": [], "usage": None}) is None
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert assembler.feed({"choices": [], "usage": usage}) is None
    chunk = assembler.finish()  # the usage arrives on the last chunk
    assert chunk is not None
    assert chunk.message.chunk_position == "last"  # type: ignore[attr-defined]
    assert chunk.message.usage_metadata == {  # type: ignore[attr-defined]
        "input_tokens": 5,
        "output_tokens": 2,
        "total_tokens": 7,
    }


def test_finish_and_usage_events_make_one_last_chunk_and_the_opening_delta_none() -> None:
    assembler = StreamAssembler()
    usage = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
    assert assembler.feed(_chunk({"role": "assistant", "content": ""})) is None
    text = assembler.feed(_chunk({"content": "Hi"}))
    assert text is not None
    assert text.message.id == "chatcmpl-1"
    assert assembler.feed(_chunk({"content": ""}, finish="stop")) is None
    assert assembler.feed({"id": "chatcmpl-1", "choices": [], "usage": usage}) is None
    last = assembler.finish()
    assert last is not None
    message = last.message
    assert isinstance(message, AIMessageChunk)
    assert (message.content, message.chunk_position) == ("", "last")
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.usage_metadata == {"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}
    assert last.generation_info == {"finish_reason": "stop"}
    assert assembler.finish() is None  # nothing is sent twice


def test_metadata_held_before_more_content_rides_on_that_content() -> None:
    assembler = StreamAssembler()
    assert assembler.feed(_chunk({"content": ""}, finish="length")) is None
    chunk = assembler.feed(_chunk({"content": "late"}))
    assert chunk is not None
    assert chunk.message.response_metadata["finish_reason"] == "length"
    assert assembler.finish() is None


def test_a_stream_without_content_still_yields_one_last_chunk() -> None:
    assembler = StreamAssembler()
    assert assembler.feed(_chunk({"role": "assistant", "content": ""})) is None
    last = assembler.finish()
    assert last is not None
    assert last.message.content == ""
