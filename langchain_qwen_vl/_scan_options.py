"""Options of the scan parser: the keyword set the loader passes through, and their checks."""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypedDict

from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.stores import BaseStore, ByteStore

from langchain_qwen_vl.errors import QwenVLInputError

__all__ = [
    "ScanParserOptions",
    "check_cache_and_batch",
    "check_choice",
    "check_positive",
    "has_tqdm",
]


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
    cache_store: ByteStore | None
    use_batch_api: bool
    batch_options: Mapping[str, Any] | None
    batch_poll_interval: float
    batch_timeout: float | None


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


def check_cache_and_batch(
    cache_dir: Any, cache_store: Any, poll_interval: float, timeout: float | None
) -> None:
    """The cache store and batch options, checked before any work."""
    if cache_dir is not None and cache_store is not None:
        raise QwenVLInputError(
            "cache_dir and cache_store: pass one — cache_dir is a directory store itself."
        )
    if cache_store is not None and not isinstance(cache_store, BaseStore):
        raise QwenVLInputError(
            f"cache_store: expected a LangChain ByteStore, got {type(cache_store).__name__} — "
            "e.g. langchain_core.stores.InMemoryByteStore() or a Redis/S3 store."
        )
    check_positive("batch_poll_interval", poll_interval)
    if timeout is not None:
        check_positive("batch_timeout", timeout)
