"""Reading localization answers: JSON in fences or prose, one object or a list, cut short or not.

The model usually answers with a ```json fence holding a list of objects such as
``{"bbox_2d": [x1, y1, x2, y2], "label": "cat"}``; it may also write prose around it, several
blocks, a single object, a trailing comma, or stop mid-list when ``max_tokens`` runs out. Every
complete item found is returned, in order. Keys: ``bbox_2d`` / ``bbox`` (4 numbers),
``point_2d`` / ``point`` (2), ``bbox_3d`` (9); other keys are kept on the result.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from langchain_core.exceptions import OutputParserException

from langchain_qwen_vl._grounding_types import (
    Box2D,
    Box3D,
    Coordinates,
    GroundingResult,
    Intrinsics,
    Point2D,
)

__all__ = ["GroundingParseError", "parse_grounding", "says_nothing_found"]

_BOX_KEYS = ("bbox_2d", "bbox", "box_2d")
_POINT_KEYS = ("point_2d", "point")
_BOX3D_KEY = "bbox_3d"
_COORD_KEYS = frozenset((*_BOX_KEYS, *_POINT_KEYS, _BOX3D_KEY))
_FIELDS_3D = ("x", "y", "z", "x_size", "y_size", "z_size", "roll", "pitch", "yaw")
_OWN_FIELDS = frozenset(("coordinates", "frame_size", "image_size", "intrinsics"))
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_-]*)[^\n]*\n(.*?)(?:```|\Z)", re.DOTALL)
# Saying that nothing is there, not merely using "no" ("no doubt, the cat is left" is prose
# without coordinates: an error). An answer that starts with no/none/nothing, "there is no",
# "no cat is visible", "found nothing", "not found", "cannot find", "doesn't contain".
_NOTHING = re.compile(
    r"^\W*(?:no|none|nothing)\b"
    r"|\bthere\s+(?:is|are|was|were)\s+no\b"
    r"|\bno\s+(?:\w+\s+){0,3}?(?:is|are|was|were|can\s+be|could\s+be)\s+"
    r"(?:found|visible|present|detected|seen|shown|located)\b"
    r"|\b(?:found|detected|see|saw)\s+(?:no|nothing|none)\b"
    r"|\bnot\s+(?:found|present|visible|detected|see)\b"
    r"|\b(?:cannot|can't|can\s+not|could\s+not|couldn't|unable\s+to)\s+(?:find|locate|see|detect)\b"
    r"|\b(?:does|do|did)\s*n[o']t\s+(?:contain|appear|exist|show|see|find)\b"
    r"|没有|未找到|未发现|不存在|找不到",
    re.IGNORECASE,
)
_RAW_PREVIEW = 300
_MAX_LITERAL_TRIES = 64


class GroundingParseError(OutputParserException):
    """The text holds no localization JSON and does not say that nothing was found.

    ``llm_output`` (and ``raw_text``) carry the full text that failed to parse.
    """

    def __init__(self, message: str, raw_text: str) -> None:
        super().__init__(message, llm_output=raw_text)
        self.raw_text = raw_text


def says_nothing_found(text: str) -> bool:
    """True when the text says there is nothing to locate ("no cars", "未找到", "[]").

    Example:
        >>> says_nothing_found("There are no red objects in the image."), says_nothing_found("Hi")
        (True, False)
    """
    stripped = text.strip().strip("`").strip()
    if stripped.lower().startswith("json"):
        stripped = stripped[4:].strip()
    return stripped in ("[]", "{}") or bool(_NOTHING.search(text))


# --- finding JSON values in text -------------------------------------------------------------


def _segments(text: str) -> list[str]:
    """Fenced blocks in order when there are any (an unclosed last fence runs to the end);
    else the whole text."""
    blocks = [match.group(2) for match in _FENCE.finditer(text)]
    return blocks or [text]


def _decode_list_prefix(text: str, start: int, decoder: json.JSONDecoder) -> tuple[list[Any], int]:
    """Items of the JSON list opening at ``start``, one by one: tolerates trailing commas and a
    list cut short (the complete items are kept). Returns (items, end index)."""
    items: list[Any] = []
    position = start + 1
    length = len(text)
    while position < length:
        while position < length and text[position] in " \t\r\n,":
            position += 1
        if position >= length:
            break
        if text[position] == "]":
            return items, position + 1
        try:
            item, position = decoder.raw_decode(text, position)
        except ValueError:
            break
        items.append(item)
    return items, length


def _unclosed(text: str, start: int) -> bool:
    """True when the bracket at ``start`` is not closed by the end of ``text``."""
    depth = 0
    quote: str | None = None
    escaped = False
    for char in text[start:]:
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return False
    return True


def _python_literal(text: str, start: int) -> tuple[Any, int] | None:
    """A Python-style literal (single quotes, as printed parsed results look) at ``start``."""
    closing = {"[": "]", "{": "}"}[text[start]]
    end = text.find(closing, start)
    for _ in range(_MAX_LITERAL_TRIES):
        if end == -1:
            break
        try:
            return ast.literal_eval(text[start : end + 1]), end + 1
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            end = text.find(closing, end + 1)
    return None


def _values(segment: str, *, strict: bool) -> Iterator[Any]:
    """JSON values in ``segment`` from left to right; ``strict`` keeps only complete ones."""
    decoder = json.JSONDecoder()
    position = 0
    while True:
        starts = [i for i in (segment.find("[", position), segment.find("{", position)) if i >= 0]
        if not starts:
            return
        start = min(starts)
        try:
            value, position = decoder.raw_decode(segment, start)
        except ValueError:
            if strict and _unclosed(segment, start):
                return  # still being written: wait for the rest
            literal = _python_literal(segment, start)
            if literal is not None:
                value, position = literal
            elif segment[start] == "[" and not strict:
                value, position = _decode_list_prefix(segment, start, decoder)
            else:
                position = start + 1
                continue
        yield value


def _items(value: Any) -> Iterator[Mapping[str, Any]]:
    """Localization items inside a decoded value (a list, an object, or an object of lists)."""
    if isinstance(value, Mapping):
        if _COORD_KEYS & value.keys():
            yield value
        else:
            for inner in value.values():
                if isinstance(inner, list | Mapping):
                    yield from _items(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _items(inner)


# --- building typed results ----------------------------------------------------------------


def _numbers(item: Mapping[str, Any], key: str, count: int, raw: str) -> list[float]:
    value = item[key]
    if (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
        and all(math.isfinite(v) for v in value)
    ):
        return [float(v) for v in value]
    raise GroundingParseError(
        f"grounding: {key} must be a list of {count} numbers, got {value!r} in item {dict(item)!r}",
        raw,
    )


def _result(item: Mapping[str, Any], context: Mapping[str, Any], raw: str) -> GroundingResult:
    extra = {str(k): v for k, v in item.items() if k not in _COORD_KEYS and k not in _OWN_FIELDS}
    label = extra.pop("label", "")
    extra["label"] = label if isinstance(label, str) else json.dumps(label, ensure_ascii=False)
    if _BOX3D_KEY in item:
        values = _numbers(item, _BOX3D_KEY, 9, raw)
        return Box3D(
            **extra,
            **dict(zip(_FIELDS_3D, values, strict=True)),
            image_size=context.get("image_size"),
            intrinsics=context.get("intrinsics"),
        )
    shared = {k: context.get(k) for k in ("coordinates", "frame_size", "image_size")}
    for key in _BOX_KEYS:
        if key in item:
            x1, y1, x2, y2 = _numbers(item, key, 4, raw)
            score = extra.pop("score", None)
            if not isinstance(score, int | float) or isinstance(score, bool):
                if score is not None:
                    extra["score_raw"] = score
                score = None
            return Box2D(**extra, x1=x1, y1=y1, x2=x2, y2=y2, score=score, **shared)
    key = next(k for k in _POINT_KEYS if k in item)
    x, y = _numbers(item, key, 2, raw)
    return Point2D(**extra, x=x, y=y, **shared)


def find_results(
    text: str,
    *,
    strict: bool = False,
    coordinates: Coordinates = "relative_1000",
    frame_size: tuple[int, int] | None = None,
    image_size: tuple[int, int] | None = None,
    intrinsics: Intrinsics | None = None,
) -> tuple[list[GroundingResult], bool]:
    """(results, whether any JSON with localization keys was found) — never raises for
    'nothing found'; raises :class:`GroundingParseError` for malformed coordinates."""
    context = {
        "coordinates": coordinates,
        "frame_size": frame_size,
        "image_size": image_size,
        "intrinsics": intrinsics,
    }
    results: list[GroundingResult] = []
    found_json = False
    for segment in _segments(text):
        for value in _values(segment, strict=strict):
            if value == [] or value == {}:
                found_json = True
            for item in _items(value):
                found_json = True
                results.append(_result(item, context, text))
    return results, found_json


def parse_grounding(
    text: str,
    *,
    coordinates: Coordinates = "relative_1000",
    frame_size: tuple[int, int] | None = None,
    image_size: tuple[int, int] | None = None,
    intrinsics: Intrinsics | Mapping[str, float] | None = None,
) -> list[GroundingResult]:
    """Every box, point and 3D box in a model's answer, typed, in the order written.

    ``coordinates`` names the convention the numbers are in (``"relative_1000"`` for Qwen3-VL,
    ``"absolute_resized"`` for Qwen2.5-VL with ``frame_size`` = the (width, height) the model
    saw); ``image_size`` (width, height of the original picture) lets ``to_pixels()`` work
    without arguments. Returns ``[]`` when the text says nothing was found; raises
    :class:`GroundingParseError` (carrying the raw text) when it holds no localization JSON.

    Example:
        >>> parse_grounding('Here: ```json\\n[{"bbox_2d": [10, 20, 30, 40], "label": "cat"},]\\n```')
        [Box2D(label='cat', coordinates='relative_1000', frame_size=None, image_size=None, x1=10.0, y1=20.0, x2=30.0, y2=40.0, score=None)]
    """  # noqa: E501
    if not isinstance(text, str):
        raise TypeError(f"parse_grounding: text must be a str, got {type(text).__name__}")
    if coordinates not in ("relative_1000", "absolute_resized"):
        raise ValueError(
            f"coordinates must be 'relative_1000' or 'absolute_resized', got {coordinates!r}"
        )
    camera = Intrinsics.coerce(intrinsics) if intrinsics is not None else None
    results, found_json = find_results(
        text,
        coordinates=coordinates,
        frame_size=frame_size,
        image_size=image_size,
        intrinsics=camera,
    )
    if results or found_json or says_nothing_found(text):
        return results
    preview = text if len(text) <= _RAW_PREVIEW else text[: _RAW_PREVIEW - 1] + "…"
    raise GroundingParseError(
        "grounding: the answer holds no bbox_2d/bbox/point_2d/bbox_3d JSON and does not say "
        f"that nothing was found. Answer: {preview!r} — ask for 'JSON' in the prompt, or raise "
        "max_tokens if the answer was cut short.",
        text,
    )
