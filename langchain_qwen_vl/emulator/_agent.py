"""The emulated model as an agent: which tools it calls, with which arguments.

Rules, in order (the first that applies decides):

1. ``tool_choice`` names a function → that function; ``"none"`` → no call; a conversation that
   ends with tool results → no call (the answer reports the results in text).
2. The last user message names tools → the first named (all of them, in order of mention,
   with ``parallel_tool_calls: true``).
3. Tools whose name's topic words all appear in the message (``get_weather`` for "What is the
   weather in Paris?").
4. The message names a file or a URL ("Is there a car in photo.jpg?") and a tool has a
   parameter for one — a string or a list of strings whose name says image, photo, picture,
   file, path, url, document … (or ``format: uri``) → that tool; with several, the one whose
   parameter fits best (an image parameter for ``.jpg``, a path or document one for ``.pdf``,
   a list for several references), else the first.
5. The message holds an arithmetic expression ("4.5 * 3 * 2") and a tool has a string
   parameter named ``expression``/``formula``/``equation``/``math`` → that tool, with it.
6. The message asks to "use the tool" and there is exactly one tool → that tool.

Arguments always match the tool's JSON schema: file names and URLs from the message fill the
reference parameter (a list parameter gets a JSON list of all of them; one reference goes into
a string parameter when there is one), ``question``/``query``/``prompt``/``text`` parameters get
the user's message, and every other required parameter is filled as in
:func:`~langchain_qwen_vl.emulator._tools.value_for_schema`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_qwen_vl.emulator._request import ChatRequest
from langchain_qwen_vl.emulator._tools import (
    USE_A_TOOL,
    PromptValues,
    ToolCall,
    build_arguments,
    function_of,
    mentioned_tools,
    property_value,
    resolve_schema,
    schema_type,
    topical_tools,
)

_EXTENSIONS = (
    "png|jpe?g|gif|webp|bmp|tiff?|heic|avif|svg|pdf|txt|csv|tsv|json|md|html?|xml|docx?|"
    "xlsx?|pptx?|mp4|mov|avi|webm|mkv|mp3|wav"
)
_REFERENCE = re.compile(
    r"https?://[^\s\"'<>]+"  # a URL
    rf"|(?<![\w/])(?:~|\.{{1,2}})?/?(?:[\w.@+-]+/)*[\w@+-][\w.@+-]*\.(?:{_EXTENSIONS})(?![\w])"
    r"|(?<![\w/])/(?:[\w.@+-]+/)*[\w.@+-]+",  # an absolute path
    re.IGNORECASE,
)
_REFERENCE_NAME = re.compile(
    r"(?:^|_)(?:image|img|photo|picture|pic|path|file|filename|url|uri|link|src|source|"
    r"document|doc|pdf|scan|attachment|video|location)s?(?:_|$)",
    re.IGNORECASE,
)
_EXPRESSION = re.compile(r"\(?-?\d+(?:\.\d+)?\)?(?:\s*(?:[-+*/×^]|\*\*)\s*\(?-?\d+(?:\.\d+)?\)?)+")
_EXPRESSION_NAMES = frozenset(("expression", "expr", "formula", "equation", "calculation", "math"))
_QUESTION_NAMES = frozenset(
    ("question", "query", "prompt", "text", "instruction", "instructions", "request", "task")
)


def find_expression(text: str) -> str | None:
    """The first arithmetic expression in ``text`` (two numbers or more), or None.

    Example:
        >>> find_expression("A 4.5 m by 3 m wall, twice: 4.5 * 3 * 2?")
        '4.5 * 3 * 2'
    """
    match = _EXPRESSION.search(text)
    return match.group(0).strip() if match else None


def expression_parameter(parameters: Mapping[str, Any]) -> str | None:
    """The name of a string parameter meant for an arithmetic expression, if there is one."""
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return None
    for name, raw in properties.items():
        schema = resolve_schema(raw if isinstance(raw, Mapping) else {}, parameters)
        if str(name).lower() in _EXPRESSION_NAMES and schema_type(schema) == "string":
            return str(name)
    return None


def find_references(text: str) -> list[str]:
    """File names, paths and URLs in ``text``, in order, without trailing punctuation.

    Example:
        >>> find_references("Compare photo.jpg with https://example.com/b.png, please.")
        ['photo.jpg', 'https://example.com/b.png']
    """
    found: list[str] = []
    for match in _REFERENCE.finditer(text):
        value = match.group(0).rstrip(".,;:!?)]}'\"")
        if value and value not in found:
            found.append(value)
    return found


_IMAGE_EXTENSIONS = re.compile(r"\.(?:png|jpe?g|gif|webp|bmp|tiff?|heic|avif|svg)$", re.I)
_VIDEO_EXTENSIONS = re.compile(r"\.(?:mp4|mov|avi|webm|mkv)$", re.I)
_NAME_KINDS = {
    "image": ("image", "img", "photo", "picture", "pic"),
    "video": ("video",),
    "file": ("path", "file", "filename", "document", "doc", "pdf", "scan", "attachment"),
    "url": ("url", "uri", "link", "src", "source"),
}


def _reference_kind(reference: str) -> str:
    path = reference.split("?", 1)[0]
    if _IMAGE_EXTENSIONS.search(path) or reference.startswith("data:image"):
        return "image"
    if _VIDEO_EXTENSIONS.search(path):
        return "video"
    return "url" if re.match(r"https?://", reference) else "file"


def _fit(function: Mapping[str, Any], references: Sequence[str]) -> int:
    """How well a tool's reference parameters fit the references: 0 = it has none."""
    parameters = function.get("parameters")
    slots = reference_parameters(parameters) if isinstance(parameters, Mapping) else []
    if not slots:
        return 0
    kinds = {_reference_kind(r) for r in references}
    score = 1
    for name, kind in slots:
        words = set(re.split(r"_+", _snake(name).rstrip("s")))
        if any(words & set(_NAME_KINDS[k]) for k in kinds):
            score = max(score, 3 if (kind == "array") == (len(references) > 1) else 2)
    return score


def _snake(name: str) -> str:
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def reference_parameters(parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(name, "string" | "array")`` of the parameters that take a file name or URL.

    Example:
        >>> reference_parameters({"type": "object", "properties": {"question": {"type":
        ...     "string"}, "image": {"type": "string"}, "images": {"type": "array",
        ...     "items": {"type": "string"}}}})
        [('image', 'string'), ('images', 'array')]
    """
    properties = parameters.get("properties")
    if not isinstance(properties, Mapping):
        return []
    found: list[tuple[str, str]] = []
    for name, raw in properties.items():
        schema = resolve_schema(raw if isinstance(raw, Mapping) else {}, parameters)
        kind = schema_type(schema)
        if kind == "array":
            items = schema.get("items")
            items = resolve_schema(items, parameters) if isinstance(items, Mapping) else {}
            if schema_type(items) != "string":
                continue
        elif kind != "string" or "enum" in schema:
            continue
        if _REFERENCE_NAME.search(_snake(str(name))) or schema.get("format") in ("uri", "url"):
            found.append((str(name), kind))
    return found


def _reference_slot(parameters: Mapping[str, Any], count: int) -> tuple[str, str] | None:
    slots = reference_parameters(parameters)
    if not slots:
        return None
    lists = [slot for slot in slots if slot[1] == "array"]
    strings = [slot for slot in slots if slot[1] == "string"]
    preferred = (lists + strings) if count > 1 else (strings + lists)
    return preferred[0]


def reference_arguments(
    parameters: Mapping[str, Any],
    text: str,
    references: Sequence[str],
    *,
    exclude: Sequence[str] = (),
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Arguments for a tool that takes file names or URLs, filled from ``references``.

    Example:
        >>> reference_arguments({"type": "object", "properties": {"paths": {"type": "array",
        ...     "items": {"type": "string"}}}, "required": ["paths"]}, "Read a.pdf", ["a.pdf"])
        {'paths': ['a.pdf']}
    """
    slot = _reference_slot(parameters, len(references))
    if slot is None or not references:
        return build_arguments(parameters, text, exclude=exclude, facts=facts)
    properties = parameters.get("properties")
    assert isinstance(properties, Mapping)  # reference_parameters found some
    required = parameters.get("required")
    required_names = set(required) if isinstance(required, list) else set(properties)
    other_slots = {name for name, _ in reference_parameters(parameters)} - {slot[0]}
    values = PromptValues(text, exclude=[*exclude, *references])
    facts = facts or {}
    result: dict[str, Any] = {}
    for name, raw in properties.items():
        schema = resolve_schema(raw if isinstance(raw, Mapping) else {}, parameters)
        if name == slot[0]:
            result[name] = _fill_slot(schema, slot[1], references)
        elif name in other_slots:
            continue  # "image" or "images", never both
        elif name.lower() in _QUESTION_NAMES and schema_type(schema) == "string":
            result[name] = _clip(" ".join(text.split()), schema)
        elif name in required_names or name.lower() in facts or values.explicit(name):
            result[name] = property_value(
                raw if isinstance(raw, Mapping) else {}, name, values, facts, parameters
            )
    return result


def _fill_slot(schema: Mapping[str, Any], kind: str, references: Sequence[str]) -> Any:
    """The references as the parameter's schema allows: a list within min/maxItems, or one."""
    if kind != "array":
        return _clip(references[0], schema)
    low, high = schema.get("minItems"), schema.get("maxItems")
    chosen = list(references[:high] if isinstance(high, int) else references)
    while isinstance(low, int) and len(chosen) < low:
        chosen.append(chosen[-1])
    return chosen


def _clip(text: str, schema: Mapping[str, Any]) -> str:
    low, high = schema.get("minLength"), schema.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = text.ljust(low, "?")
    return text[:high] if isinstance(high, int) else text


def tools_to_call(request: ChatRequest) -> list[Mapping[str, Any]]:
    """The ``function`` objects of the tools this request makes the emulated model call."""
    if not request.tools or request.tool_choice == "none" or request.tool_results:
        return []
    by_name = {str(function_of(t).get("name")): function_of(t) for t in request.tools}
    if request.forced_tool is not None:
        return [by_name[request.forced_tool]]
    text = request.last_user_text
    names = mentioned_tools(text, list(by_name)) or topical_tools(text, list(by_name))
    if names:
        return [by_name[n] for n in (names if request.parallel_tool_calls else names[:1])]
    references = find_references(text)
    if references:
        scored = [(_fit(f, references), -i, f) for i, f in enumerate(by_name.values())]
        best = max(scored, key=lambda item: item[:2])
        if best[0] > 0:
            return [best[2]]
    if find_expression(text) is not None:
        for function in by_name.values():
            parameters = function.get("parameters")
            if isinstance(parameters, Mapping) and expression_parameter(parameters):
                return [function]
    if len(by_name) == 1 and USE_A_TOOL.search(text):
        return list(by_name.values())
    return []


def _call_id(request: ChatRequest, index: int, name: str, arguments: str) -> str:
    seed = f"{len(request.messages)}|{index}|{name}|{arguments}|{request.last_user_text}"
    return "call_" + hashlib.sha256(seed.encode()).hexdigest()[:24]


def plan_tool_calls(
    request: ChatRequest, facts: Mapping[str, Any] | None = None
) -> tuple[ToolCall, ...]:
    """The tool calls (with JSON arguments) the emulated model answers with; may be empty."""
    names = [str(function_of(t).get("name")) for t in request.tools]
    text = request.last_user_text
    references = find_references(text)
    calls: list[ToolCall] = []
    for index, function in enumerate(tools_to_call(request)):
        parameters = function.get("parameters")
        arguments = reference_arguments(
            parameters if isinstance(parameters, Mapping) else {},
            text,
            references,
            exclude=names,
            facts=facts,
        )
        slot = expression_parameter(parameters) if isinstance(parameters, Mapping) else None
        expression = find_expression(text)
        if slot is not None and expression is not None:
            arguments[slot] = expression
        encoded = json.dumps(arguments, ensure_ascii=False)
        name = str(function.get("name"))
        calls.append(ToolCall(_call_id(request, index, name, encoded), name, encoded))
    return tuple(calls)
