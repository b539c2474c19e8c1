"""Every image/video input form -> what the service accepts; pixel budget; token estimate.

Users give images as http(s) URLs, data URIs, paths (``str``, ``Path``, ``file://``), raw
bytes, PIL images, or content blocks of LangChain (v1 and v0), OpenAI or DashScope. This
module turns each into an http(s) URL or a ``data:`` URI and checks the service's image rules
(spec §4) *before* anything is sent, raising :class:`~langchain_qwen_vl.errors.QwenVLImageError`
with the location, the offending value and the fix.

The server resizes every image to the grid of :func:`resized_dimensions` and throws away
pixels beyond the cap. So an image over the cap is downscaled here to exactly that grid:
the server computes the same token count on it, and the upload is a fraction of the bytes.
Images within the cap are sent byte for byte.

Pillow is imported lazily (see ``_media_codec``): importing this module stays cheap.
"""

from __future__ import annotations

import math
import operator
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_qwen_vl import _media_codec as _codec
from langchain_qwen_vl import _media_sources as _src
from langchain_qwen_vl._media_sources import image_source_from_block, prepare_video
from langchain_qwen_vl.errors import QwenVLImageError

if TYPE_CHECKING:
    from typing import TypeAlias

    from PIL import Image

    ImageSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | Image.Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HIGH_RESOLUTION_MAX_PIXELS",
    "MAX_BASE64_IMAGES_PER_REQUEST",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_IMAGE_BYTES",
    "MIN_PIXELS",
    "PATCH_SIZE",
    "SUPPORTED_IMAGE_FORMATS",
    "ImageSource",
    "PreparedImage",
    "decode_data_uri",
    "effective_max_pixels",
    "estimate_image_tokens",
    "image_block",
    "image_source_from_block",
    "image_tokens_for_size",
    "prepare_image",
    "prepare_video",
    "resized_dimensions",
]

PATCH_SIZE = 32
DEFAULT_MAX_PIXELS = 2_621_440  # 2,560 tokens
HIGH_RESOLUTION_MAX_PIXELS = 16_777_216  # 16,384 tokens
MIN_PIXELS = 4 * PATCH_SIZE * PATCH_SIZE
MAX_IMAGE_BYTES = 10 * 1024 * 1024  # for data URIs the service counts the base64 text
MAX_IMAGES_PER_REQUEST = 256
MAX_BASE64_IMAGES_PER_REQUEST = 250
MIN_SIDE = 10  # each side must be > 10 px
MAX_ASPECT_RATIO = 200
#: PIL format names the service accepts. HEIF is always listed: without a Pillow HEIF plugin
#: its bytes are sent unchanged (not measured, not downscaled).
SUPPORTED_IMAGE_FORMATS = _codec.SUPPORTED_FORMATS


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        # ImageSource names PIL.Image.Image; build it on first use to keep the import lazy.
        if name == "ImageSource":
            from PIL import Image

            alias = str | os.PathLike[str] | bytes | bytearray | Image.Image
            globals()["ImageSource"] = alias
            return alias
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An image ready for the wire.

    ``width``/``height`` are the size sent, as displayed (EXIF orientation applied), or None
    for remote URLs and HEIC that Pillow cannot decode. ``original_size`` is (width, height)
    before any downscale.
    """

    url: str
    mime_type: str | None
    width: int | None
    height: int | None
    original_size: tuple[int, int] | None
    resized: bool
    is_remote: bool


# --- the pixel budget (spec §4) -----------------------------------------------------------


def effective_max_pixels(max_pixels: int | None, vl_high_resolution_images: bool) -> int:
    """The pixel cap the server applies to one image.

    ``vl_high_resolution_images`` fixes the cap at 16,777,216 and ignores ``max_pixels``;
    otherwise it is ``max_pixels`` or the default 2,621,440.

    Example:
        >>> effective_max_pixels(None, False), effective_max_pixels(1_000_000, True)
        (2621440, 16777216)
    """
    if vl_high_resolution_images:
        return HIGH_RESOLUTION_MAX_PIXELS
    return DEFAULT_MAX_PIXELS if max_pixels is None else max_pixels


def _smart_resize(
    height: int, width: int, max_pixels: int, min_pixels: int
) -> tuple[int, int, bool]:
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    h_bar = round(height / PATCH_SIZE) * PATCH_SIZE
    w_bar = round(width / PATCH_SIZE) * PATCH_SIZE
    capped = h_bar * w_bar > max_pixels
    if capped:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / PATCH_SIZE) * PATCH_SIZE
        w_bar = math.floor(width / beta / PATCH_SIZE) * PATCH_SIZE
    # A separate `if`, as the spec writes it (qwen-vl-utils has `elif`): the two differ only
    # when step 2 lands under min_pixels (max_pixels < min_pixels, or a side floored to 0).
    if h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / PATCH_SIZE) * PATCH_SIZE
        w_bar = math.ceil(width * beta / PATCH_SIZE) * PATCH_SIZE
    return h_bar, w_bar, capped


def resized_dimensions(
    height: int,
    width: int,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_pixels: int = MIN_PIXELS,
) -> tuple[int, int]:
    """The (height, width) the server resizes an image to, by the formula of spec §4.

    Round each side to a multiple of 32 (Python's ``round``: halves go to even, as in the
    reference qwen-vl-utils); if that exceeds ``max_pixels`` scale down (floor), then if it is
    under ``min_pixels`` scale up (ceil). Symmetric in its arguments, so EXIF rotation does
    not change the token count.

    Example:
        >>> resized_dimensions(3024, 4032)  # a 12 MP photo at the default cap
        (1376, 1856)
    """
    h_bar, w_bar, _ = _smart_resize(height, width, max_pixels, min_pixels)
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


def _downscale_target(
    width: int, height: int, max_pixels: int, min_pixels: int
) -> tuple[int, int] | None:
    """(width, height) to downscale to, or None to send the image as it is.

    Only when the cap applied (step 2) and the result is a fixed point of the formula: the
    server then keeps our grid as is and counts the same tokens as for the original. (With
    odd budgets, e.g. min_pixels > max_pixels, it might not be; we then send the original.)
    """
    h_bar, w_bar, capped = _smart_resize(height, width, max_pixels, min_pixels)
    if not capped or not (0 < h_bar <= height and 0 < w_bar <= width):
        return None
    if h_bar * w_bar >= height * width:
        return None
    if _smart_resize(h_bar, w_bar, max_pixels, min_pixels)[:2] != (h_bar, w_bar):
        return None
    return w_bar, h_bar


def _budget(
    max_pixels: Any, min_pixels: Any, vl_high_resolution_images: bool, where: str
) -> tuple[int, int]:
    """Validated (cap, floor) for one image."""
    checked: list[int | None] = []
    for name, value, example in (
        ("max_pixels", max_pixels, DEFAULT_MAX_PIXELS),
        ("min_pixels", min_pixels, MIN_PIXELS),
    ):
        if value is None:
            checked.append(None)
            continue
        try:
            number = None if isinstance(value, bool) else operator.index(value)
        except TypeError:
            number = None
        # Spec §4: the budget may be raised per image up to 16,777,216 px; below 4 patches
        # the formula's own floor (MIN_PIXELS) contradicts it.
        if number is None or not MIN_PIXELS <= number <= HIGH_RESOLUTION_MAX_PIXELS:
            raise QwenVLImageError(
                f"{where}: {name} must be an integer number of pixels in [{MIN_PIXELS:,}, "
                f"{HIGH_RESOLUTION_MAX_PIXELS:,}], got {_src.describe(value)} — e.g. "
                f"{name}={example}."
            )
        checked.append(number)
    low, high = checked[1], checked[0]
    if low is not None and high is not None and low > high:
        raise QwenVLImageError(
            f"{where}: min_pixels ({low:,}) exceeds max_pixels ({high:,}) — lower min_pixels."
        )
    return effective_max_pixels(high, vl_high_resolution_images), low or MIN_PIXELS


def _check_dims(width: int, height: int, subject: str) -> None:
    if min(width, height) <= MIN_SIDE:
        raise QwenVLImageError(
            f"{subject} is {width}x{height} px; the service needs each side > {MIN_SIDE} px — "
            "upscale or pad the image."
        )
    if max(width, height) > MAX_ASPECT_RATIO * min(width, height):
        raise QwenVLImageError(
            f"{subject} is {width}x{height} px, an aspect ratio over {MAX_ASPECT_RATIO}:1 — "
            "crop or split it into several images."
        )


def _check_uri_size(length: int, subject: str) -> None:
    if length > MAX_IMAGE_BYTES:
        raise QwenVLImageError(
            f"{subject} is {length:,} bytes as a data URI, over the service's 10 MB limit "
            f"({MAX_IMAGE_BYTES:,} bytes, base64 text counted) — compress it (JPEG), lower "
            "max_pixels, or host it and pass an http(s) URL."
        )


def decode_data_uri(uri: str, *, where: str = "data URI") -> tuple[str, bytes]:
    """Split a ``data:`` URI into (mime type, raw bytes), validating the base64.

    The mime type is lower-cased and may be empty (``data:;base64,...``). Raises
    :class:`QwenVLImageError` (naming ``where``) on a malformed URI or bad base64.

    Example:
        >>> decode_data_uri("data:image/png;base64,aGk=")
        ('image/png', b'hi')
    """
    mime, raw, _ = _src.decode(uri, where)
    return mime, raw


def _contents(located: _src.Located, where: str) -> bytes:
    """The encoded bytes of a file, bytes or data URI input; never empty."""
    data = located.data if located.path is None else _src.read(located.path, where)
    if not data:
        raise QwenVLImageError(f"{located.subject} is empty — pass a non-empty image.")
    return data


def _prepare_encoded(data: bytes, located: _src.Located, cap: int, floor: int) -> PreparedImage:
    """Prepare an encoded image (the contents of a file, bytes or a data URI)."""
    subject = located.subject
    info = _codec.inspect(data, None, subject)
    target = None
    if info.size is not None:
        _check_dims(*info.size, subject)
        target = _downscale_target(*info.size, cap, floor)
    as_is_length = _src.data_uri_length(info.mime, len(data))
    if target is None and not _codec.needs_transcode(info) and as_is_length <= MAX_IMAGE_BYTES:
        # Within the cap: the bytes go as they are. A data URI's text is reused when it is
        # canonical and names the right type (the server may trust a wrong mime type).
        reusable = located.canonical_uri if located.declared_mime == info.mime else None
        url = reusable or _src.data_uri(info.mime, data)
        width, height = info.size if info.size is not None else (None, None)
        return PreparedImage(url, info.mime, width, height, info.size, False, False)
    if info.size is None:  # undecodable HEIF over 10 MB: nothing we can do
        _check_uri_size(as_is_length, subject)
    # Downscale, transcode (over 4K and not JPEG/PNG), or too big as it is (an uncompressed
    # BMP, a quality-100 JPEG): re-encode, and refuse only if that is still over 10 MB.
    encoded, mime, (width, height) = _codec.reencode(data, info, target, subject)
    url = _src.data_uri(mime, encoded)
    _check_uri_size(len(url), subject)
    return PreparedImage(url, mime, width, height, info.size, target is not None, False)


def _prepare_pil(image: Image.Image, cap: int, floor: int, subject: str) -> PreparedImage:
    orientation, size = _codec.pil_info(image)
    _check_dims(*size, subject)
    target = _downscale_target(*size, cap, floor)
    encoded, mime, (width, height) = _codec.encode_pil(image, orientation, target, subject)
    url = _src.data_uri(mime, encoded)
    _check_uri_size(len(url), subject)
    return PreparedImage(url, mime, width, height, size, target is not None, False)


def prepare_image(
    source: ImageSource,
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    vl_high_resolution_images: bool = False,
    where: str = "image",
) -> PreparedImage:
    """Validate one image and turn it into the URL to send, downscaled to the server's cap.

    http(s) URLs pass through untouched (the service downloads them; we never do). Data URIs,
    paths (``str``, ``os.PathLike``, ``file://``), bytes and PIL images become a data URI.
    An image larger than the cap (:func:`effective_max_pixels`) is resized to exactly the grid
    the server would resize it to (same token count, far fewer bytes) and re-encoded: PNG if
    it has transparency or at most 256 colours, else JPEG; EXIF orientation is baked in.
    Smaller encoded images are sent byte for byte, unless over 10 MB as a data URI (then
    re-encoded by the same rule) or over 4K in a format other than JPEG/PNG (then transcoded).
    PIL images are always encoded (JPEG quality 90 or PNG, by the same rule). Raises
    :class:`QwenVLImageError` naming ``where``.

    Example:
        >>> prepare_image("https://example.com/cat.jpg").is_remote
        True
        >>> p = prepare_image(PIL.Image.new("RGB", (4032, 3024)))  # doctest: +SKIP
        >>> (p.width, p.height, p.resized)  # doctest: +SKIP
        (1856, 1376, True)
    """
    cap, floor = _budget(max_pixels, min_pixels, vl_high_resolution_images, where)
    located = _src.locate(source, where)
    if located.remote is not None:
        return PreparedImage(located.remote, None, None, None, None, False, True)
    if located.pil is not None:
        return _prepare_pil(located.pil, cap, floor, located.subject)
    return _prepare_encoded(_contents(located, where), located, cap, floor)


# --- token estimate --------------------------------------------------------------------------


def _block_budget(block: Mapping[str, Any]) -> tuple[Any, Any]:
    inner = block.get("image_url")
    nested = inner if isinstance(inner, Mapping) else {}
    return (
        block.get("max_pixels", nested.get("max_pixels")),
        block.get("min_pixels", nested.get("min_pixels")),
    )


def estimate_image_tokens(
    image: ImageSource | Mapping[str, Any],
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    vl_high_resolution_images: bool = False,
    where: str = "image",
) -> int:
    """Input tokens the service will count for one image (spec §4 formula), without sending it.

    Reads only the image header (no decode) of paths, bytes and data URIs. ``image`` may also be
    a content block (any form :func:`image_source_from_block` reads); its own ``max_pixels``/
    ``min_pixels`` apply unless given here. An http(s) URL is never downloaded, so its size is
    unknown: the result is then the upper bound, the tokens of a full cap
    (``cap // 1024 + 2``, e.g. 2,562 at the default cap). Same for HEIC that Pillow cannot read.

    Example:
        >>> estimate_image_tokens(PIL.Image.new("RGB", (4032, 3024)))  # doctest: +SKIP
        2496
        >>> estimate_image_tokens("https://example.com/cat.jpg")
        2562
    """
    source: Any = image
    if isinstance(image, Mapping):
        source = image_source_from_block(image, where=where)
        if source is None:
            raise QwenVLImageError(
                f"{where}: block of type {image.get('type')!r} is not an image block — pass an "
                "image block ({'type': 'image', 'url': ...}) or an image."
            )
        block_max, block_min = _block_budget(image)
        max_pixels = block_max if max_pixels is None else max_pixels
        min_pixels = block_min if min_pixels is None else min_pixels
    cap, floor = _budget(max_pixels, min_pixels, vl_high_resolution_images, where)
    located = _src.locate(source, where)
    if located.pil is not None:
        size: tuple[int, int] | None = _codec.pil_info(located.pil)[1]
    elif located.remote is None:  # header only: Pillow opens lazily
        size = _codec.inspect(located.data, located.path, located.subject).size
    else:
        size = None
    if size is None:  # unknown without a download (or a HEIF decoder): the bound of the cap
        return max(cap, floor) // (PATCH_SIZE * PATCH_SIZE) + 2
    _check_dims(*size, located.subject)
    width, height = size
    return image_tokens_for_size(height, width, max_pixels=cap, min_pixels=floor)


# --- content blocks --------------------------------------------------------------------------


def image_block(
    source: ImageSource, *, max_pixels: int | None = None, min_pixels: int | None = None
) -> dict[str, Any]:
    """A LangChain standard image block for any image input, to put in a message's content.

    Message validation only accepts JSON-like content, so paths, bytes and PIL images are
    turned into a data URI here: files and bytes as they are (validated from the header, not
    decoded), PIL images encoded like :func:`prepare_image` does. The downscale to the cap
    happens at request time, when ``vl_high_resolution_images`` is known; only PIL images over
    the high-resolution cap are downscaled here (no request could use those pixels).
    ``max_pixels``/``min_pixels`` are kept in the block as a per-image budget.

    Example:
        >>> image_block("https://example.com/cat.jpg", max_pixels=1_000_000)
        {'type': 'image', 'url': 'https://example.com/cat.jpg', 'max_pixels': 1000000}
        >>> HumanMessage([{"type": "text", "text": "What is this?"},
        ...               image_block("photo.jpg")])  # doctest: +SKIP
    """
    where = "image_block"
    _budget(max_pixels, min_pixels, False, where)
    located = _src.locate(source, where)
    if located.remote is not None:
        url = located.remote
    elif located.pil is not None:
        url = prepare_image(located.pil, vl_high_resolution_images=True, where=where).url
    else:
        data = _contents(located, where)
        info = _codec.inspect(data, None, located.subject)
        if info.size is not None:
            _check_dims(*info.size, located.subject)
        reusable = located.canonical_uri if located.declared_mime == info.mime else None
        url = reusable or _src.data_uri(info.mime, data)
    block: dict[str, Any] = {"type": "image", "url": url}
    if max_pixels is not None:
        block["max_pixels"] = max_pixels
    if min_pixels is not None:
        block["min_pixels"] = min_pixels
    return block
