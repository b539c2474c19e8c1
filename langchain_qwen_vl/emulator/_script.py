"""Scripted replies: the test decides what the emulated model says, the emulator keeps the protocol.

``replies`` (given to ``run_emulator``, ``in_process_emulator`` or ``--replies FILE``) is either

- a **list**, consumed one reply per chat request, in order. Each reply is a string (the text
  answer), a dict with ``content`` and/or ``tool_calls`` (OpenAI's shape, ``arguments`` as JSON
  text or as a dict; ``id`` optional), optionally ``reasoning_content``, or ``None`` for "the
  emulator's own answer to this one". When the list runs out, the next request gets a 400 whose
  ``code`` is ``emulator_script_exhausted`` and whose message says how many replies there were
  (it never loops back or falls back silently);
- a **callable** ``request -> reply``, called for every chat request with a
  :class:`ScriptedRequest` (messages, images with decoded sizes, content hash and bytes, tools,
  params). Returning ``None`` means "the emulator's own answer".

A reply may also be ``{"error": {"status": 400, "message": "...", "code": "..."}}``: the
request then fails with that status and the service's error body shape.

Everything around the reply stays as the service does it: usage (prompt tokens counted from the
request, completion tokens from the reply), ``finish_reason`` (``tool_calls`` / ``stop`` /
``length`` when ``max_tokens`` cuts the text), stop sequences, SSE chunks and tool-call deltas.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from langchain_qwen_vl.emulator._answers import (
    Answer,
    ImageFacts,
    apply_stop,
    count_text_tokens,
    prompt_text_tokens,
    thinking_text,
    truncate_to_tokens,
)
from langchain_qwen_vl.emulator._errors import ServiceError
from langchain_qwen_vl.emulator._request import ChatRequest, Message
from langchain_qwen_vl.emulator._tools import ToolCall
from langchain_qwen_vl.emulator._video import VideoFacts

Reply: TypeAlias = "str | Mapping[str, Any] | None"
ReplyFunction: TypeAlias = "Callable[[ScriptedRequest], Reply]"
Replies: TypeAlias = "Sequence[Reply] | ReplyFunction"

_REPLY_KEYS = frozenset({"content", "tool_calls", "reasoning_content", "role", "error"})
_ERROR_KEYS = frozenset({"status", "message", "code", "type", "param"})


@dataclass(frozen=True, slots=True)
class ScriptedImage:
    """One image of a request, as the emulator decoded it.

    ``width``/``height`` are the size as received (``None`` for a remote URL the emulator does
    not fetch), ``sha256`` the hex digest of the bytes received (``""`` when not fetched),
    ``data`` those bytes. :meth:`open` gives a Pillow image.
    """

    index: int
    url: str
    width: int | None
    height: int | None
    sha256: str
    data: bytes | None = field(default=None, repr=False)

    def open(self) -> Any:
        """The image as a ``PIL.Image.Image`` (raises ``ValueError`` when it was not fetched)."""
        if self.data is None:
            raise ValueError(f"image {self.index} ({self.url[:60]}) was not fetched")
        from PIL import Image

        return Image.open(io.BytesIO(self.data))


@dataclass(frozen=True, slots=True)
class ScriptedRequest:
    """What a reply function receives: the parsed chat request.

    Attributes:
        index: how many requests this script answered before this one (0 for the first).
        messages: the conversation as ``Message(role, texts, tool_calls, tool_call_id)``.
        text: the text of the last user message.
        tool_results: the tool messages that end the conversation (empty otherwise).
        images: every image, in order, as :class:`ScriptedImage`.
        tools: the ``function`` objects of the tools offered (``name``, ``description``,
            ``parameters``).
        params: every other top-level field of the body (``model``, ``temperature``, ``stream`` …).
        body: the JSON body as received.
    """

    index: int
    messages: tuple[Message, ...]
    text: str
    tool_results: tuple[str, ...]
    images: tuple[ScriptedImage, ...]
    tools: tuple[Mapping[str, Any], ...]
    params: Mapping[str, Any]
    body: Mapping[str, Any] = field(repr=False)

    @property
    def tool_names(self) -> tuple[str, ...]:
        """Names of the tools offered, in order."""
        return tuple(str(t.get("name")) for t in self.tools)


@dataclass(frozen=True, slots=True)
class ScriptedReply:
    """A reply normalised: text or tool calls, optional reasoning, or an error to send."""

    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    reasoning: str | None = None
    error: ServiceError | None = None


def content_hash(data: bytes) -> str:
    """The ``sha256`` a :class:`ScriptedImage` carries for these bytes."""
    return hashlib.sha256(data).hexdigest()


def _bad(message: str) -> ValueError:
    return ValueError(f"scripted reply: {message}")


def _tool_call(raw: Any, position: int, where: str) -> ToolCall:
    if not isinstance(raw, Mapping):
        raise _bad(f"{where}.tool_calls[{position}] should be a dict, got {type(raw).__name__}")
    function = raw.get("function", raw)  # OpenAI shape, or LangChain's {"name", "args"}
    if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
        raise _bad(
            f"{where}.tool_calls[{position}] needs a name: use "
            '{"type": "function", "function": {"name": "...", "arguments": {...}}}'
        )
    arguments = function.get("arguments", function.get("args", {}))
    if isinstance(arguments, Mapping):
        arguments = json.dumps(arguments, ensure_ascii=False)
    if not isinstance(arguments, str):
        raise _bad(f"{where}.tool_calls[{position}].function.arguments should be a dict or JSON")
    call_id = raw.get("id")
    if call_id is None:
        digest = hashlib.sha256(f"{where}|{position}|{arguments}".encode()).hexdigest()
        call_id = "call_" + digest[:24]
    return ToolCall(str(call_id), function["name"], arguments)


def _error(raw: Any, where: str) -> ServiceError:
    if not isinstance(raw, Mapping) or set(raw) - _ERROR_KEYS:
        raise _bad(f"{where}.error should be a dict with keys among {sorted(_ERROR_KEYS)}")
    status = raw.get("status", 400)
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise _bad(f"{where}.error.status should be an HTTP error status, got {status!r}")
    return ServiceError(
        str(raw.get("message", "scripted error")),
        status=status,
        code=str(raw.get("code", "invalid_parameter_error")),
        type=str(raw.get("type", "invalid_request_error")),
        param=raw.get("param"),
    )


def normalise_reply(raw: Reply, where: str = "reply") -> ScriptedReply | None:
    """Check one reply and normalise it; ``None`` stays ``None`` (the emulator's own answer).

    Example:
        >>> normalise_reply("Hello").content
        'Hello'
        >>> normalise_reply({"tool_calls": [{"id": "c1", "function": {"name": "f",
        ...     "arguments": {"x": 1}}}]}).tool_calls
        (ToolCall(id='c1', name='f', arguments='{"x": 1}'),)
    """
    if raw is None:
        return None
    if isinstance(raw, str):
        return ScriptedReply(content=raw)
    if not isinstance(raw, Mapping):
        raise _bad(f"{where} should be a string, a dict or None, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _REPLY_KEYS)
    if unknown:
        raise _bad(f"{where} has unknown key(s) {unknown}; use {sorted(_REPLY_KEYS)}")
    if "error" in raw:
        return ScriptedReply(error=_error(raw["error"], where))
    content = raw.get("content") or ""
    if not isinstance(content, str):
        raise _bad(f"{where}.content should be a string, got {type(content).__name__}")
    calls = raw.get("tool_calls") or []
    if not isinstance(calls, list | tuple):
        raise _bad(f"{where}.tool_calls should be a list")
    if not content and not calls:
        raise _bad(f"{where} needs 'content' or 'tool_calls'")
    reasoning = raw.get("reasoning_content")
    if reasoning is not None and not isinstance(reasoning, str):
        raise _bad(f"{where}.reasoning_content should be a string")
    tool_calls = tuple(_tool_call(c, i, where) for i, c in enumerate(calls))
    return ScriptedReply(content=content, tool_calls=tool_calls, reasoning=reasoning)


def script_error(message: str, code: str) -> ServiceError:
    """A 400 about the script itself (not retried by clients), labelled as the emulator's."""
    return ServiceError(f"[emulator] {message}", code=code)


class Script:
    """The replies of one emulator: a list consumed in order, or a function. Thread-safe."""

    def __init__(self, replies: Replies) -> None:
        self._lock = threading.Lock()
        self._function: ReplyFunction | None = None
        self._queue: deque[ScriptedReply | None] = deque()
        self._calls = 0
        self.total = 0
        if callable(replies):
            self._function = replies
        elif isinstance(replies, str | bytes | Mapping) or not isinstance(replies, Iterable):
            raise TypeError(
                "replies should be a list of replies or a callable request -> reply, got "
                f"{type(replies).__name__}; wrap a single reply in a list"
            )
        else:
            items = list(replies)
            self._queue.extend(normalise_reply(r, f"replies[{i}]") for i, r in enumerate(items))
            self.total = len(items)

    @property
    def remaining(self) -> int | None:
        """Replies not used yet (``None`` for a function)."""
        return None if self._function is not None else len(self._queue)

    def next_index(self) -> int:
        """Count one more request that reaches the script; return its 0-based number."""
        with self._lock:
            self._calls += 1
            return self._calls - 1

    def next_reply(self, request: ScriptedRequest) -> ScriptedReply | None:
        """The reply for ``request``; raises the ``ServiceError`` to send when there is none."""
        if self._function is not None:
            try:
                raw = self._function(request)
                return normalise_reply(raw, f"reply to request {request.index}")
            except Exception as exc:
                raise script_error(
                    f"the reply function raised {type(exc).__name__}: {str(exc)[:300]}",
                    "emulator_script_error",
                ) from exc
        with self._lock:
            if self._queue:
                return self._queue.popleft()
        raise script_error(
            f"the scripted replies ran out: {self.total} were given and this is chat request "
            f"{request.index + 1}. Add replies to the list (None = the emulator's own answer), "
            "or pass a function request -> reply.",
            "emulator_script_exhausted",
        )


def scripted_request(
    index: int,
    body: Mapping[str, Any],
    chat: ChatRequest,
    images: Sequence[tuple[str, int | None, int | None, bytes | None]],
) -> ScriptedRequest:
    """Build the request object a reply function sees (``images``: url, width, height, bytes)."""
    skip = {"messages", "tools", "images", "prompt"}
    tools: tuple[Mapping[str, Any], ...] = tuple(
        inner if isinstance(inner := t.get("function"), Mapping) else t for t in chat.tools
    )
    return ScriptedRequest(
        index=index,
        messages=chat.messages,
        text=chat.last_user_text,
        tool_results=chat.tool_results,
        images=tuple(
            ScriptedImage(i, url, w, h, content_hash(data) if data is not None else "", data)
            for i, (url, w, h, data) in enumerate(images)
        ),
        tools=tools,
        params={k: v for k, v in body.items() if k not in skip},
        body=body,
    )


def scripted_answer(
    request: ChatRequest,
    images: Sequence[ImageFacts],
    videos: Sequence[VideoFacts],
    reply: ScriptedReply,
) -> Answer:
    """The :class:`Answer` for a scripted reply, counted and limited as the service would."""
    reasoning: str | None = None
    if request.enable_thinking:
        text = reply.reasoning
        if text is None:
            text = thinking_text(request, images, videos, reply.tool_calls)
        reasoning, _ = truncate_to_tokens(text, request.thinking_budget)
    reasoning_tokens = count_text_tokens(reasoning or "")
    if reply.tool_calls:
        content, finish = reply.content, "tool_calls"
        output = count_text_tokens(content) + sum(
            count_text_tokens(c.name + c.arguments) for c in reply.tool_calls
        )
    else:
        content, _ = apply_stop(reply.content, request.stop)
        content, cut = truncate_to_tokens(content, request.max_tokens)
        finish = "length" if cut else "stop"
        output = count_text_tokens(content)
    return Answer(
        content=content,
        finish_reason=finish,
        reasoning=reasoning,
        tool_calls=reply.tool_calls,
        prompt_text_tokens=prompt_text_tokens(request),
        image_tokens=sum(image.tokens for image in images),
        video_tokens=sum(video.tokens for video in videos),
        reasoning_tokens=reasoning_tokens,
        completion_tokens=output + reasoning_tokens,
        has_video=bool(videos),
    )
