"""The service's own image rules, as the emulator applies them.

A copy on purpose, never an import of the client's media code: the emulator stands in for the
service, so a bug in the client's rules must show up as a disagreement in a test, not be
repeated on both sides. Its tests pin literal values.
"""

from __future__ import annotations

import base64
import binascii
import math

PATCH = 32
MIN_PIXELS = 4 * PATCH * PATCH  # 4,096
DEFAULT_MAX_PIXELS = 2_621_440
HIGH_RESOLUTION_MAX_PIXELS = 16_777_216
MAX_DATA_URI_CHARS = 10 * 1024 * 1024  # the 10 MB limit counts the base64 text
MAX_IMAGES_PER_REQUEST = 256


def image_cap(max_pixels: int | None, vl_high_resolution_images: bool) -> int:
    """The cap applied to one image: fixed at 16,777,216 in high-resolution mode."""
    if vl_high_resolution_images:
        return HIGH_RESOLUTION_MAX_PIXELS
    return DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels


def smart_resize(height: int, width: int, max_pixels: int, min_pixels: int) -> tuple[int, int]:
    """(height, width) the model sees, by the service's published formula."""
    h = round(height / PATCH) * PATCH
    w = round(width / PATCH) * PATCH
    if h * w > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h = math.floor(height / beta / PATCH) * PATCH
        w = math.floor(width / beta / PATCH) * PATCH
    if h * w < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h = math.ceil(height * beta / PATCH) * PATCH
        w = math.ceil(width * beta / PATCH) * PATCH
    return h, w


def image_tokens(height: int, width: int, max_pixels: int, min_pixels: int) -> int:
    """One token per 32x32 patch of the resized image, plus 2."""
    h, w = smart_resize(height, width, max_pixels, min_pixels)
    return h * w // (PATCH * PATCH) + 2


def data_uri_payload(uri: str) -> bytes:
    """The bytes of a ``data:<mime>;base64,<data>`` URI; ValueError when it is malformed."""
    head, sep, payload = uri.partition(",")
    if not head.lower().startswith("data:") or not sep:
        raise ValueError("not a data URI")
    if ";base64" not in head.lower():
        raise ValueError("only base64 data URIs are accepted")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"invalid base64 payload ({exc})") from None
