"""DashScope's OpenAI-compatible chat completions: pure mapping functions.

``messages_to_wire`` builds the ``messages`` array; ``result_from_response`` and
:class:`StreamAssembler` turn response bodies and SSE chunks back into LangChain messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.ai import (
    InputTokenDetails,
    OutputTokenDetails,
    UsageMetadata,
    add_usage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from langchain_qwen_vl._wire._content import (
    ImagePart,
    Part,
    PreparedMessage,
    TextPart,
    text_of,
)
from langchain_qwen_vl.errors import QwenVLInputError, QwenVLResponseError

MODEL_PROVIDER = "qwen"

_ROLE_BY_CHAT_MESSAGE = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}


# --- request ---------------------------------------------------------------------------


def part_to_wire(part: Part) -> dict[str, Any]:
    """One prepared content part as the service takes it."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        wire: dict[str, Any] = {"type": "image_url", "image_url": {"url": part.image.url}}
        # The service documents the per-image budget as a sibling of image_url, not inside it.
        if part.budget.max_pixels is not None:
            wire["max_pixels"] = part.budget.max_pixels
        if part.budget.min_pixels is not None:
            wire["min_pixels"] = part.budget.min_pixels
        return wire
    if part.frames is not None:
        wire = {"type": "video", "video": [frame.url for frame in part.frames]}
    else:
        wire = {"type": "video_url", "video_url": {"url": part.url}}
    if part.fps is not None:
        wire["fps"] = part.fps
    if part.max_pixels is not None:  # beside the part, as the service documents it
        wire["max_pixels"] = part.max_pixels
    return wire


def _user_content(parts: Sequence[Part]) -> str | list[dict[str, Any]]:
    if all(isinstance(p, TextPart) for p in parts):
        return text_of(parts)
    return [part_to_wire(p) for p in parts]


def _tool_calls_to_wire(message: AIMessage) -> list[dict[str, Any]]:
    calls = [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["args"], ensure_ascii=False),
            },
        }
        for call in message.tool_calls
    ]
    calls += [
        {
            "id": call.get("id"),
            "type": "function",
            "function": {"name": call.get("name") or "", "arguments": call.get("args") or ""},
        }
        for call in message.invalid_tool_calls
    ]
    return calls


def _tool_result_text(parts: Sequence[Part], moved_images: int) -> str:
    text = text_of(parts)
    if moved_images:
        note = f"[{moved_images} image(s) returned by this tool follow in the next user message]"
        text = f"{text}\n{note}" if text else note
    return text


def messages_to_wire(prepared: Sequence[PreparedMessage]) -> list[dict[str, Any]]:
    """Build the ``messages`` array of an OpenAI-compatible request.

    Images returned by a tool (image blocks in a ``ToolMessage``) cannot travel in a ``tool``
    role message on DashScope's compatible mode, so they are moved into one ``user`` message
    placed right after the run of tool messages, labelled with the tool call ids; the tool
    message itself says that the images follow.

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> messages_to_wire([PreparedMessage(HumanMessage("hi"), (TextPart("hi"),))])
        [{'role': 'user', 'content': 'hi'}]
    """
    wire: list[dict[str, Any]] = []
    pending_tool_images: list[tuple[str, list[Part]]] = []  # (tool_call_id, its images)

    def flush_tool_images() -> None:
        if not pending_tool_images:
            return
        content: list[dict[str, Any]] = []
        for call_id, media_parts in pending_tool_images:
            content.append({"type": "text", "text": f"Image(s) returned by tool call {call_id}:"})
            content.extend(part_to_wire(p) for p in media_parts)
        wire.append({"role": "user", "content": content})
        pending_tool_images.clear()

    for index, item in enumerate(prepared):
        message, parts = item.message, item.parts
        if not isinstance(message, ToolMessage):
            flush_tool_images()
        if isinstance(message, SystemMessage):
            wire.append({"role": "system", "content": text_of(parts)})
        elif isinstance(message, HumanMessage):
            wire.append({"role": "user", "content": _user_content(parts)})
        elif isinstance(message, AIMessage):
            entry: dict[str, Any] = {"role": "assistant", "content": text_of(parts)}
            if message.tool_calls or message.invalid_tool_calls:
                entry["tool_calls"] = _tool_calls_to_wire(message)
            wire.append(entry)
        elif isinstance(message, ToolMessage):
            media_parts: list[Part] = [p for p in parts if not isinstance(p, TextPart)]
            if media_parts:
                pending_tool_images.append((message.tool_call_id, media_parts))
            wire.append(
                {
                    "role": "tool",
                    "content": _tool_result_text(parts, len(media_parts)),
                    "tool_call_id": message.tool_call_id,
                }
            )
        elif isinstance(message, ChatMessage) and message.role in _ROLE_BY_CHAT_MESSAGE:
            role = _ROLE_BY_CHAT_MESSAGE[message.role]
            wire.append(
                {
                    "role": role,
                    "content": _user_content(parts) if role == "user" else text_of(parts),
                }
            )
        elif isinstance(message, ChatMessage) and message.role == "system":
            wire.append({"role": "system", "content": text_of(parts)})
        else:
            raise QwenVLInputError(
                f"messages[{index}]: unsupported message type {type(message).__name__}"
                f"{' with role ' + repr(message.role) if isinstance(message, ChatMessage) else ''}"
                " — use SystemMessage, HumanMessage, AIMessage or ToolMessage."
            )
    flush_tool_images()
    if not wire:
        raise QwenVLInputError("messages: the conversation is empty — pass at least one message.")
    return wire


# --- response --------------------------------------------------------------------------


def _token_count(value: Any, key: str) -> int:
    """A token count from the answer: a non-negative whole number, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"usage {key}={value!r} is not a number")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"usage {key}={value!r} is not a whole number")
    if value < 0:
        raise ValueError(f"usage {key}={value!r} is negative")
    return int(value)


def usage_metadata_from_usage(usage: Mapping[str, Any]) -> UsageMetadata:
    """Map the service's ``usage`` object to LangChain's ``UsageMetadata``.

    Any detail key may be missing (the service omits some); only the ones sent are reported.
    Reasoning tokens are already counted inside ``completion_tokens``.

    Example:
        >>> usage_metadata_from_usage({"prompt_tokens": 3, "completion_tokens": 2,
        ...                            "total_tokens": 5})["total_tokens"]
        5
    """
    input_tokens = _token_count(usage.get("prompt_tokens") or 0, "prompt_tokens")
    output_tokens = _token_count(usage.get("completion_tokens") or 0, "completion_tokens")
    total = usage.get("total_tokens") or input_tokens + output_tokens
    metadata: UsageMetadata = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": _token_count(total, "total_tokens"),
    }
    prompt_details = usage.get("prompt_tokens_details") or {}
    input_details: dict[str, int] = {}
    if prompt_details.get("cached_tokens") is not None:
        input_details["cache_read"] = _token_count(prompt_details["cached_tokens"], "cached_tokens")
    for wire_key, key in (
        ("text_tokens", "text"),
        ("image_tokens", "image"),
        ("video_tokens", "video"),
    ):
        if prompt_details.get(wire_key) is not None:
            input_details[key] = _token_count(prompt_details[wire_key], wire_key)
    if input_details:
        metadata["input_token_details"] = InputTokenDetails(**input_details)  # type: ignore[typeddict-item]
    completion_details = usage.get("completion_tokens_details") or {}
    if completion_details.get("reasoning_tokens") is not None:
        metadata["output_token_details"] = OutputTokenDetails(
            reasoning=_token_count(completion_details["reasoning_tokens"], "reasoning_tokens")
        )
    return metadata


def _parse_tool_calls(raw_calls: Sequence[Mapping[str, Any]]) -> tuple[list[Any], list[Any]]:
    if not raw_calls:
        return [], []
    # Imported here: the output parsers package is slow to import and most answers have no calls.
    from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call

    tool_calls: list[Any] = []
    invalid: list[Any] = []
    for raw in raw_calls:
        try:
            parsed = parse_tool_call(dict(raw), return_id=True)
        except Exception as error:
            invalid.append(make_invalid_tool_call(dict(raw), str(error)))
            continue
        if parsed is not None:
            tool_calls.append(parsed)
    return tool_calls, invalid


def _response_metadata(body: Mapping[str, Any], finish_reason: Any) -> dict[str, Any]:
    return {
        "id": body.get("id"),
        "model_name": body.get("model"),
        "finish_reason": finish_reason,
        "system_fingerprint": body.get("system_fingerprint"),
        "created": body.get("created"),
        "model_provider": MODEL_PROVIDER,
    }


def result_from_response(body: Mapping[str, Any]) -> ChatResult:
    """Turn a non-streamed chat completion body into a ``ChatResult``.

    Example:
        >>> result_from_response({"id": "x", "model": "m", "choices": [{"index": 0,
        ...     "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}]}
        ... ).generations[0].message.content
        'hi'
    """
    choices = body.get("choices") or []
    if not choices:
        raise QwenVLResponseError(
            "Qwen-VL answered 200 with no `choices`; not retried (the call may be billed).",
            status_code=200,
            code="malformed_response",
            request_id=body.get("id") if isinstance(body.get("id"), str) else None,
            body=dict(body),
        )
    usage = body.get("usage")
    usage_metadata = usage_metadata_from_usage(usage) if usage else None
    generations = []
    for choice in choices:
        raw = choice.get("message") or {}
        additional_kwargs: dict[str, Any] = {}
        reasoning = raw.get("reasoning_content")
        if reasoning:
            additional_kwargs["reasoning_content"] = reasoning
        # Only non-empty fields: each one given costs validation on every call.
        fields: dict[str, Any] = {}
        if additional_kwargs:
            fields["additional_kwargs"] = additional_kwargs
        raw_calls = raw.get("tool_calls")
        if raw_calls:
            fields["tool_calls"], fields["invalid_tool_calls"] = _parse_tool_calls(raw_calls)
        if usage_metadata is not None:
            fields["usage_metadata"] = usage_metadata
        message = AIMessage(
            content=raw.get("content") or "",
            response_metadata=_response_metadata(body, choice.get("finish_reason")),
            id=body.get("id"),
            **fields,
        )
        generations.append(
            ChatGeneration(
                message=message, generation_info={"finish_reason": choice.get("finish_reason")}
            )
        )
    return ChatResult(
        generations=generations,
        llm_output={"model_name": body.get("model"), "id": body.get("id")},
    )


class StreamAssembler:
    """Turns the SSE chunks of one stream into ``ChatGenerationChunk`` objects.

    It holds the little state a stream needs:
    - an event that carries no content (the opening role-only delta, the finish reason, the
      usage) makes no chunk of its own: its metadata is held and sent on the next content
      chunk or, by :meth:`finish`, as one last chunk marked ``chunk_position="last"`` (as
      langchain-openai marks its final chunk). A Qwen stream so yields one chunk per piece
      of text plus one, instead of three more that carry nothing to show;
    - string metadata (``model_name``, ``finish_reason``) goes on exactly one chunk, because
      LangChain concatenates strings when chunks merge;
    - servers that repeat a tool call's ``id`` and ``name`` on every fragment would otherwise
      merge into a doubled name, so repeats are dropped;
    - with ``output_version="v1"`` LangChain numbers streamed blocks (reasoning 0, text 1, ...)
      and a tool-call chunk whose wire ``index`` collides with one of those is merged into it
      and lost, so tool-call indices are offset past the blocks already streamed.

    Example:
        >>> assembler = StreamAssembler()
        >>> chunk = assembler.feed({"id": "c", "model": "m", "choices": [{"index": 0,
        ...     "delta": {"content": "Hi"}, "finish_reason": "stop"}]})
        >>> chunk.message.content, chunk.message.response_metadata["finish_reason"]
        ('Hi', 'stop')
        >>> assembler.feed({"id": "c", "choices": [], "usage": {"prompt_tokens": 3,
        ...     "completion_tokens": 1, "total_tokens": 4}}) is None
        True
        >>> last = assembler.finish()
        >>> last.message.usage_metadata["total_tokens"], last.message.chunk_position
        (4, 'last')
    """

    def __init__(self, *, output_version: str | None = None) -> None:
        self._offset_tool_indices = output_version == "v1"
        self._seen_reasoning = False
        self._seen_text = False
        self._tool_index_offset: int | None = None
        self._announced_tool_calls: set[int] = set()
        self._held: dict[str, Any] = {}  # metadata of events that carried no content
        self._emitted = False
        self._id: str | None = None
        self.finish_reason: str | None = None
        self.saw_usage = False

    def _tool_call_chunks(self, raw_calls: Sequence[Mapping[str, Any]]) -> list[Any]:
        if self._tool_index_offset is None:
            self._tool_index_offset = (
                int(self._seen_reasoning) + int(self._seen_text) if self._offset_tool_indices else 0
            )
        chunks = []
        for position, raw in enumerate(raw_calls):
            wire_index = raw.get("index")
            index = int(wire_index) if wire_index is not None else position
            function = raw.get("function") or {}
            call_id, name = raw.get("id"), function.get("name")
            if index in self._announced_tool_calls:
                call_id, name = None, None  # repeated on every fragment by some servers
            elif call_id or name:
                self._announced_tool_calls.add(index)
            chunks.append(
                tool_call_chunk(
                    name=name or None,
                    args=function.get("arguments") or None,
                    id=call_id or None,
                    index=index + self._tool_index_offset,
                )
            )
        return chunks

    def _hold(
        self,
        payload: Mapping[str, Any],
        finish_reason: str | None,
        usage_metadata: UsageMetadata | None,
    ) -> None:
        held = self._held
        if finish_reason:
            self.finish_reason = finish_reason
            held["response_metadata"] = {
                "model_name": payload.get("model"),
                "finish_reason": finish_reason,
                "system_fingerprint": payload.get("system_fingerprint"),
            }
        if usage_metadata is not None:
            self.saw_usage = True
            prior = held.get("usage_metadata")
            held["usage_metadata"] = (
                usage_metadata if prior is None else add_usage(prior, usage_metadata)
            )

    def feed(self, payload: Mapping[str, Any]) -> ChatGenerationChunk | None:
        """Convert one decoded SSE ``data:`` payload; ``None`` when it carries no content
        (its metadata is held for the next chunk or :meth:`finish`)."""
        choices = payload.get("choices") or []
        usage = payload.get("usage")
        usage_metadata = usage_metadata_from_usage(usage) if usage else None
        choice = choices[0] if choices else {}
        delta = choice.get("delta") or {}
        finish_reason = choice.get("finish_reason")
        self._id = payload.get("id") or self._id
        if finish_reason or usage_metadata is not None:
            self._hold(payload, finish_reason, usage_metadata)
        reasoning = delta.get("reasoning_content")
        text = delta.get("content") or ""
        raw_calls = delta.get("tool_calls")
        if not (text or reasoning or raw_calls):
            return None
        fields: dict[str, Any] = {}  # only non-empty fields: each one costs validation
        if reasoning:
            fields["additional_kwargs"] = {"reasoning_content": reasoning}
            self._seen_reasoning = True
        if text:
            self._seen_text = True
        if raw_calls:
            fields["tool_call_chunks"] = self._tool_call_chunks(raw_calls)
        return self._chunk(text, fields)

    def finish(self) -> ChatGenerationChunk | None:
        """After the last event: the held metadata as the stream's last chunk, or ``None``
        when there is none left (a stream that sent no content still yields one chunk)."""
        if not self._held and self._emitted:
            return None  # nothing held: LangChain adds its own empty last chunk
        return self._chunk("", {"chunk_position": "last"})

    def _chunk(self, text: str, fields: dict[str, Any]) -> ChatGenerationChunk:
        self._emitted = True
        response_metadata: dict[str, Any] = {"model_provider": MODEL_PROVIDER}
        generation_info = None
        held = self._held
        if held:
            self._held = {}
            if "response_metadata" in held:
                response_metadata |= held["response_metadata"]
                generation_info = {"finish_reason": held["response_metadata"]["finish_reason"]}
            if "usage_metadata" in held:
                fields["usage_metadata"] = held["usage_metadata"]
        message = AIMessageChunk(
            content=text, response_metadata=response_metadata, id=self._id, **fields
        )
        return ChatGenerationChunk(message=message, generation_info=generation_info)
