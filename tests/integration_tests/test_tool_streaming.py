"""Streamed tool calls against the emulator: fragments, repeated ids, v1 blocks with reasoning."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import EmulatorHandle


@tool
def get_weather(location: str) -> str:
    """Get the weather at a location."""
    return f"Sunny in {location}."


@tool
def get_time(city: str) -> str:
    """Get the local time in a city."""
    return f"Noon in {city}."


def _merged(llm: Any, text: str) -> AIMessageChunk:
    merged: AIMessageChunk | None = None
    for chunk in llm.stream([HumanMessage(text)]):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    return merged


@pytest.mark.parametrize("fault", [None, "repeat-id"])
def test_parallel_streamed_calls_merge_cleanly(emulator: EmulatorHandle, fault: str | None) -> None:
    headers = {"X-Emulator-Fault": fault} if fault else None
    llm = ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url, default_headers=headers)
    bound = llm.bind_tools([get_weather, get_time], parallel_tool_calls=True)
    merged = _merged(bound, "Use get_weather for Paris and get_time for Rome.")
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]
    # The emulator fills string arguments from capitalised words of the prompt.
    assert merged.tool_calls[0]["args"] == {"location": "Paris"}
    assert list(merged.tool_calls[1]["args"]) == ["city"]
    assert merged.tool_calls[1]["args"]["city"] in ("Paris", "Rome")
    assert all(c["id"] for c in merged.tool_calls)
    assert merged.response_metadata["finish_reason"] == "tool_calls"


def test_v1_stream_keeps_reasoning_and_every_tool_call(emulator: EmulatorHandle) -> None:
    llm = ChatQwenVL(
        api_key="sk-emulator",
        base_url=emulator.base_url,
        enable_thinking=True,
        output_version="v1",
    )
    bound = llm.bind_tools([get_weather, get_time], parallel_tool_calls=True)
    merged = _merged(bound, "Use get_weather for Paris and get_time for Rome.")
    types = [block["type"] for block in merged.content_blocks]
    assert types[0] == "reasoning"
    assert types.count("tool_call") == 2, types
    calls = [b for b in merged.content_blocks if b["type"] == "tool_call"]
    assert [c["name"] for c in calls] == ["get_weather", "get_time"]
    assert [c["name"] for c in merged.tool_calls] == ["get_weather", "get_time"]
