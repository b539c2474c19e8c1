"""Per-call parameters: a model's fields overridden, for one call, by validated keyword args.

``llm.invoke(messages, temperature=0.2)`` or ``llm.bind(enable_thinking=True)`` change one call
only. Overrides are checked with the same constraints as the fields themselves, so a bad value
is refused with the field, the value and the fix before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, TypeAdapter

from langchain_qwen_vl.errors import QwenVLInputError

# Fields a caller may override for one call (``model.invoke(msgs, temperature=0.2)``).
PER_CALL_FIELDS = (
    "model",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "stop",
    "presence_penalty",
    "enable_thinking",
    "thinking_budget",
    "vl_high_resolution_images",
    "max_pixels",
    "min_pixels",
    "stream_usage",
    "extra_body",
)
# Request-body keys set by bind_tools / with_structured_output / users, sent as given.
BODY_KWARGS = ("tools", "tool_choice", "parallel_tool_calls", "response_format", "n")
# Keys LangChain itself passes down that are not request parameters.
IGNORED_KWARGS = ("stream", "ls_structured_output_format")

# Fields sent as top-level JSON keys of a chat_completions body when set.
SAMPLING_FIELDS = (
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "presence_penalty",
    "enable_thinking",
    "thinking_budget",
    "vl_high_resolution_images",
)


def short(value: Any) -> str:
    """``repr(value)`` cut to 80 characters, for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@cache
def _adapter(model_class: type[BaseModel], name: str) -> TypeAdapter[Any]:
    field = model_class.model_fields[name]
    annotated: Any = field.annotation
    for constraint in field.metadata:  # nested Annotated flattens into one
        annotated = Annotated[annotated, constraint]
    return TypeAdapter(annotated)


def _validate(model_class: type[BaseModel], name: str, value: Any) -> Any:
    try:
        return _adapter(model_class, name).validate_python(value)
    except ValueError as error:
        raise QwenVLInputError(
            f"{name}={short(value)}: invalid per-call value — {error}".replace("\n", " ")
        ) from error


def resolve(
    model_class: type[BaseModel],
    fields: Mapping[str, Any],
    stop: list[str] | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """The parameters of one call: ``fields`` (the model's values of :data:`PER_CALL_FIELDS`)
    overridden by validated ``kwargs``; body-level keys (tools, ...) are collected under
    ``_body``.

    Example:
        >>> from langchain_qwen_vl import ChatQwenVL
        >>> resolve(ChatQwenVL, {"temperature": 0.1}, None, {"temperature": 0.5})["temperature"]
        0.5
    """
    params = dict(fields)
    body_kwargs: dict[str, Any] = {}
    for key, value in kwargs.items():
        if key in IGNORED_KWARGS:
            continue
        if key in PER_CALL_FIELDS:
            params[key] = _validate(model_class, key, value)
        elif key in BODY_KWARGS:
            body_kwargs[key] = value
        else:
            raise QwenVLInputError(
                f"{key}={short(value)}: not a parameter of {model_class.__name__} — use one of "
                f"{', '.join(PER_CALL_FIELDS + BODY_KWARGS)}, or pass extra_body={{...}} for a "
                "raw request key."
            )
    if stop is not None:  # invoke(..., stop=...) arrives here, past LangChain's own checks
        params["stop"] = _validate(model_class, "stop", stop)
    params["_body"] = body_kwargs
    return params
