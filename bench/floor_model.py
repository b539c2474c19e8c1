"""The "floor" chat model: the least a BaseChatModel can do per call on httpx.

``_generate`` is one raw httpx POST of a fixed body + ``json.loads`` + an ``AIMessage``;
``_stream`` turns each SSE ``data:`` line into a chunk. No message conversion, no validation, no
retries, no error mapping: what langchain-core plus httpx cost by themselves, so that a real
model's ratio to it is the price of everything the real model does.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict


class FloorChatModel(BaseChatModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    url: str
    headers: dict[str, str]
    body: bytes
    stream_body: bytes
    client: httpx.Client
    aclient: httpx.AsyncClient

    @property
    def _llm_type(self) -> str:
        return "floor"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        response = self.client.post(self.url, content=self.body, headers=self.headers)
        return _result(json.loads(response.content))

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        response = await self.aclient.post(self.url, content=self.body, headers=self.headers)
        return _result(json.loads(response.content))

    def _stream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> Iterator[ChatGenerationChunk]:
        with self.client.stream(
            "POST", self.url, content=self.stream_body, headers=self.headers
        ) as response:
            for line in response.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield _chunk(json.loads(line[6:]))

    async def _astream(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        async with self.aclient.stream(
            "POST", self.url, content=self.stream_body, headers=self.headers
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    yield _chunk(json.loads(line[6:]))


def _result(body: dict[str, Any]) -> ChatResult:
    message = AIMessage(content=body["choices"][0]["message"].get("content") or "")
    return ChatResult(generations=[ChatGeneration(message=message)])


def _chunk(payload: dict[str, Any]) -> ChatGenerationChunk:
    choices = payload.get("choices") or [{}]
    text = (choices[0].get("delta") or {}).get("content") or ""
    return ChatGenerationChunk(message=AIMessageChunk(content=text))
