"""Answers of an unexpected shape become :class:`QwenVLResponseError`, never a stray exception.

The parsers in ``_wire.chat_completions`` read the documented shapes; a service (or proxy) can
still send valid JSON of another shape (``"choices": [1]``, a string ``delta``...). Parsing
goes through these two functions so that such an answer raises our documented error, with the
request id when the body has one, instead of an ``AttributeError`` from deep inside.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.outputs import ChatGenerationChunk, ChatResult

from langchain_qwen_vl._wire.chat_completions import StreamAssembler, result_from_response
from langchain_qwen_vl.errors import QwenVLError, QwenVLResponseError

__all__ = ["feed", "parse_result"]

_SHAPE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError)


def _shape_error(body: Mapping[str, Any], error: Exception, what: str) -> QwenVLResponseError:
    found = body.get("id") if isinstance(body, Mapping) else None
    request_id = found if isinstance(found, str) and found else None
    suffix = f" [request_id={request_id}]" if request_id else ""
    return QwenVLResponseError(
        f"Qwen-VL sent {what} of an unexpected shape ({type(error).__name__}: {error}).{suffix}",
        status_code=200,
        code="malformed_response",
        request_id=request_id,
        body=dict(body) if isinstance(body, Mapping) else body,
    )


def parse_result(body: Mapping[str, Any]) -> ChatResult:
    """:func:`result_from_response`, raising only :class:`QwenVLError`."""
    try:
        return result_from_response(body)
    except QwenVLError:
        raise
    except _SHAPE_ERRORS as error:
        raise _shape_error(body, error, "an answer") from error


def feed(assembler: StreamAssembler, payload: Mapping[str, Any]) -> ChatGenerationChunk | None:
    """``assembler.feed(payload)``, raising only :class:`QwenVLError`."""
    try:
        return assembler.feed(payload)
    except QwenVLError:
        raise
    except _SHAPE_ERRORS as error:
        raise _shape_error(payload, error, "a stream event") from error
