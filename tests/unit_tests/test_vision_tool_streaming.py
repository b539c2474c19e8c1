"""The vision tool's own model stays out of an agent's ``stream_mode="messages"`` stream."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessageChunk, HumanMessage

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import in_process_emulator
from langchain_qwen_vl.tools import QwenVLTool

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
QUESTION = "Is there a car in examples/assets/scene.jpg?"


def _streamed_by_node(llm_tags: tuple[str, ...] | None, *, use_async: bool = False) -> Any:
    with in_process_emulator() as emu:
        llm = ChatQwenVL(
            api_key="sk-test",
            base_url=emu.base_url,
            http_client=emu.http_client,
            http_async_client=emu.http_async_client,
        )
        options: dict[str, Any] = {} if llm_tags is None else {"llm_tags": llm_tags}
        look = QwenVLTool(llm=llm, allowed_dirs=[ASSETS], **options)
        agent = create_agent(llm, tools=[look])
        counts: dict[str, int] = {}
        inputs = {"messages": [HumanMessage(QUESTION)]}
        if use_async:
            import asyncio

            async def collect() -> list[Any]:
                return [item async for item in agent.astream(inputs, stream_mode="messages")]

            items = asyncio.run(collect())
        else:
            items = list(agent.stream(inputs, stream_mode="messages"))
        for message, metadata in items:
            if isinstance(message, AIMessageChunk) and message.content:
                node = metadata["langgraph_node"]
                counts[node] = counts.get(node, 0) + 1
        assert len([r for r in emu.requests if "tools" not in r]) == 1  # the tool did look
        return counts


@pytest.mark.parametrize("use_async", [False, True])
def test_tool_model_tokens_do_not_stream_as_the_agents(use_async: bool) -> None:
    counts = _streamed_by_node(None, use_async=use_async)
    assert counts.get("tools", 0) == 0
    assert counts.get("model", 0) > 0  # the agent's own answer still streams


def test_llm_tags_empty_lets_them_through() -> None:
    assert _streamed_by_node(())["tools"] > 5
