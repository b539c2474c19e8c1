"""Options of the scan parser: the keyword set the loader passes through, and their checks."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any, Literal, TypedDict

from langchain_core.rate_limiters import BaseRateLimiter

from langchain_qwen_vl.errors import QwenVLInputError

__all__ = ["ScanParserOptions", "check_choice", "check_positive", "has_tqdm"]


class ScanParserOptions(TypedDict, total=False):
    """Options of :class:`QwenVLScanParser` that :class:`QwenVLScanLoader` passes through."""

    output: Literal["markdown", "text"]
    prompt: str | None
    mode: Literal["page", "single"]
    page_separator: str
    on_error: Literal["include", "raise"]
    max_tokens: int | None
    enable_thinking: bool
    max_tokens_per_minute: int | None
    rate_limiter: BaseRateLimiter | None
    dpi: float | None
    max_dpi: float
    max_pixels: int | None
    min_pixels: int | None
    image_format: Literal["auto", "jpeg", "png"]
    jpeg_quality: int
    grayscale: bool | Literal["auto"]
    passthrough: bool
    pdf_password: str | None
    reopen_every: int


def has_tqdm() -> bool:
    try:
        importlib.import_module("tqdm")
    except ImportError:
        return False
    return True


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    if not any(
        value is choice or (type(value) is type(choice) and value == choice) for choice in choices
    ):
        raise QwenVLInputError(f"{name}={value!r}: use one of {', '.join(map(repr, choices))}.")


def check_positive(name: str, value: Any, *, integer: bool = False) -> None:
    number = isinstance(value, int) or (not integer and isinstance(value, float))
    if isinstance(value, bool) or not number or value <= 0:
        kind = "integer" if integer else "number"
        raise QwenVLInputError(f"{name}={value!r}: must be a positive {kind}.")
