"""The emulator's deterministic "model": pure functions from a checked request to an answer.

This is **not** Qwen3-VL and does not pretend to be: it never looks at what an image shows,
only at what can be measured. Free-text answers always start with ``[emulator] `` and report
how many images arrived, each one's size as received, the size the model would see after the
service's documented resize formula with its token count, the dominant colours in plain words
plus hex, and a short echo of the question. ``seed``, ``temperature``, ``top_p``, ``top_k`` and
``presence_penalty`` change nothing: the same request always gets the same answer.

Token counts: image and video tokens follow the documented formula (``media``); text tokens
are a deterministic estimate, ``ceil(utf-8 bytes / 4)`` per text piece plus
:data:`MESSAGE_OVERHEAD_TOKENS` per message, and the completion is counted the same way.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_qwen_vl.emulator import _service_rules as rules
from langchain_qwen_vl.emulator._agent import plan_tool_calls
from langchain_qwen_vl.emulator._grounding import grounding_answer
from langchain_qwen_vl.emulator._images import ColourShare
from langchain_qwen_vl.emulator._request import ChatRequest
from langchain_qwen_vl.emulator._tools import ToolCall, value_for_schema
from langchain_qwen_vl.emulator._video import VideoFacts, describe_video

LABEL = "[emulator] "
#: Tokens added per message for role markers in the text-token estimate.
MESSAGE_OVERHEAD_TOKENS = 3
_ECHO_CHARS = 100
_BYTES_PER_TOKEN = 4


@dataclass(frozen=True, slots=True)
class ImageFacts:
    """One received image: size as sent, size the model sees, tokens, colours.

    ``fetched`` is False for a remote URL the emulator did not download; its size is nominal.
    """

    width: int
    height: int
    seen_width: int
    seen_height: int
    tokens: int
    colours: tuple[ColourShare, ...] = ()
    fetched: bool = True
    url: str = ""
    data: bytes | None = field(default=None, repr=False, compare=False)  # the bytes received


@dataclass(frozen=True, slots=True)
class Answer:
    """What the emulated model produced, before it is put on the wire."""

    content: str
    finish_reason: str
    reasoning: str | None
    tool_calls: tuple[ToolCall, ...]
    prompt_text_tokens: int
    image_tokens: int
    video_tokens: int
    reasoning_tokens: int
    completion_tokens: int
    has_video: bool = False

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object of the response (reasoning counted inside completion tokens)."""
        prompt = self.prompt_text_tokens + self.image_tokens + self.video_tokens
        details: dict[str, int] = {
            "text_tokens": self.prompt_text_tokens,
            "image_tokens": self.image_tokens,
        }
        if self.has_video:
            details["video_tokens"] = self.video_tokens
        usage: dict[str, Any] = {
            "prompt_tokens": prompt,
            "completion_tokens": self.completion_tokens,
            "total_tokens": prompt + self.completion_tokens,
            "prompt_tokens_details": details,
        }
        if self.reasoning is not None:
            usage["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return usage


# --- counting ---------------------------------------------------------------------------------


def count_text_tokens(text: str) -> int:
    """The emulator's token estimate for a piece of text: ``ceil(utf-8 bytes / 4)``.

    Example:
        >>> count_text_tokens("What is in this image?"), count_text_tokens("")
        (6, 0)
    """
    return math.ceil(len(text.encode("utf-8")) / _BYTES_PER_TOKEN)


def prompt_text_tokens(request: ChatRequest) -> int:
    """Text tokens of the prompt: every text piece, tool call and tool definition, plus
    :data:`MESSAGE_OVERHEAD_TOKENS` per message."""
    pieces = sum(count_text_tokens(text) for text in request.prompt_texts)
    return pieces + MESSAGE_OVERHEAD_TOKENS * len(request.messages)


def image_facts(
    width: int,
    height: int,
    *,
    max_pixels: int | None,
    min_pixels: int | None,
    vl_high_resolution_images: bool,
    colours: tuple[ColourShare, ...] = (),
    fetched: bool = True,
    url: str = "",
    data: bytes | None = None,
) -> ImageFacts:
    """Facts of one image: the size the model sees and its tokens by the service's formula.

    Example:
        >>> f = image_facts(640, 480, max_pixels=None, min_pixels=None,
        ...     vl_high_resolution_images=False)
        >>> (f.seen_width, f.seen_height, f.tokens)
        (640, 480, 302)
    """
    cap = rules.image_cap(max_pixels, vl_high_resolution_images)
    floor = rules.MIN_PIXELS if min_pixels is None else min_pixels
    seen_h, seen_w = rules.smart_resize(height, width, cap, floor)
    tokens = rules.image_tokens(height, width, cap, floor)
    return ImageFacts(width, height, seen_w, seen_h, tokens, colours, fetched, url, data)


# --- wording ------------------------------------------------------------------------------


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def echo(question: str) -> str:
    """The question as quoted in answers: one line, at most 100 characters."""
    line = " ".join(question.split())
    return line if len(line) <= _ECHO_CHARS else line[: _ECHO_CHARS - 1] + "…"


def _describe_image(number: int, image: ImageFacts) -> str:
    seen = f"model sees {image.seen_width}×{image.seen_height}, {image.tokens} tokens"
    if not image.fetched:
        return (
            f"Image {number}: not fetched (remote URL {echo(image.url)}), nominal "
            f"{image.width}×{image.height} px ({seen})."
        )
    text = f"Image {number}: {image.width}×{image.height} px ({seen})"
    if image.colours:
        colours = ", ".join(f"{c.name} ({c.hex}) {c.percent}%" for c in image.colours)
        text += f"; dominant colours: {colours}"
    return text + "."


def describe_media(images: Sequence[ImageFacts], videos: Sequence[VideoFacts] = ()) -> str:
    """The part of an answer that reports what was received.

    Example:
        >>> describe_media([image_facts(640, 480, max_pixels=None, min_pixels=None,
        ...     vl_high_resolution_images=False)])
        '1 image received. Image 1: 640×480 px (model sees 640×480, 302 tokens).'
    """
    if not images and not videos:
        return "No images received."
    sentences: list[str] = []
    if images:
        sentences.append(f"{_plural(len(images), 'image')} received.")
        sentences.extend(_describe_image(i, image) for i, image in enumerate(images, 1))
    if videos:
        sentences.append(f"{_plural(len(videos), 'video')} received.")
        sentences.extend(
            describe_video(i, video, echo(video.url)) for i, video in enumerate(videos, 1)
        )
    return " ".join(sentences)


def free_text_answer(
    request: ChatRequest, images: Sequence[ImageFacts], videos: Sequence[VideoFacts] = ()
) -> str:
    """The labelled answer: a tool result report, or the media report plus the question echo."""
    results = request.tool_results
    if results:
        return LABEL + "The tool returned: " + "; ".join(echo(r) for r in results)
    answer = LABEL + describe_media(images, videos)
    question = echo(request.last_user_text)
    if question:
        answer += f' You asked: "{question}"'
    return answer


def thinking_text(
    request: ChatRequest,
    images: Sequence[ImageFacts],
    videos: Sequence[VideoFacts],
    tool_calls: Sequence[ToolCall],
) -> str:
    """The labelled reasoning shown when ``enable_thinking`` is on (derived from the input)."""
    sentences = [
        f"{LABEL}thinking: The request carries {_plural(len(images), 'image')}"
        + (f" and {_plural(len(videos), 'video')}" if videos else "")
        + f" in {_plural(len(request.messages), 'message')}."
    ]
    question = echo(request.last_user_text)
    if question:
        sentences.append(f'The question is "{question}".')
    if request.tool_results:
        sentences.append("The last message is a tool result, so I will report what it returned.")
    elif tool_calls:
        names = ", ".join(call.name for call in tool_calls)
        sentences.append(f"The request points at {names}, so I will call it with values from it.")
    else:
        sentences.append(
            "I will report what I can measure: sizes, the size the model sees, and colours."
        )
    return " ".join(sentences)


# --- limits: stop sequences, max_tokens, thinking_budget -----------------------------------


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` before the first occurrence of any stop sequence; report whether one hit.

    Example:
        >>> apply_stop("[emulator] a. b.", ["."])
        ('[emulator] a', True)
    """
    positions = [i for i in (text.find(s) for s in stop if s) if i >= 0]
    if not positions:
        return text, False
    return text[: min(positions)], True


def truncate_to_tokens(text: str, max_tokens: int | None) -> tuple[str, bool]:
    """Keep the longest prefix whose estimate is at most ``max_tokens``; report whether cut.

    Example:
        >>> truncate_to_tokens("[emulator] hello world", 3)
        ('[emulator] h', True)
    """
    if max_tokens is None or count_text_tokens(text) <= max_tokens:
        return text, False
    budget = max_tokens * _BYTES_PER_TOKEN
    cut = text.encode("utf-8")[:budget].decode("utf-8", "ignore")
    return cut, True


def split_pieces(text: str) -> list[str]:
    """Word-sized stream deltas (each word with the spaces before it); ``"".join`` restores it.

    Example:
        >>> split_pieces("I am a model.")
        ['I', ' am', ' a', ' model.']
    """
    return re.findall(r"\s*\S+|\s+", text)


# --- the answer -----------------------------------------------------------------------------


def structured_facts(images: Sequence[ImageFacts], answer: str | None = None) -> dict[str, Any]:
    """Values that ``json_schema`` fields and tool arguments take by field name.

    Measured image facts (``width``, ``height``, ``image_count``, ``colour``/``colours`` …) and,
    when ``answer`` is given, the labelled answer for ``description``/``summary``/``caption``.
    """
    facts: dict[str, Any] = {"image_count": len(images), "num_images": len(images)}
    if answer is not None:
        facts.update(description=answer, summary=answer, caption=answer)
    if images:
        first = images[0]
        facts.update(width=first.width, height=first.height)
        names = [c.name for image in images for c in image.colours]
        if names:
            unique = list(dict.fromkeys(names))
            facts.update(
                color=unique[0],
                colour=unique[0],
                dominant_color=unique[0],
                dominant_colour=unique[0],
                colors=unique,
                colours=unique,
            )
    return facts


_QUOTED_KEY = re.compile(r"[\"'`“‘]([A-Za-z_][\w-]{0,63})[\"'`”’]")


def json_object_value(prompt: str, answer: str) -> dict[str, Any]:
    """The object for ``response_format: json_object``.

    Keys quoted in the prompt ("… JSON with 'setup' and 'punchline' keys") become string
    fields filled from the prompt; without quoted keys the object is ``{"answer": answer}``.

    Example:
        >>> json_object_value("A joke about cats as JSON with 'setup' and 'punchline' keys", "")
        {'setup': 'cats', 'punchline': 'emulated punchline'}
    """
    keys = list(dict.fromkeys(_QUOTED_KEY.findall(prompt)))
    if not keys:
        return {"answer": answer}
    schema = {
        "type": "object",
        "properties": {key: {"type": "string"} for key in keys},
        "required": keys,
    }
    value = value_for_schema(schema, text=prompt, exclude=keys)
    return value if isinstance(value, dict) else {"answer": answer}


def _content_for(
    request: ChatRequest, images: Sequence[ImageFacts], videos: Sequence[VideoFacts]
) -> str:
    text = free_text_answer(request, images, videos)
    fmt = request.response_format
    if fmt is None and not request.tool_results:  # "where is ...?": boxes as JSON (_grounding)
        located = grounding_answer(request.last_user_text, [i.url for i in images])
        text = located if located is not None else text
    if fmt is None:
        return text
    if fmt.get("type") == "json_object":
        return json.dumps(json_object_value(request.last_user_text, text), ensure_ascii=False)
    spec = fmt.get("json_schema")
    schema = spec.get("schema", {}) if isinstance(spec, Mapping) else {}
    value = value_for_schema(
        schema, text=request.last_user_text, facts=structured_facts(images, text)
    )
    return json.dumps(value, ensure_ascii=False)


def build_answer(
    request: ChatRequest,
    images: Sequence[ImageFacts],
    videos: Sequence[VideoFacts] = (),
) -> Answer:
    """Everything the emulated model says for ``request``: content or tool calls, reasoning,
    finish reason, and the token counts the usage reports.

    ``max_tokens`` caps the content (not the reasoning, which ``thinking_budget`` caps); stop
    sequences cut the content before their first occurrence.
    """
    calls = plan_tool_calls(request, structured_facts(images))
    reasoning: str | None = None
    reasoning_tokens = 0
    if request.enable_thinking:
        reasoning, _ = truncate_to_tokens(
            thinking_text(request, images, videos, calls), request.thinking_budget
        )
        reasoning_tokens = count_text_tokens(reasoning)
    if calls:
        content, finish = "", "tool_calls"
        output_tokens = sum(count_text_tokens(c.name + c.arguments) for c in calls)
    else:
        # A stop sequence and a natural end both finish with "stop".
        content, _ = apply_stop(_content_for(request, images, videos), request.stop)
        content, cut = truncate_to_tokens(content, request.max_tokens)
        finish = "length" if cut else "stop"
        output_tokens = count_text_tokens(content)
    return Answer(
        content=content,
        finish_reason=finish,
        reasoning=reasoning,
        tool_calls=calls,
        prompt_text_tokens=prompt_text_tokens(request),
        image_tokens=sum(image.tokens for image in images),
        video_tokens=sum(video.tokens for video in videos),
        reasoning_tokens=reasoning_tokens,
        completion_tokens=output_tokens + reasoning_tokens,
        has_video=bool(videos),
    )
