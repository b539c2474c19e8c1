"""One image: locate it, check it, downscale it to what the service keeps, or just measure it.

:func:`prepare_located` does the work (reads the file, decodes and encodes pixels when it
must); :func:`measure_located` reads only the header. Both apply the same geometry, so a
token count made from the header equals the one of the prepared image.

An image prepared once (by :func:`~langchain_qwen_vl.media.image_block`, the vision tool or the
scan loader) carries its sizes in the block's ``extras``; preparing it again under a budget
that keeps it as it is costs nothing (no base64 decode, no second sniff).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import _codec
from langchain_qwen_vl.media import _sources as _src
from langchain_qwen_vl.media._budget import ImageBudget
from langchain_qwen_vl.media._files import LocalFilePolicy
from langchain_qwen_vl.media._geometry import (
    PATCH_SIZE,
    downscale_target,
    image_tokens_for_size,
    size_problem,
)

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "MAX_IMAGE_BYTES",
    "PREPARED_KEY",
    "PreparedImage",
    "measure_located",
    "prepare_located",
    "prepared_block",
    "tokens_for",
    "trusted_prepared",
]

MAX_IMAGE_BYTES = 10 * 1024 * 1024  # for data URIs the service counts the base64 text
#: Key in a block's ``extras`` under which a prepared image's sizes travel.
PREPARED_KEY = "qwen_vl_prepared"


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


def check_size(width: int, height: int, subject: str) -> None:
    problem = size_problem(width, height)
    if problem is not None:
        raise QwenVLImageError(f"{subject} {problem}.")


def _check_uri_size(length: int, subject: str) -> None:
    if length > MAX_IMAGE_BYTES:
        raise QwenVLImageError(
            f"{subject} is {length:,} bytes as a data URI, over the service's 10 MB limit "
            f"({MAX_IMAGE_BYTES:,} bytes, base64 text counted) — compress it (JPEG), lower "
            "max_pixels, or host it and pass an http(s) URL."
        )


def _contents(located: _src.Located, policy: LocalFilePolicy, where: str) -> bytes:
    """The encoded bytes of a file, bytes or data URI input; never empty."""
    if located.path is None:
        data = located.data or b""
    else:
        data = _src.read(located.path, where, policy=policy)
    if not data:
        raise QwenVLImageError(f"{located.subject} is empty — pass a non-empty image.")
    return data


def _prepare_encoded(data: bytes, located: _src.Located, budget: ImageBudget) -> PreparedImage:
    """Prepare an encoded image (the contents of a file, bytes or a data URI)."""
    subject = located.subject
    info = _codec.inspect(data, subject)
    target = None
    if info.size is not None:
        check_size(*info.size, subject)
        target = downscale_target(*info.size, budget.cap, budget.floor)
    as_is_length = _src.data_uri_length(info.mime, len(data))
    sendable_as_is = not _codec.needs_transcode(info) and as_is_length <= MAX_IMAGE_BYTES
    if target is None and sendable_as_is:
        return _as_is(data, located, info)
    if info.size is None:  # undecodable HEIF over 10 MB: nothing we can do
        _check_uri_size(as_is_length, subject)
    # Downscale, transcode (over 4K and not JPEG/PNG), or too big as it is (an uncompressed
    # BMP, a quality-100 JPEG): re-encode, and refuse only if that is still over 10 MB.
    try:
        encoded, mime, (width, height) = _codec.reencode(
            data, info, target, subject, smaller_than=len(data) if sendable_as_is else None
        )
    except _codec.NotSmaller:
        # A flat PNG screenshot can be smaller at full size than downscaled (the resize adds
        # in-between shades): the original then costs fewer bytes, the same tokens, and the
        # service's own resize of it is exactly its usual view.
        return _as_is(data, located, info)
    url = _src.data_uri(mime, encoded)
    _check_uri_size(len(url), subject)
    return PreparedImage(url, mime, width, height, info.size, target is not None, False)


def _as_is(data: bytes, located: _src.Located, info: _codec.ImageInfo) -> PreparedImage:
    """The bytes as they are. A data URI's text is reused when it is canonical and names the
    right type (the service may trust a wrong mime type)."""
    reusable = located.canonical_uri if located.declared_mime == info.mime else None
    url = reusable or _src.data_uri(info.mime, data)
    width, height = info.size if info.size is not None else (None, None)
    return PreparedImage(url, info.mime, width, height, info.size, False, False)


def _prepare_pil(image: Image.Image, budget: ImageBudget, subject: str) -> PreparedImage:
    orientation, size = _codec.pil_info(image)
    check_size(*size, subject)
    target = downscale_target(*size, budget.cap, budget.floor)
    encoded, mime, (width, height) = _codec.encode_pil(image, orientation, target, subject)
    url = _src.data_uri(mime, encoded)
    _check_uri_size(len(url), subject)
    return PreparedImage(url, mime, width, height, size, target is not None, False)


def remote_prepared(url: str) -> PreparedImage:
    """An http(s) URL, sent as it is: the service downloads it, we never do."""
    return PreparedImage(url, None, None, None, None, False, True)


def prepare_located(
    located: _src.Located, budget: ImageBudget, policy: LocalFilePolicy, where: str
) -> PreparedImage:
    """The URL to send for one located image, downscaled to the service's grid if over the cap.

    http(s) URLs pass through untouched (the service downloads them; we never do).
    """
    if located.remote is not None:
        return remote_prepared(located.remote)
    if located.pil is not None:
        return _prepare_pil(located.pil, budget, located.subject)
    return _prepare_encoded(_contents(located, policy, where), located, budget)


def measure_located(
    located: _src.Located, policy: LocalFilePolicy, where: str
) -> tuple[int, int] | None:
    """The displayed (width, height) from the header only, or None (remote, undecodable HEIF).

    Checks the size rules too, so a count refuses what the request would refuse.
    """
    if located.remote is not None:
        return None
    if located.pil is not None:
        size: tuple[int, int] | None = _codec.pil_info(located.pil)[1]
    elif located.path is not None:
        with _src.open_local(located.path, where, "image", policy) as handle:
            # Pillow reads only what the header needs.
            size = _codec.inspect(handle, located.subject).size
    else:
        size = _codec.inspect(_contents(located, policy, where), located.subject).size
    if size is not None:
        check_size(*size, located.subject)
    return size


def tokens_for(size: tuple[int, int] | None, budget: ImageBudget) -> int:
    """Input tokens of an image of displayed ``size`` (None: unknown, the cap's upper bound)."""
    if size is None:
        return max(budget.cap, budget.floor) // (PATCH_SIZE * PATCH_SIZE) + 2
    width, height = size
    return image_tokens_for_size(height, width, max_pixels=budget.cap, min_pixels=budget.floor)


# --- prepared once, carried in a block ---------------------------------------------------------


def prepared_block(image: PreparedImage, **budget_keys: int | None) -> dict[str, Any]:
    """A standard image block holding an already prepared image and its sizes.

    Example:
        >>> img = PreparedImage("data:image/png;base64,AAAA", "image/png", 20, 10, (40, 20),
        ...                     True, False)
        >>> prepared_block(img)["extras"]["qwen_vl_prepared"]["original_width"]
        40
    """
    block: dict[str, Any] = {"type": "image", "url": image.url}
    if image.mime_type:
        block["mime_type"] = image.mime_type
    if image.width is not None and image.height is not None and not image.is_remote:
        original = image.original_size or (image.width, image.height)
        block["extras"] = {
            PREPARED_KEY: {
                "width": image.width,
                "height": image.height,
                "original_width": original[0],
                "original_height": original[1],
            }
        }
    block |= {key: value for key, value in budget_keys.items() if value is not None}
    return block


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def trusted_prepared(block: Mapping[str, Any], budget: ImageBudget) -> PreparedImage | None:
    """The prepared image a block carries, if preparing it again under ``budget`` would send
    it unchanged (no decode needed); else None.

    The sizes are those the block says: a forged marker only changes our token estimate (the
    service measures what it receives).
    """
    extras = block.get("extras")
    marker = extras.get(PREPARED_KEY) if isinstance(extras, Mapping) else None
    url = block.get("url")
    if not isinstance(marker, Mapping) or not isinstance(url, str) or url[:5].lower() != "data:":
        return None
    width, height = _positive_int(marker.get("width")), _positive_int(marker.get("height"))
    if width is None or height is None or size_problem(width, height) is not None:
        return None
    if downscale_target(width, height, budget.cap, budget.floor) is not None:
        return None
    if len(url) > MAX_IMAGE_BYTES:
        return None
    mime = url[5 : url.find(";")].lower() if ";" in url[:64] else None
    original_w = _positive_int(marker.get("original_width")) or width
    original_h = _positive_int(marker.get("original_height")) or height
    resized = (original_w, original_h) != (width, height)
    return PreparedImage(url, mime, width, height, (original_w, original_h), resized, False)
