"""The normalised request the emulated "model" answers, whichever shape it arrived in."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image of the request, in order, with its own pixel budget if the part set one."""

    url: str
    max_pixels: int | None = None
    min_pixels: int | None = None


@dataclass(frozen=True, slots=True)
class VideoRef:
    """A video as a list of frame URLs, or as one file URL."""

    frames: tuple[str, ...] | None
    url: str | None
    fps: float
    max_pixels: int | None = None  # the part's per-frame cap, if it set one


@dataclass(frozen=True, slots=True)
class Message:
    """A message reduced to what the emulator reads: role, text, tool calls and results."""

    role: str
    texts: tuple[str, ...]
    tool_calls: tuple[Mapping[str, Any], ...] = ()
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A request that passed every check that needs no I/O."""

    shape: Literal["chat_completions", "images_prompt"]
    model: str
    messages: tuple[Message, ...]
    images: tuple[ImageRef, ...]
    videos: tuple[VideoRef, ...] = ()
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()
    enable_thinking: bool = False
    thinking_budget: int | None = None
    vl_high_resolution_images: bool = False
    tools: tuple[Mapping[str, Any], ...] = ()
    tool_choice: str = "auto"  # "auto", "none" or "function"
    forced_tool: str | None = None
    parallel_tool_calls: bool = False
    response_format: Mapping[str, Any] | None = None

    @property
    def last_user_text(self) -> str:
        """The text of the last user message ('' when there is none)."""
        for message in reversed(self.messages):
            if message.role == "user":
                return " ".join(t for t in message.texts if t.strip())
        return ""

    @property
    def tool_results(self) -> tuple[str, ...]:
        """Contents of the tool messages that end the conversation (empty if it ends otherwise)."""
        results: list[str] = []
        for message in reversed(self.messages):
            if message.role != "tool":
                break
            results.append(" ".join(message.texts))
        return tuple(reversed(results))

    @property
    def prompt_texts(self) -> tuple[str, ...]:
        """Every piece of text the prompt-token estimate counts, tool definitions included."""
        texts = [text for message in self.messages for text in message.texts]
        for message in self.messages:
            for call in message.tool_calls:
                function = call.get("function") or {}
                texts.append(str(function.get("name", "")) + str(function.get("arguments", "")))
        if self.tools:
            texts.append(json.dumps(list(self.tools), ensure_ascii=False, separators=(",", ":")))
        return tuple(texts)
