"""The service's image geometry: its resize formula, the downscale target, the size checks.

Each rule is written once here and used by every caller (the chat model, token estimates,
the scan loader, the vision tool). The emulator keeps its own copy on purpose: it stands in
for the service.
"""

from __future__ import annotations

import math

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HIGH_RESOLUTION_MAX_PIXELS",
    "MAX_ASPECT_RATIO",
    "MIN_PIXELS",
    "MIN_SIDE",
    "PATCH_SIZE",
    "downscale_target",
    "image_tokens_for_size",
    "is_fixed_point",
    "resized_dimensions",
    "size_problem",
]

PATCH_SIZE = 32
DEFAULT_MAX_PIXELS = 2_621_440  # 2,560 tokens
HIGH_RESOLUTION_MAX_PIXELS = 16_777_216  # 16,384 tokens
MIN_PIXELS = 4 * PATCH_SIZE * PATCH_SIZE
MIN_SIDE = 10  # each side must be > 10 px
MAX_ASPECT_RATIO = 200


def _smart_resize(
    height: int, width: int, max_pixels: int, min_pixels: int, factor: int = PATCH_SIZE
) -> tuple[int, int, bool]:
    """(h̄, w̄, capped): the service's formula; ``capped`` says the max_pixels step applied.

    ``factor`` is the grid: 32 px for Qwen3-VL, 28 px for the Qwen2.5-VL family.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    capped = h_bar * w_bar > max_pixels
    if capped:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    # A separate `if`, as the service documents it (qwen-vl-utils has `elif`): the two differ
    # only when step 2 lands under min_pixels (a tiny cap, or a side floored to 0).
    if h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar, capped


def resized_dimensions(
    height: int,
    width: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_pixels: int = MIN_PIXELS,
    factor: int = PATCH_SIZE,
) -> tuple[int, int]:
    """The (height, width) the service resizes an image to (on a ``factor``-px grid).

    Round each side to a multiple of 32 (Python's ``round``: halves go to even, as in the
    reference qwen-vl-utils); if that exceeds ``max_pixels`` scale down (floor), then if it is
    under ``min_pixels`` scale up (ceil). Symmetric in its arguments, so EXIF rotation does
    not change the token count.

    Example:
        >>> resized_dimensions(3024, 4032)  # a 12 MP photo at the default cap
        (1376, 1856)
    """
    h_bar, w_bar, _ = _smart_resize(height, width, max_pixels, min_pixels, factor)
    return h_bar, w_bar


def image_tokens_for_size(
    height: int,
    width: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_pixels: int = MIN_PIXELS,
) -> int:
    """Input tokens of one image of this size: one per 32x32 patch of the resized image, +2.

    Example:
        >>> image_tokens_for_size(3024, 4032), image_tokens_for_size(100, 100)
        (2496, 11)
    """
    h_bar, w_bar = resized_dimensions(height, width, max_pixels=max_pixels, min_pixels=min_pixels)
    return h_bar * w_bar // (PATCH_SIZE * PATCH_SIZE) + 2


def downscale_target(
    width: int, height: int, max_pixels: int, min_pixels: int = MIN_PIXELS
) -> tuple[int, int] | None:
    """(width, height) to downscale an image to before upload, or None to send it as it is.

    Only when the cap applied and the service's grid is a fixed point of its own formula: the
    service then keeps our grid as it is and counts the same tokens as for the original. At
    extreme aspect ratios under a tiny cap the grid is not a fixed point (6213x2504 at 4,096 px
    becomes 128x64, which the service would shrink again to 96x64: 8 tokens instead of 10), so
    the original is sent.

    Example:
        >>> downscale_target(4032, 3024, 2_621_440)
        (1856, 1376)
        >>> downscale_target(6213, 2504, 4_096) is None
        True
    """
    h_bar, w_bar, capped = _smart_resize(height, width, max_pixels, min_pixels)
    if not capped or not (0 < h_bar <= height and 0 < w_bar <= width):
        return None
    if h_bar * w_bar >= height * width:
        return None
    if _smart_resize(h_bar, w_bar, max_pixels, min_pixels)[:2] != (h_bar, w_bar):
        return None
    return w_bar, h_bar


def is_fixed_point(width: int, height: int, max_pixels: int, min_pixels: int = MIN_PIXELS) -> bool:
    """True when the service keeps an image of this size exactly as it is (no resize).

    Example:
        >>> is_fixed_point(1856, 1376, 2_621_440), is_fixed_point(1857, 1376, 2_621_440)
        (True, False)
    """
    return _smart_resize(height, width, max_pixels, min_pixels)[:2] == (height, width)


def size_problem(width: int, height: int) -> str | None:
    """Why the service refuses an image of this size (and the fix), or None if it accepts it.

    Example:
        >>> size_problem(10, 500)
        'is 10x500 px; the service needs each side > 10 px — upscale or pad the image'
    """
    if min(width, height) <= MIN_SIDE:
        return (
            f"is {width}x{height} px; the service needs each side > {MIN_SIDE} px — upscale or "
            "pad the image"
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        return (
            f"is {width}x{height} px, an aspect ratio over {MAX_ASPECT_RATIO}:1 — crop or split "
            "it into several images"
        )
    return None
