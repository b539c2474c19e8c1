"""An :class:`Answer` on the wire: the non-stream body and the SSE chunks, as recorded.

Shapes follow bodies recorded from the service (a non-stream multi-image answer and a text
stream): ``choices`` first, ``logprobs: null`` in each choice,
``system_fingerprint: null``, the same ``id``/``created``/``model`` on every chunk, a first chunk
with the role and empty content, and ``usage: null`` on every chunk but the optional usage
chunk ``{"choices": [], "usage": {...}}``. One deliberate difference from that recording, seen in
other live streams: the chunk that carries ``finish_reason`` also carries the last piece of
text (or of tool-call arguments), so clients must keep it.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_qwen_vl.emulator._answers import Answer, split_pieces
from langchain_qwen_vl.emulator._tools import ToolCall

#: Characters of tool-call arguments per streamed fragment.
ARGUMENT_FRAGMENT_CHARS = 12


def dumps(value: Any) -> str:
    """Compact JSON with non-ASCII kept, as the service writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _tool_call_wire(call: ToolCall, index: int) -> dict[str, Any]:
    return {
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    }


def completion_body(
    answer: Answer, *, completion_id: str, created: int, model: str
) -> dict[str, Any]:
    """The non-stream ``chat.completion`` body."""
    message: dict[str, Any] = {"content": answer.content, "role": "assistant"}
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    if answer.tool_calls:
        message["tool_calls"] = [_tool_call_wire(c, i) for i, c in enumerate(answer.tool_calls)]
    return {
        "choices": [
            {
                "message": message,
                "finish_reason": answer.finish_reason,
                "index": 0,
                "logprobs": None,
            }
        ],
        "object": "chat.completion",
        "usage": answer.usage(),
        "created": created,
        "system_fingerprint": None,
        "model": model,
        "id": completion_id,
    }


def _argument_fragments(arguments: str) -> list[str]:
    step = ARGUMENT_FRAGMENT_CHARS
    return [arguments[i : i + step] for i in range(0, len(arguments), step)] or [""]


def _tool_deltas(calls: tuple[ToolCall, ...], *, repeat_ids: bool) -> list[dict[str, Any]]:
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        head = {"index": index, "id": call.id, "type": "function"}
        deltas.append({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        for piece in _argument_fragments(call.arguments):
            fragment: dict[str, Any] = {"index": index, "function": {"arguments": piece}}
            if repeat_ids:
                fragment = {**head, "function": {"name": call.name, "arguments": piece}}
            deltas.append({"tool_calls": [fragment]})
    return deltas


def stream_deltas(answer: Answer, *, repeat_ids: bool = False) -> list[dict[str, Any]]:
    """The ``delta`` of every choice chunk, in order; the last one goes on the finish chunk."""
    thinking = answer.reasoning is not None
    first: dict[str, Any] = {"content": "", "role": "assistant"}
    if thinking:
        first = {"content": None, "reasoning_content": "", "role": "assistant"}
    deltas = [first]
    for piece in split_pieces(answer.reasoning or ""):
        deltas.append({"content": None, "reasoning_content": piece})
    for piece in split_pieces(answer.content):  # a scripted reply may say something first
        deltas.append(
            {"content": piece, "reasoning_content": None} if thinking else {"content": piece}
        )
    if answer.tool_calls:
        deltas.extend(_tool_deltas(answer.tool_calls, repeat_ids=repeat_ids))
    if len(deltas) == 1:  # nothing to say: the finish chunk carries an empty content
        deltas.append({"content": ""})
    return deltas


def stream_chunks(
    answer: Answer,
    *,
    completion_id: str,
    created: int,
    model: str,
    include_usage: bool,
    repeat_ids: bool = False,
) -> list[dict[str, Any]]:
    """Every ``chat.completion.chunk`` of the stream (without the final ``[DONE]``)."""
    common = {
        "object": "chat.completion.chunk",
        "usage": None,
        "created": created,
        "system_fingerprint": None,
        "model": model,
        "id": completion_id,
    }
    deltas = stream_deltas(answer, repeat_ids=repeat_ids)
    chunks: list[dict[str, Any]] = []
    for position, delta in enumerate(deltas):
        finish = answer.finish_reason if position == len(deltas) - 1 else None
        choice = {"delta": delta, "finish_reason": finish, "index": 0, "logprobs": None}
        chunks.append({"choices": [choice], **common})
    if include_usage:
        chunks.append({"choices": [], **common, "usage": answer.usage()})
    return chunks


def sse_event(data: str) -> bytes:
    """One SSE event line pair: ``data: ...`` and a blank line."""
    return f"data: {data}\n\n".encode()


DONE_EVENT = sse_event("[DONE]")
