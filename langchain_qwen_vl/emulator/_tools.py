"""Tool calls and schema-shaped JSON, built deterministically from the prompt.

The emulator is not a model: it decides to call a tool only on plain textual evidence, and
fills arguments with values *found in the prompt* (numbers, quoted or capitalised phrases,
words after "in"/"for"/"of"/"about", ``name: value`` pairs), falling back to labelled
placeholders (``"emulated <field>"``, ``1``, ``true``, the first enum value). Every value is
valid for the JSON schema it was built from, for the schema features listed in
:func:`value_for_schema`.

When a tool is called:

- ``tool_choice`` names a function → that function;
- ``tool_choice`` is ``"none"`` → never;
- the conversation ends with a tool result → never (the answer reports the result);
- the last user message mentions tools by name → the first one, or all of them in order of
  mention with ``parallel_tool_calls: true``;
- otherwise, the same with tools whose name's topic words all appear in the last user message
  (``get_weather`` for "What is the weather in Paris?"; see :func:`topical_tools`);
- the last user message names a file or URL and a tool has a parameter for one → that tool
  (see :mod:`langchain_qwen_vl.emulator._agent`);
- the last user message asks to "use the tool" / "use a tool" / "using the tool" / "call the
  tool" and there is exactly one tool → that tool.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\"([^\"]+)\"|“([^”]+)”|‘([^’]+)’|(?<!\w)'([^']+)'(?!\w)")
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_AFTER_PREPOSITION = re.compile(
    r"\b(?i:in|for|of|about)\s+(?i:the\s+|a\s+|an\s+)?([^\W\d][\w-]*(?:\s+[A-Z][\w-]*)*)"
)
_SENTENCE_START = re.compile(r"(?:^|[.!?]\s)\s*$")
USE_A_TOOL = re.compile(
    r"\b(?:use|using|call|calling|invoke)\s+(?:the|a|your|this|that|an?\s+available)\s+tools?\b",
    re.IGNORECASE,
)
# Words that are never taken as values for string fields.
_STOPWORD_TEXT = (
    "a an and are as at be but by can could do does for from give how i if in is it its me "
    "my of on or please return say show tell that the their them then there these this those "
    "to use us was we what when where which who why will with would you your image picture "
    "photo json answer call tool function value"
)
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# Words of a tool name that say nothing about its topic ("get_weather" is about weather).
_GENERIC_NAME_TEXT = (
    "get set fetch find lookup look up search query run do make call use tool function "
    "retrieve read list compute calculate check the a of for by"
)
_GENERIC_NAME_WORDS = frozenset(_GENERIC_NAME_TEXT.split())
_FORMAT_PLACEHOLDERS = {
    "date": "2026-01-22",
    "date-time": "2026-01-22T00:00:00Z",
    "time": "00:00:00",
    "email": "emulated@example.com",
    "uri": "https://example.com/emulated",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 12


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the emulated model makes: ``arguments`` is JSON text, as on the wire."""

    id: str
    name: str
    arguments: str


# --- values found in the prompt -------------------------------------------------------------


def _is_stopword(phrase: str) -> bool:
    return phrase.lower() in _STOPWORDS


class PromptValues:
    """Candidate values found in a prompt, handed out in order of appearance.

    Example:
        >>> values = PromptValues('Weather in Paris for 3 days, units: "metric"')
        >>> values.next_string(), values.next_number()
        ('metric', 3)
    """

    def __init__(self, text: str, *, exclude: Collection[str] = ()) -> None:
        self.text = text
        excluded = {e.lower() for e in exclude}
        self._numbers: deque[int | float] = deque(
            float(m) if "." in m else int(m) for m in _NUMBER.findall(text)
        )
        phrases: list[str] = [next(g for g in m if g) for m in _QUOTED.findall(text)]
        for match in _CAPITALISED.finditer(text):
            words = match.group(0).split()
            if _SENTENCE_START.search(text[: match.start()]):
                words.pop(0)  # "Weather in Paris": a capital that only starts a sentence
            while words and _is_stopword(words[0]):
                words.pop(0)
            phrases.append(" ".join(words))
        phrases.extend(_AFTER_PREPOSITION.findall(text))
        seen: set[str] = set()
        self._strings: deque[str] = deque()
        for phrase in (p.strip() for p in phrases):
            key = phrase.lower()
            if phrase and key not in seen and key not in excluded and not _is_stopword(phrase):
                seen.add(key)
                self._strings.append(phrase)

    def next_string(self) -> str | None:
        """The next unused phrase, or None."""
        return self._strings.popleft() if self._strings else None

    def next_number(self) -> int | float | None:
        """The next unused number, or None."""
        return self._numbers.popleft() if self._numbers else None

    def explicit(self, name: str) -> str | None:
        """A value given by name: ``name: value``, ``name=value`` or ``name is value``."""
        label = re.escape(name).replace("_", "[_ ]")
        pattern = rf"\b{label}\s*(?:=|:|\bis\b)\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s,;!?]+))"
        match = re.search(pattern, self.text, re.IGNORECASE)
        if not match:
            return None
        value = next(g for g in match.groups() if g is not None)
        return value.rstrip(".") if match.group(3) is not None else value

    def mentions(self, word: str) -> bool:
        """Whether the prompt contains ``word`` as a whole word (case-insensitive)."""
        return (
            re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", self.text, re.IGNORECASE) is not None
        )


# --- schema-shaped values -------------------------------------------------------------------


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    for _ in range(_MAX_DEPTH):
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#/"):
            return schema
        target: Any = root
        for key in ref[2:].split("/"):
            target = target.get(key) if isinstance(target, Mapping) else None
        if not isinstance(target, Mapping):
            return {}
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _type_of(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _clamp(value: int | float, schema: Mapping[str, Any], integer: bool) -> int | float:
    step = 1 if integer else 0.5
    if isinstance(schema.get("minimum"), int | float):
        value = max(value, schema["minimum"])
    if (
        isinstance(schema.get("exclusiveMinimum"), int | float)
        and value <= schema["exclusiveMinimum"]
    ):
        value = schema["exclusiveMinimum"] + step
    if isinstance(schema.get("maximum"), int | float):
        value = min(value, schema["maximum"])
    if (
        isinstance(schema.get("exclusiveMaximum"), int | float)
        and value >= schema["exclusiveMaximum"]
    ):
        value = schema["exclusiveMaximum"] - step
    return round(value) if integer else value


def _number(
    schema: Mapping[str, Any], name: str, values: PromptValues, facts: Mapping[str, Any]
) -> int | float:
    integer = _type_of(schema) == "integer"
    found: int | float | None = None
    explicit = values.explicit(name) if name else None
    if explicit is not None and _NUMBER.fullmatch(explicit):
        found = float(explicit) if "." in explicit else int(explicit)
    elif isinstance(facts.get(name.lower()), int | float) and not isinstance(
        facts.get(name.lower()), bool
    ):
        found = facts[name.lower()]
    else:
        found = values.next_number()
    return _clamp(1 if found is None else found, schema, integer)


def _string(
    schema: Mapping[str, Any], name: str, values: PromptValues, facts: Mapping[str, Any]
) -> str:
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMAT_PLACEHOLDERS:
        return _FORMAT_PLACEHOLDERS[fmt]
    fact = facts.get(name.lower())
    found = (values.explicit(name) if name else None) or (fact if isinstance(fact, str) else None)
    text = found or values.next_string() or f"emulated {name or 'value'}"
    min_length, max_length = schema.get("minLength"), schema.get("maxLength")
    if isinstance(min_length, int) and len(text) < min_length:
        text = text.ljust(min_length, "x")
    if isinstance(max_length, int):
        text = text[:max_length]
    return text


def _object(
    schema: Mapping[str, Any],
    values: PromptValues,
    facts: Mapping[str, Any],
    root: Mapping[str, Any],
    depth: int,
) -> dict[str, Any]:
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return {}
    required = schema.get("required")
    names = list(properties)
    if isinstance(required, list):
        # Optional fields only when the prompt or the facts give them a value.
        names = [
            n
            for n in names
            if n in required or n.lower() in facts or values.explicit(n) is not None
        ]
    result: dict[str, Any] = {}
    for name in names:
        sub = properties[name]
        result[name] = _value(
            sub if isinstance(sub, Mapping) else {}, name, values, facts, root, depth + 1
        )
    return result


def _value(
    schema: Mapping[str, Any],
    name: str,
    values: PromptValues,
    facts: Mapping[str, Any],
    root: Mapping[str, Any],
    depth: int,
) -> Any:
    schema = _resolve(schema, root)
    if depth > _MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return next((v for v in enum if isinstance(v, str) and values.mentions(v)), enum[0])
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            resolved = [_resolve(o, root) for o in options if isinstance(o, Mapping)]
            chosen = next((o for o in resolved if _type_of(o) != "null"), resolved[0])
            return _value(chosen, name, values, facts, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            if isinstance(part, Mapping):
                merged.update(_resolve(part, root))
        return _value(merged, name, values, facts, root, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, values, facts, root, depth)
    if kind == "array":
        return _array(schema, name, values, facts, root, depth)
    if kind in ("integer", "number"):
        return _number(schema, name, values, facts)
    if kind == "boolean":
        explicit = values.explicit(name) if name else None
        return not (explicit is not None and explicit.lower() in ("false", "no", "0"))
    if kind == "null":
        return None
    return _string(schema, name, values, facts)


def _array(
    schema: Mapping[str, Any],
    name: str,
    values: PromptValues,
    facts: Mapping[str, Any],
    root: Mapping[str, Any],
    depth: int,
) -> list[Any]:
    items = schema.get("items")
    item_schema = _resolve(items, root) if isinstance(items, Mapping) else {}
    min_items, max_items = schema.get("minItems"), schema.get("maxItems")
    low: int = min_items if isinstance(min_items, int) else 1
    high: int | None = max_items if isinstance(max_items, int) else None
    fact = facts.get(name.lower())
    if isinstance(fact, list) and fact and _type_of(item_schema) == "string":
        chosen = [str(v) for v in fact][: high if high is not None else None]
        while len(chosen) < low:
            chosen.append(_string(item_schema, name, values, {}))
        return chosen
    count = max(low, 1) if high is None else min(max(low, 1), high)
    return [_value(item_schema, name, values, facts, root, depth + 1) for _ in range(count)]


def value_for_schema(
    schema: Mapping[str, Any],
    *,
    text: str,
    facts: Mapping[str, Any] | None = None,
    exclude: Collection[str] = (),
) -> Any:
    """A value valid for ``schema``, filled from ``text`` and ``facts`` (keyed by field name).

    Understands ``type`` (also as a list), ``properties``/``required``, ``items``/``minItems``/
    ``maxItems``, ``enum``, ``const``, ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs`` or
    ``definitions``, ``minimum``/``maximum`` (also exclusive), ``minLength``/``maxLength`` and
    common string ``format`` values. ``pattern`` and ``multipleOf`` are not honoured.
    ``exclude`` lists phrases never used as values.

    Example:
        >>> value_for_schema({"type": "object", "properties": {"city": {"type": "string"},
        ...     "days": {"type": "integer"}}, "required": ["city", "days"]},
        ...     text="Weather in Paris for 3 days")
        {'city': 'Paris', 'days': 3}
    """
    return _value(schema, "", PromptValues(text, exclude=exclude), facts or {}, schema, 0)


def property_value(
    schema: Mapping[str, Any],
    name: str,
    values: PromptValues,
    facts: Mapping[str, Any],
    root: Mapping[str, Any],
) -> Any:
    """A value for one property ``name`` of an object schema (see :func:`value_for_schema`)."""
    return _value(schema, name, values, facts, root, 1)


def resolve_schema(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with a ``$ref`` followed, and a nullable ``anyOf``/``oneOf`` unwrapped."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options:
            resolved = [_resolve(o, root) for o in options if isinstance(o, Mapping)]
            return next((o for o in resolved if _type_of(o) != "null"), schema)
    return schema


def schema_type(schema: Mapping[str, Any]) -> str:
    """The JSON type a schema asks for (the first non-null one of a list)."""
    return _type_of(schema)


def build_arguments(
    parameters: Mapping[str, Any],
    text: str,
    *,
    exclude: Collection[str] = (),
    facts: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Arguments for a tool whose ``parameters`` JSON schema is given, filled from ``text``.

    ``exclude`` lists phrases never used as values (the tool names themselves).

    Example:
        >>> build_arguments({"type": "object", "properties": {"x": {"type": "integer"}},
        ...     "required": ["x"]}, "What is magic_function(3)?", exclude=["magic_function"])
        {'x': 3}
    """
    value = _value(parameters, "", PromptValues(text, exclude=exclude), facts or {}, parameters, 0)
    return value if isinstance(value, dict) else {}


# --- choosing tools ---------------------------------------------------------------------


def function_of(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function")
    return function if isinstance(function, Mapping) else {}


def mentioned_tools(text: str, names: Sequence[str]) -> list[str]:
    """Tool names that appear in ``text`` as whole words, in order of first mention.

    Example:
        >>> mentioned_tools("use get_time then get_weather", ["get_weather", "get_time"])
        ['get_time', 'get_weather']
    """
    found: list[tuple[int, str]] = []
    for name in names:
        match = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text, re.IGNORECASE)
        if match:
            found.append((match.start(), name))
    return [name for _, name in sorted(found)]


def _significant_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    words = [w.lower() for w in re.split(r"[_\-\s]+", spaced) if w]
    return [w for w in words if w not in _GENERIC_NAME_WORDS and not w.isdigit()]


def topical_tools(text: str, names: Sequence[str]) -> list[str]:
    """Tools whose name's significant words all appear in ``text``, in order of mention.

    Generic verbs (``get``, ``fetch``, ``lookup`` …) do not count, so ``get_weather`` is
    topical for "What is the weather in Paris?".

    Example:
        >>> topical_tools("What is the weather in Paris?", ["get_weather", "get_time"])
        ['get_weather']
    """
    found: list[tuple[int, str]] = []
    for name in names:
        words = _significant_words(name)
        positions = [
            re.search(rf"(?<![\w]){re.escape(word)}s?(?![\w])", text, re.IGNORECASE)
            for word in words
        ]
        if words and all(positions):
            found.append((min(p.start() for p in positions if p), name))
    return [name for _, name in sorted(found)]
