"""The pixel budget of one image: where it is read from, in which order, and its valid range.

Precedence, highest first (one rule for the request, the token count and the estimate):

1. ``vl_high_resolution_images`` (per call, else the model field) fixes the cap at
   16,777,216 px and ignores every ``max_pixels``;
2. the content part's own ``max_pixels`` / ``min_pixels`` (beside ``image_url``, where the
   service documents them);
3. the same keys nested inside ``image_url`` (some OpenAI-style clients put them there);
4. the per-call keyword arguments (``llm.invoke(msgs, max_pixels=...)``, ``bind``);
5. the model fields (``ChatQwenVL(max_pixels=...)``);
6. the service defaults: cap 2,621,440 px, floor 4 patches (4,096 px).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any

from pydantic import Field, TypeAdapter, ValidationError

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._geometry import (
    DEFAULT_MAX_PIXELS,
    HIGH_RESOLUTION_MAX_PIXELS,
    MIN_PIXELS,
)

__all__ = [
    "ImageBudget",
    "MediaOptions",
    "PixelCount",
    "check_pixel_count",
    "effective_max_pixels",
    "resolve_budget",
]

#: A per-image pixel budget the service accepts: 4 patches up to 16,777,216 px.
PixelCount = Annotated[int, Field(strict=False, ge=MIN_PIXELS, le=HIGH_RESOLUTION_MAX_PIXELS)]


@cache
def _pixel_count_adapter() -> TypeAdapter[int]:
    return TypeAdapter(PixelCount)


def check_pixel_count(name: str, value: Any, where: str) -> int:
    """``value`` as a valid pixel budget, or a :class:`QwenVLImageError` naming it and the fix.

    Example:
        >>> check_pixel_count("max_pixels", 1_000_000, "image")
        1000000
    """
    example = DEFAULT_MAX_PIXELS if name == "max_pixels" else MIN_PIXELS
    if not isinstance(value, bool):
        try:
            return _pixel_count_adapter().validate_python(value)
        except ValidationError:
            pass
    from langchain_qwen_vl.media._sources import describe

    raise QwenVLImageError(
        f"{where}: {name} must be an integer number of pixels in [{MIN_PIXELS:,}, "
        f"{HIGH_RESOLUTION_MAX_PIXELS:,}], got {describe(value)} — e.g. {name}={example}."
    )


def effective_max_pixels(max_pixels: int | None, vl_high_resolution_images: bool) -> int:
    """The pixel cap the service applies to one image.

    ``vl_high_resolution_images`` fixes the cap at 16,777,216 and ignores ``max_pixels``;
    otherwise it is ``max_pixels`` or the default 2,621,440.

    Example:
        >>> effective_max_pixels(None, False), effective_max_pixels(1_000_000, True)
        (2621440, 16777216)
    """
    if vl_high_resolution_images:
        return HIGH_RESOLUTION_MAX_PIXELS
    return DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """The request-wide budget (per-call kwargs over model fields) that blocks may override."""

    max_pixels: int | None = None
    min_pixels: int | None = None
    vl_high_resolution_images: bool = False


@dataclass(frozen=True, slots=True)
class ImageBudget:
    """The budget of one image. ``max_pixels``/``min_pixels`` are what is sent beside the part
    (None: not sent); ``cap``/``floor`` are what the service applies."""

    max_pixels: int | None = None
    min_pixels: int | None = None
    vl_high_resolution_images: bool = False

    @property
    def cap(self) -> int:
        return effective_max_pixels(self.max_pixels, self.vl_high_resolution_images)

    @property
    def floor(self) -> int:
        return self.min_pixels or MIN_PIXELS


def resolve_budget(
    block: Mapping[str, Any] | None, options: MediaOptions, where: str
) -> ImageBudget:
    """The validated budget of the image in ``block`` (None: a bare image), by the precedence
    in this module's docstring.

    Example:
        >>> block = {"type": "image_url", "image_url": {"url": "https://x/a.jpg",
        ...          "max_pixels": 200_000}, "max_pixels": 2_000_000}
        >>> resolve_budget(block, MediaOptions(max_pixels=500_000), "m[0]").cap
        2000000
    """
    block = block or {}
    inner = block.get("image_url")
    nested: Mapping[str, Any] = inner if isinstance(inner, Mapping) else {}
    # The first value set wins: the part's own key, the nested image_url key, the call's.
    max_pixels = block.get("max_pixels")
    if max_pixels is None:
        max_pixels = nested.get("max_pixels")
    if max_pixels is None:
        max_pixels = options.max_pixels
    min_pixels = block.get("min_pixels")
    if min_pixels is None:
        min_pixels = nested.get("min_pixels")
    if min_pixels is None:
        min_pixels = options.min_pixels
    if max_pixels is not None:
        max_pixels = check_pixel_count("max_pixels", max_pixels, where)
    if min_pixels is not None:
        min_pixels = check_pixel_count("min_pixels", min_pixels, where)
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise QwenVLImageError(
            f"{where}: min_pixels ({min_pixels:,}) exceeds max_pixels ({max_pixels:,}) — lower "
            "min_pixels."
        )
    return ImageBudget(max_pixels, min_pixels, options.vl_high_resolution_images)
