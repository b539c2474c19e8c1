"""Request checks, worded like the service, and the normalised request the "model" answers.

Both request shapes (images + prompt, and OpenAI-compatible messages) are checked as
strictly as the service documents it and turned into one :class:`ChatRequest`. Every refusal is a
:class:`~langchain_qwen_vl.emulator._errors.ServiceError` whose message follows the
service's ``<400> InternalError.Algo.InvalidParameter: ...`` style. Image *contents* (decoding,
sizes, downloads) are checked later, by the server, because they need I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_qwen_vl.emulator import _service_rules as rules
from langchain_qwen_vl.emulator._errors import ServiceError, invalid_parameter, model_not_found
from langchain_qwen_vl.emulator._request import ChatRequest, ImageRef, Message, VideoRef

KNOWN_MODELS = frozenset({"qwen3-vl-flash", "qwen3-vl-flash-2026-01-22"})
_KNOWN_MODEL_FAMILY = re.compile(r"^(qwen3-vl-|qwen-vl-)[a-z0-9][a-z0-9.\-]*$")
ROLES = ("system", "user", "assistant", "tool")
#: Fields of the documented images + prompt request; anything else is refused.
IMAGES_PROMPT_FIELDS = frozenset(
    {
        "model",
        "images",
        "prompt",
        "temperature",
        "top_p",
        "max_tokens",
        "vl_high_resolution_images",
        "enable_thinking",
        "thinking_budget",
    }
)
MAX_OUTPUT_TOKENS = 32_768
MAX_SEED = 2**31 - 1
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_VIDEO_FRAMES = (4, 2000)
_VIDEO_FPS = (0.1, 10.0)
_VIDEO_MAX_PIXELS = (65_536, 2_048_000)  # per frame, qwen3-vl-plus/flash
DEFAULT_VIDEO_FPS = 2.0
MAX_VIDEOS_PER_REQUEST = 64


# --- shared parameter checks ---------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid_parameter(f"{name} should be a boolean, got {value!r}", param=name)
    return value


def check_model(body: Mapping[str, Any]) -> str:
    """The model id; a 400 when missing, the service's 404 when unknown."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid_parameter("Model not specified: the 'model' field is required", param="model")
    if model not in KNOWN_MODELS and not _KNOWN_MODEL_FAMILY.match(model):
        raise model_not_found(model)
    return model


def _check_sampling(body: Mapping[str, Any]) -> None:
    temperature = body.get("temperature")
    if temperature is not None and not (_is_number(temperature) and 0 <= temperature < 2):
        raise invalid_parameter("Temperature should be in [0.0, 2.0)", param="temperature")
    top_p = body.get("top_p")
    if top_p is not None and not (_is_number(top_p) and 0 < top_p <= 1):
        raise invalid_parameter("Range of top_p should be (0.0, 1.0]", param="top_p")
    seed = body.get("seed")
    if seed is not None and not (_is_int(seed) and 0 <= seed <= MAX_SEED):
        raise invalid_parameter(f"Range of seed should be [0, {MAX_SEED}]", param="seed")
    top_k = body.get("top_k")
    if top_k is not None and not (_is_int(top_k) and top_k >= 0):
        raise invalid_parameter("top_k should be a non-negative integer", param="top_k")
    penalty = body.get("presence_penalty")
    if penalty is not None and not (_is_number(penalty) and -2 <= penalty <= 2):
        raise invalid_parameter(
            "Range of presence_penalty should be [-2.0, 2.0]", param="presence_penalty"
        )


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    value = body.get("max_tokens")
    if value is None:
        return None
    if not (_is_int(value) and 1 <= value <= MAX_OUTPUT_TOKENS):
        raise invalid_parameter(
            f"Range of max_tokens should be [1, {MAX_OUTPUT_TOKENS}]", param="max_tokens"
        )
    return int(value)


def _thinking(body: Mapping[str, Any]) -> tuple[bool, int | None]:
    enabled = _optional_bool(body, "enable_thinking")
    budget = body.get("thinking_budget")
    if budget is not None and not (_is_int(budget) and budget >= 1):
        raise invalid_parameter(
            "thinking_budget should be a positive integer", param="thinking_budget"
        )
    return enabled, (int(budget) if budget is not None else None)


def _check_image_url_text(url: Any, where: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise invalid_parameter(f"{where}: the image url should be a non-empty string")
    return url


def _check_image_count(images: Sequence[ImageRef]) -> None:
    if len(images) > rules.MAX_IMAGES_PER_REQUEST:
        raise invalid_parameter(
            f"Exceeded limit on max images per request: {len(images)} > "
            f"{rules.MAX_IMAGES_PER_REQUEST}"
        )


# --- images + prompt ----------------------------------------------------------------------


def parse_images_prompt(body: Mapping[str, Any]) -> ChatRequest:
    """Check an images + prompt body (unknown fields refused) and normalise it."""
    model = check_model(body)
    if "messages" in body:
        raise invalid_parameter(
            "'messages' and 'images' cannot be used together: send either messages, or images "
            "with prompt"
        )
    unknown = sorted(set(body) - IMAGES_PROMPT_FIELDS)
    if unknown:
        raise invalid_parameter(
            f"Unrecognized field(s) for the images + prompt request: {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(IMAGES_PROMPT_FIELDS))}",
            param=unknown[0],
        )
    images = body.get("images")
    if not isinstance(images, list) or not images:
        raise invalid_parameter("images should be a non-empty list of strings", param="images")
    refs = tuple(
        ImageRef(_check_image_url_text(url, f"images[{i}]")) for i, url in enumerate(images)
    )
    _check_image_count(refs)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise invalid_parameter("prompt should be a non-empty string", param="prompt")
    _check_sampling(body)
    enabled, budget = _thinking(body)
    return ChatRequest(
        shape="images_prompt",
        model=model,
        messages=(Message("user", (prompt,)),),
        images=refs,
        max_tokens=_max_tokens(body),
        enable_thinking=enabled,
        thinking_budget=budget,
        vl_high_resolution_images=_optional_bool(body, "vl_high_resolution_images"),
    )


# --- OpenAI-compatible messages -----------------------------------------------------------


def _pixel_count(part: Mapping[str, Any], name: str, low: int, high: int, where: str) -> int | None:
    """``part[name]`` if set: an integer in [low, high], else the service's 400."""
    value = part.get(name)
    if value is not None and not (_is_int(value) and low <= value <= high):
        raise invalid_parameter(
            f"{where}.{name} should be an integer in [{low}, {high}], got {value!r}", param=name
        )
    return value


def _pixel_budget(part: Mapping[str, Any], where: str) -> tuple[int | None, int | None]:
    bounds = (rules.MIN_PIXELS, rules.HIGH_RESOLUTION_MAX_PIXELS)
    high = _pixel_count(part, "max_pixels", *bounds, where)
    low = _pixel_count(part, "min_pixels", *bounds, where)
    if low is not None and high is not None and low > high:
        raise invalid_parameter(f"{where}: min_pixels ({low}) exceeds max_pixels ({high})")
    return high, low


def _fps(part: Mapping[str, Any], where: str) -> float:
    fps = part.get("fps", DEFAULT_VIDEO_FPS)
    if not (_is_number(fps) and _VIDEO_FPS[0] <= fps <= _VIDEO_FPS[1]):
        raise invalid_parameter(f"{where}.fps should be in [0.1, 10], got {fps!r}", param="fps")
    return float(fps)


def _video(part: Mapping[str, Any], where: str) -> VideoRef:
    if part.get("type") == "video_url":
        inner = part.get("video_url")
        url = inner.get("url") if isinstance(inner, Mapping) else None
        if not isinstance(url, str) or not url.strip():
            raise invalid_parameter(f"{where}: video_url should be an object with a 'url' string")
        return VideoRef(
            None,
            url,
            _fps(part, where),
            _pixel_count(part, "max_pixels", *_VIDEO_MAX_PIXELS, where),
        )
    frames = part.get("video")
    low, high = _VIDEO_FRAMES
    if not isinstance(frames, list) or not all(isinstance(f, str) and f for f in frames):
        raise invalid_parameter(f"{where}: video should be a list of frame URLs")
    if not low <= len(frames) <= high:
        raise invalid_parameter(
            f"{where}: the number of video frames should be in [{low}, {high}], got {len(frames)}"
        )
    return VideoRef(
        tuple(frames),
        None,
        _fps(part, where),
        _pixel_count(part, "max_pixels", *_VIDEO_MAX_PIXELS, where),
    )


def _content(
    message: Mapping[str, Any], role: str, where: str
) -> tuple[tuple[str, ...], list[ImageRef], list[VideoRef]]:
    content = message.get("content")
    if isinstance(content, str):
        return (content,), [], []
    if content is None and role == "assistant" and message.get("tool_calls"):
        return (), [], []
    if not isinstance(content, list) or (not content and role != "assistant"):
        raise invalid_parameter(f"{where}.content should be a string or a non-empty list of parts")
    texts: list[str] = []
    images: list[ImageRef] = []
    videos: list[VideoRef] = []
    for j, part in enumerate(content):
        part_where = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        media_allowed = role == "user"
        if isinstance(part, Mapping) and kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, Mapping) and kind == "image_url" and media_allowed:
            inner = part.get("image_url")
            if not isinstance(inner, Mapping):
                raise invalid_parameter(f"{part_where}.image_url should be an object with 'url'")
            url = _check_image_url_text(inner.get("url"), f"{part_where}.image_url.url")
            high, low = _pixel_budget(part, part_where)
            images.append(ImageRef(url, max_pixels=high, min_pixels=low))
        elif isinstance(part, Mapping) and kind in ("video", "video_url") and media_allowed:
            videos.append(_video(part, part_where))
        else:
            allowed = "text, image_url, video, video_url" if media_allowed else "text"
            raise invalid_parameter(
                f"{part_where}: unsupported content part of type {kind!r} in a {role} message; "
                f"allowed: {allowed}"
            )
    return tuple(texts), images, videos


def _tool_calls(message: Mapping[str, Any], where: str) -> tuple[Mapping[str, Any], ...]:
    calls = message.get("tool_calls")
    if calls is None:
        return ()
    if not isinstance(calls, list):
        raise invalid_parameter(f"{where}.tool_calls should be a list")
    for k, call in enumerate(calls):
        function = call.get("function") if isinstance(call, Mapping) else None
        if (
            not isinstance(call, Mapping)
            or not isinstance(call.get("id"), str)
            or not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
            or not isinstance(function.get("arguments"), str)
        ):
            raise invalid_parameter(
                f"{where}.tool_calls[{k}] should be {{id, type: 'function', function: "
                "{name, arguments (a JSON string)}}"
            )
    return tuple(calls)


def _messages(raw: Any) -> tuple[tuple[Message, ...], list[ImageRef], list[VideoRef]]:
    if not isinstance(raw, list) or not raw:
        raise invalid_parameter("messages should be a non-empty list", param="messages")
    messages: list[Message] = []
    images: list[ImageRef] = []
    videos: list[VideoRef] = []
    open_call_ids: set[str] = set()
    for i, message in enumerate(raw):
        where = f"messages[{i}]"
        role = message.get("role") if isinstance(message, Mapping) else None
        if role not in ROLES:
            raise invalid_parameter(
                f"{where}.role should be one of {', '.join(ROLES)}, got {role!r}", param="role"
            )
        assert isinstance(message, Mapping)
        texts, part_images, part_videos = _content(message, role, where)
        calls = _tool_calls(message, where) if role == "assistant" else ()
        call_id = message.get("tool_call_id")
        if role == "tool" and (not isinstance(call_id, str) or call_id not in open_call_ids):
            raise invalid_parameter(
                f"{where}: messages with role 'tool' must be a response to a preceding "
                f"message with 'tool_calls' (tool_call_id {call_id!r} matches none)"
            )
        if role == "assistant":
            open_call_ids = {str(call["id"]) for call in calls}
        elif role in ("system", "user"):
            open_call_ids = set()
        messages.append(Message(role, texts, calls, call_id if role == "tool" else None))
        images.extend(part_images)
        videos.extend(part_videos)
    return tuple(messages), images, videos


def _tools(body: Mapping[str, Any]) -> tuple[Mapping[str, Any], ...]:
    tools = body.get("tools")
    if tools is None:
        return ()
    if not isinstance(tools, list):
        raise invalid_parameter("tools should be a list", param="tools")
    for k, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, Mapping) else None
        name = function.get("name") if isinstance(function, Mapping) else None
        parameters = function.get("parameters", {}) if isinstance(function, Mapping) else None
        if (
            not isinstance(tool, Mapping)
            or tool.get("type", "function") != "function"
            or not isinstance(name, str)
            or not _TOOL_NAME.match(name)
            or not isinstance(parameters, Mapping)
        ):
            raise invalid_parameter(
                f"tools[{k}] should be {{type: 'function', function: {{name (letters, digits, _ "
                "or -, at most 64), description, parameters (a JSON schema object)}}}}",
                param="tools",
            )
    return tuple(tools)


def _tool_choice(
    body: Mapping[str, Any], tools: Sequence[Mapping[str, Any]], thinking: bool
) -> tuple[str, str | None]:
    choice = body.get("tool_choice")
    if choice is None or choice in ("auto", "none"):
        return (choice or "auto"), None
    function = choice.get("function") if isinstance(choice, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    if not isinstance(name, str):
        raise invalid_parameter(
            f"tool_choice should be 'auto', 'none' or {{type: 'function', function: {{name}}}}, "
            f"got {choice!r}",
            param="tool_choice",
        )
    if thinking:
        raise invalid_parameter(
            "The tool_choice parameter does not support being set to required or object in "
            "thinking mode",
            param="tool_choice",
        )
    if name not in {tool["function"]["name"] for tool in tools}:
        raise invalid_parameter(
            f"tool_choice names the function {name!r}, which is not in tools", param="tool_choice"
        )
    return "function", name


def _response_format(
    body: Mapping[str, Any], messages: Sequence[Message], thinking: bool
) -> Mapping[str, Any] | None:
    fmt = body.get("response_format")
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        if thinking:
            raise invalid_parameter(
                "The response_format parameter does not support json_object in thinking mode",
                param="response_format",
            )
        if not any("json" in text.lower() for m in messages for text in m.texts):
            raise invalid_parameter(
                "'messages' must contain the word 'json' in some form, to use 'response_format' "
                "of type 'json_object'."
            )
        assert isinstance(fmt, Mapping)
        return fmt
    if kind == "json_schema":
        assert isinstance(fmt, Mapping)
        spec = fmt.get("json_schema")
        if (
            not isinstance(spec, Mapping)
            or not isinstance(spec.get("name"), str)
            or not isinstance(spec.get("schema", {}), Mapping)
        ):
            raise invalid_parameter(
                "response_format.json_schema should be {name, schema (an object), strict?}",
                param="response_format",
            )
        return fmt
    raise invalid_parameter(
        f"response_format.type should be text, json_object or json_schema, got {kind!r}",
        param="response_format",
    )


def _stop(body: Mapping[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,) if stop else ()
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(s for s in stop if s)
    raise invalid_parameter("stop should be a string or a list of strings", param="stop")


def _stream(body: Mapping[str, Any]) -> tuple[bool, bool]:
    stream = _optional_bool(body, "stream")
    options = body.get("stream_options")
    if options is None:
        return stream, False
    if not stream:
        raise invalid_parameter(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
        )
    include = options.get("include_usage", False) if isinstance(options, Mapping) else None
    if not isinstance(include, bool):
        raise invalid_parameter(
            "stream_options should be {include_usage: boolean}", param="stream_options"
        )
    return stream, include


def parse_chat_completions(body: Mapping[str, Any]) -> ChatRequest:
    """Check an OpenAI-compatible messages body and normalise it.

    Unknown top-level fields are ignored, as upstream.
    """
    model = check_model(body)
    messages, images, videos = _messages(body.get("messages"))
    _check_image_count(images)
    if len(videos) > MAX_VIDEOS_PER_REQUEST:
        raise invalid_parameter(
            f"Too many videos in the request: {len(videos)}, at most {MAX_VIDEOS_PER_REQUEST}"
        )
    _check_sampling(body)
    n = body.get("n")
    if n is not None and n != 1:
        raise invalid_parameter("n should be 1 (the emulator answers with one choice)", param="n")
    enabled, budget = _thinking(body)
    stream, include_usage = _stream(body)
    tools = _tools(body)
    choice, forced = _tool_choice(body, tools, enabled)
    return ChatRequest(
        shape="chat_completions",
        model=model,
        messages=messages,
        images=tuple(images),
        videos=tuple(videos),
        stream=stream,
        include_usage=include_usage,
        max_tokens=_max_tokens(body),
        stop=_stop(body),
        enable_thinking=enabled,
        thinking_budget=budget,
        vl_high_resolution_images=_optional_bool(body, "vl_high_resolution_images"),
        tools=tools,
        tool_choice=choice,
        forced_tool=forced,
        parallel_tool_calls=_optional_bool(body, "parallel_tool_calls"),
        response_format=_response_format(body, messages, enabled),
    )


def parse_request(body: Any) -> ChatRequest:
    """Pick the request shape from the body (``messages`` or ``images`` + ``prompt``) and check it.

    Example:
        >>> parse_request({"model": "qwen3-vl-flash", "images": ["https://x.test/a.png"],
        ...     "prompt": "What?"}).shape
        'images_prompt'
    """
    if not isinstance(body, Mapping):
        raise invalid_parameter("The request body should be a JSON object")
    if "images" in body or ("prompt" in body and "messages" not in body):
        return parse_images_prompt(body)
    return parse_chat_completions(body)


__all__ = [
    "ChatRequest",
    "ImageRef",
    "Message",
    "ServiceError",
    "VideoRef",
    "parse_request",
]
