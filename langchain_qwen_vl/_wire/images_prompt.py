"""The documented images + prompt request (model, images, prompt): pure mapping functions.

This shape has no roles, no tools and no streaming flag. Every image of the conversation goes
into ``images`` in order; all text is folded into ``prompt``. A single user turn is sent as its
text alone; a multi-turn conversation is folded with role labels, and each image is marked
``[image N]`` where it stood so the model can tell which image the text refers to.
The response is an ordinary chat completion and is parsed by the chat-completions module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from langchain_qwen_vl._params import short
from langchain_qwen_vl._wire._content import (
    ImagePart,
    Part,
    PreparedMessage,
    TextPart,
)
from langchain_qwen_vl.errors import QwenVLUnsupportedFeatureError

#: Every optional field the images + prompt request documents; nothing else is ever sent.
DOCUMENTED_OPTIONAL_FIELDS = (
    "temperature",
    "top_p",
    "max_tokens",
    "vl_high_resolution_images",
    "enable_thinking",
    "thinking_budget",
)

_OTHER_FORMAT = "use wire_format='chat_completions', which supports it"


def _role_label(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "System"
    if isinstance(message, HumanMessage):
        return "User"
    if isinstance(message, AIMessage):
        return "Assistant"
    if isinstance(message, ChatMessage):
        return message.role.capitalize()
    return type(message).__name__


def _fold(parts: Sequence[Part], first_image_number: int, *, mark_images: bool) -> str:
    pieces: list[str] = []
    number = first_image_number
    for part in parts:
        if isinstance(part, TextPart):
            pieces.append(part.text)
        elif isinstance(part, ImagePart):
            if mark_images:
                pieces.append(f"[image {number}]")
            number += 1
    return "\n".join(pieces)


def refuse_undocumented(params: Mapping[str, Any]) -> None:
    """Raise for any set parameter the images + prompt request does not document (never sent).

    ``max_pixels`` is not here: it is honoured by downscaling on the client instead.

    Example:
        >>> refuse_undocumented({"seed": None, "stop": []})  # unset: fine
    """
    for field, value in params.items():
        if value is not None and value != [] and value is not False:
            raise QwenVLUnsupportedFeatureError(
                f"{field}={short(value)}: the images_prompt wire format does not document this "
                f"field, so it is never sent — use wire_format='chat_completions' for {field}."
            )


def check_expressible(messages: Sequence[BaseMessage]) -> None:
    """Raise for what this shape cannot express, before any image is prepared: tool calls and
    tool results (it has no roles or tools) and video (it has no video field)."""
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if isinstance(message, ToolMessage) or (
            isinstance(message, AIMessage) and (message.tool_calls or message.invalid_tool_calls)
        ):
            raise QwenVLUnsupportedFeatureError(
                f"{where}: tool calls and tool results cannot be expressed in the images_prompt "
                f"wire format (it has no roles or tools) — {_OTHER_FORMAT}."
            )
        content = message.content
        if not isinstance(content, str) and any(
            isinstance(item, Mapping)
            and (
                item.get("type") in ("video", "video_url")
                or (item.get("type") is None and "video" in item)
            )
            for item in content
        ):
            raise QwenVLUnsupportedFeatureError(
                f"{where}: video input cannot be expressed in the images_prompt wire format "
                f"— {_OTHER_FORMAT}."
            )


def build_request(
    prepared: Sequence[PreparedMessage],
    *,
    model: str,
    params: Mapping[str, Any],
) -> dict[str, Any]:
    """Build the images + prompt body; ``params`` holds the optional fields set (None = unset).

    Raises :class:`QwenVLUnsupportedFeatureError` for a conversation without images. Tool
    calls, tool results and video are refused by :func:`check_expressible`, which the caller
    runs on the messages before preparing them (so nothing is read or decoded in vain).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> from langchain_qwen_vl import media
        >>> msgs = [HumanMessage(content=[{"type": "text", "text": "What?"},
        ...     {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}])]
        >>> prepared = media.prepare_messages(msgs, media.MediaOptions(),
        ...                                   media.LocalFilePolicy(None))
        >>> build_request(prepared, model="qwen3-vl-flash", params={"temperature": None})
        {'model': 'qwen3-vl-flash', 'images': ['https://x.test/a.png'], 'prompt': 'What?'}
    """
    messages = [item.message for item in prepared]
    parts_by_message: list[Sequence[Part]] = [item.parts for item in prepared]

    images = [p.image.url for parts in parts_by_message for p in parts if isinstance(p, ImagePart)]
    if not images:
        raise QwenVLUnsupportedFeatureError(
            "images: the images_prompt wire format requires at least one image and this "
            f"conversation has none — add an image, or {_OTHER_FORMAT} for text-only requests."
        )
    single_turn = len(messages) == 1 and isinstance(messages[0], HumanMessage)
    if single_turn:
        prompt = _fold(parts_by_message[0], 1, mark_images=False)
    else:
        sections = []
        number = 1
        for message, parts in zip(messages, parts_by_message, strict=True):
            sections.append(f"{_role_label(message)}: {_fold(parts, number, mark_images=True)}")
            number += sum(1 for p in parts if isinstance(p, ImagePart))
        prompt = "\n\n".join(sections)
    if not prompt.strip():
        raise QwenVLUnsupportedFeatureError(
            "prompt: the images_prompt wire format requires a non-empty prompt — add a text part "
            "with the question or instruction."
        )
    body: dict[str, Any] = {"model": model, "images": images, "prompt": prompt}
    for field in DOCUMENTED_OPTIONAL_FIELDS:
        value = params.get(field)
        if value is not None:
            body[field] = value
    return body
