"""Page pixels -> the bytes sent: blank and colour checks, downscale to the cap, encoding.

Runs on worker threads (Pillow releases the GIL while it decodes, resizes and encodes), never
on the PDFium thread, so rendering the next page overlaps encoding this one.

Encoding defaults were picked by measurement on scanned A4 pages at the default cap
(1361 x 1925 px, 2 cores; ``bench/bench_scans.py``, ``docs/scans.md``):

============================  ==========  ==========
encoding                       time/page   KiB/page
============================  ==========  ==========
JPEG q85, colour               6.8 ms      152
JPEG q85, grayscale            5.7 ms      139
PNG, grayscale                 47 ms       231
PNG, colour                    125 ms      443
============================  ==========  ==========

So JPEG is the default; pages with no colour (checked on a thumbnail, so a red stamp keeps its
colour) are sent as grayscale JPEG; bilevel images (fax-style TIFF) are sent as 1-bit PNG,
which is both smaller and exact for them. A page that already is a JPEG within the cap is sent
byte for byte.

The downscale target, the size checks, the resize filter and the colour check are the media
package's (one rule for every image the package sends); the page leaves here as a data URI
with its sizes, which the chat model sends as it is.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_qwen_vl._scan_errors import QwenVLScanInputError
from langchain_qwen_vl._scan_render import RawPage, RenderSettings
from langchain_qwen_vl.media import PreparedImage, downscale_target
from langchain_qwen_vl.media._codec import is_colour, resize, thumbnail
from langchain_qwen_vl.media._geometry import size_problem
from langchain_qwen_vl.media._sources import data_uri

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EncodedPage", "encode_page", "is_blank", "is_colour"]

#: Thumbnail pixels further than this from the median grey count as ink.
_INK_CONTRAST = 28


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """The image of one page as it goes on the wire."""

    index: int
    data: bytes
    url: str  # the data URI sent
    mime_type: str
    width: int
    height: int
    dpi: float | None
    how: str  # rendered / passthrough / decoded, + "+resized"
    grayscale: bool
    render_cpu_s: float
    encode_cpu_s: float


def is_blank(image: Image.Image) -> bool:
    """True when a page has no ink: no thumbnail pixel stands out from the paper colour.

    Scanner noise and paper tint average out in the thumbnail; a line of 9-pt text does not.
    """
    grey = thumbnail(image if image.mode == "L" else image.convert("L"))
    histogram = grey.histogram()
    total = sum(histogram)
    running, median = 0, 0
    for value, count in enumerate(histogram):
        running += count
        if running * 2 >= total:
            median = value
            break
    low, high = max(0, median - _INK_CONTRAST), min(255, median + _INK_CONTRAST)
    ink = sum(histogram[:low]) + sum(histogram[high + 1 :])
    return ink == 0


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, L or 1 only: transparency is composited on white paper."""
    from PIL import Image

    if image.mode in ("RGB", "L", "1"):
        return image
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "RGBa", "La"):
        paper = Image.new("RGB", image.size, "white")
        paper.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return paper
    if image.mode.startswith(("I", "F")):
        return image.convert("L")
    return image.convert("RGB")


def _decode_jpeg(data: bytes, size: tuple[int, int] | None, mode: str | None = None) -> Image.Image:
    """Decode a JPEG, letting libjpeg scale by 1/2, 1/4 or 1/8 when a smaller size is wanted."""
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    image.info["qwen_vl_source_mode"] = image.mode  # draft() may change the mode
    if size is not None:
        image.draft(mode or image.mode, size)
    image.load()
    return image


def encode_page(raw: RawPage, settings: RenderSettings, *, name: str) -> EncodedPage:
    """Check, downscale and encode one page; raises :class:`QwenVLScanInputError` when blank."""
    started = time.thread_time()
    how: str = raw.how
    if raw.jpeg is not None:
        target = downscale_target(raw.width, raw.height, settings.max_pixels, settings.min_pixels)
        try:
            probe = _decode_jpeg(raw.jpeg, (max(1, raw.width // 4), max(1, raw.height // 4)), "L")
        except (OSError, ValueError, SyntaxError) as exc:
            raise QwenVLScanInputError(
                f"{name}: page {raw.index}: the embedded JPEG cannot be decoded ({exc}).",
                source=name,
                page=raw.index,
            ) from exc
        if is_blank(probe.convert("L")):
            raise _blank(name, raw.index)
        stored_grey = probe.info.get("qwen_vl_source_mode", probe.mode) == "L"
        wants_grey = settings.grayscale is True and not stored_grey
        if target is None and settings.image_format != "png" and not wants_grey:
            _check_size(raw.width, raw.height, name, raw.index)
            return EncodedPage(
                raw.index, raw.jpeg, data_uri("image/jpeg", raw.jpeg), "image/jpeg",
                raw.width, raw.height, raw.dpi, how, stored_grey, raw.render_cpu_s,
                time.thread_time() - started,
            )  # fmt: skip
        image = _decode_jpeg(raw.jpeg, target)
    elif raw.image is not None:
        image = raw.image
    else:  # pragma: no cover - a RawPage always holds one of the two
        raise ValueError("RawPage without image or jpeg")

    image = _flatten(image)
    target = downscale_target(image.width, image.height, settings.max_pixels, settings.min_pixels)
    if target is not None:
        image = resize(image.convert("L") if image.mode == "1" else image, target)
        how += "+resized"
    elif image.size != (raw.width, raw.height) and raw.jpeg is not None:
        how += "+resized"
    _check_size(image.width, image.height, name, raw.index)
    # One thumbnail serves both checks: reducing once is cheaper than converting the page.
    thumb = thumbnail(image if image.mode != "1" else image.convert("L"))
    if is_blank(thumb):
        raise _blank(name, raw.index)
    if image.mode == "RGB" and (
        settings.grayscale is True or (settings.grayscale == "auto" and not is_colour(thumb))
    ):
        image = image.convert("L")
    buffer = io.BytesIO()
    if settings.image_format == "png" or (settings.image_format == "auto" and image.mode == "1"):
        image.save(buffer, format="PNG")
        mime = "image/png"
    else:
        if image.mode == "1":
            image = image.convert("L")
        image.save(buffer, format="JPEG", quality=settings.jpeg_quality)
        mime = "image/jpeg"
    data = buffer.getvalue()
    return EncodedPage(
        raw.index, data, data_uri(mime, data), mime, image.width, image.height,
        raw.dpi, how, image.mode in ("L", "1"), raw.render_cpu_s, time.thread_time() - started,
    )  # fmt: skip


def _check_size(width: int, height: int, name: str, index: int) -> None:
    problem = size_problem(width, height)
    if problem is not None:
        raise QwenVLScanInputError(
            f"{name}: page {index} renders to an image that {problem} (or change dpi=).",
            source=name,
            page=index,
        )


def prepared_image(page: EncodedPage, original_size: tuple[int, int] | None) -> PreparedImage:
    """The page as the chat model's prepared image (sent as it is, never decoded again)."""
    resized = "+resized" in page.how
    return PreparedImage(
        page.url, page.mime_type, page.width, page.height, original_size, resized, False
    )


def _blank(name: str, index: int) -> QwenVLScanInputError:
    return QwenVLScanInputError(
        f"{name}: page {index} renders to nothing (a blank page: no ink found) — not sent.",
        source=name,
        page=index,
    )
