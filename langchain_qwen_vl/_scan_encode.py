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
"""

from __future__ import annotations

import base64
import io
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_qwen_vl._scan_errors import QwenVLScanInputError
from langchain_qwen_vl._scan_render import RawPage, RenderSettings
from langchain_qwen_vl.media import resized_dimensions

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EncodedPage", "downscale_target", "encode_page", "is_blank", "is_colour"]

#: Thumbnail pixels further than this from the median grey count as ink.
_INK_CONTRAST = 28
#: Thumbnail pixels with (max - min) channel spread above this count as coloured.
_CHROMA = 40
#: A page is "in colour" when at least this share (and 4 px) of its thumbnail is coloured.
_COLOUR_SHARE = 0.0002
_THUMB_SIDE = 400


@dataclass(frozen=True, slots=True)
class EncodedPage:
    """The image of one page as it goes on the wire."""

    index: int
    data: bytes
    base64: str
    mime_type: str
    width: int
    height: int
    dpi: float | None
    how: str  # rendered / passthrough / decoded, + "+resized"
    grayscale: bool
    render_cpu_s: float
    encode_cpu_s: float


def downscale_target(
    width: int, height: int, max_pixels: int, min_pixels: int
) -> tuple[int, int] | None:
    """(width, height) of the server's grid when an image exceeds the cap, else None.

    The server would resize such an image to exactly this grid (spec §4), so sending it
    pre-resized costs the same tokens in a fraction of the bytes.

    Example:
        >>> downscale_target(2480, 3508, 2_621_440, 3_136)  # A4 at 300 DPI
        (1344, 1920)
    """
    grid_h, grid_w = resized_dimensions(height, width, max_pixels=max_pixels, min_pixels=min_pixels)
    if grid_h * grid_w >= width * height or grid_w > width or grid_h > height:
        return None
    if round(height / 32) * round(width / 32) * 1024 <= max_pixels:
        return None  # within the cap: the server only rounds to the 32-px grid
    return grid_w, grid_h


def _thumbnail(image: Image.Image) -> Image.Image:
    factor = max(1, min(image.width, image.height) // _THUMB_SIDE)
    return image.reduce(factor) if factor > 1 else image


def is_blank(image: Image.Image) -> bool:
    """True when a page has no ink: no thumbnail pixel stands out from the paper colour.

    Scanner noise and paper tint average out in the thumbnail; a line of 9-pt text does not.
    """
    grey = _thumbnail(image if image.mode == "L" else image.convert("L"))
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


def is_colour(image: Image.Image) -> bool:
    """True when a visible part of an RGB page is coloured (a stamp, a logo, a highlighter).

    Example:
        >>> from PIL import Image
        >>> is_colour(Image.new("RGB", (100, 100), (250, 248, 240)))
        False
    """
    if image.mode != "RGB":
        return False
    from PIL import ImageChops

    thumb = _thumbnail(image)
    red, green, blue = thumb.split()
    brightest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
    chroma = ImageChops.difference(brightest, darkest).histogram()
    coloured = sum(chroma[_CHROMA + 1 :])
    return coloured >= max(4, _COLOUR_SHARE * thumb.width * thumb.height)


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
                raw.index, raw.jpeg, base64.b64encode(raw.jpeg).decode("ascii"), "image/jpeg",
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
        from PIL import Image

        resample = Image.Resampling.BOX if image.mode == "1" else Image.Resampling.LANCZOS
        image = image.convert("L") if image.mode == "1" else image
        image = image.resize(target, resample, reducing_gap=3.0)
        how += "+resized"
    elif image.size != (raw.width, raw.height) and raw.jpeg is not None:
        how += "+resized"
    _check_size(image.width, image.height, name, raw.index)
    # One thumbnail serves both checks: reducing once is cheaper than converting the page.
    thumb = _thumbnail(image if image.mode != "1" else image.convert("L"))
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
        raw.index, data, base64.b64encode(data).decode("ascii"), mime, image.width, image.height,
        raw.dpi, how, image.mode in ("L", "1"), raw.render_cpu_s, time.thread_time() - started,
    )  # fmt: skip


def _check_size(width: int, height: int, name: str, index: int) -> None:
    if min(width, height) <= 10:
        raise QwenVLScanInputError(
            f"{name}: page {index} renders to {width}x{height} px; the service needs each side "
            "> 10 px — raise dpi= or check the page size.",
            source=name,
            page=index,
        )
    if max(width, height) > 200 * min(width, height):
        raise QwenVLScanInputError(
            f"{name}: page {index} is {width}x{height} px, an aspect ratio over 200:1 that the "
            "service refuses.",
            source=name,
            page=index,
        )


def _blank(name: str, index: int) -> QwenVLScanInputError:
    return QwenVLScanInputError(
        f"{name}: page {index} renders to nothing (a blank page: no ink found) — not sent.",
        source=name,
        page=index,
    )
