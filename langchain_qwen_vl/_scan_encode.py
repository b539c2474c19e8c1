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
PNG, grayscale                 24 ms       276
PNG, colour                    46 ms       447
============================  ==========  ==========

(PNG as the package writes every PNG, ``compress_level=1``: level 6 saves ~16% of a grey
page's bytes for ~60% more time.)

So JPEG is the default; pages with no colour (checked on a thumbnail, so a red stamp keeps its
colour) are sent as grayscale JPEG; bilevel images (fax-style TIFF) are sent as 1-bit PNG,
which is both smaller and exact for them. A page that already is a JPEG within the cap is sent
byte for byte.

The downscale target, the size checks, the JPEG decode (reduced by libjpeg), the resize filter,
the colour check and the writing of JPEG/PNG are the media package's (one rule for every image
the package sends); the page leaves here as a data URI with its sizes, which the chat model
sends as it is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_qwen_vl._scan_errors import QwenVLScanInputError
from langchain_qwen_vl._scan_render import RawPage, RenderSettings
from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import PreparedImage, _codec, downscale_target
from langchain_qwen_vl.media._codec import thumbnail
from langchain_qwen_vl.media._geometry import size_problem
from langchain_qwen_vl.media._sources import data_uri

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["EncodedPage", "encode_page", "is_blank"]

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
    """RGB, L or 1 (bilevel is kept: see ``image_format``); transparency composited on white."""
    from PIL import Image

    if image.mode == "1":
        return image
    image = _codec.working_mode(image)
    if image.mode not in ("RGBA", "LA"):
        return image
    paper = Image.new("RGB", image.size, "white")
    paper.paste(image, mask=image.getchannel("A"))
    return paper


def encode_page(raw: RawPage, settings: RenderSettings, *, name: str) -> EncodedPage:
    """Check, downscale and encode one page; raises :class:`QwenVLScanInputError` when blank."""
    started = time.thread_time()
    target = downscale_target(raw.width, raw.height, settings.max_pixels, settings.min_pixels)
    if raw.jpeg is not None:
        subject = f"{name}: page {raw.index}: the embedded JPEG"
        try:
            if target is None and settings.image_format != "png":
                # At 1/4 size, the luma only (or as stored, to see whether grayscale=True
                # needs a re-encode): enough to tell a blank page.
                quarter = (max(1, raw.width // 4), max(1, raw.height // 4))
                must_be_grey = settings.grayscale is True
                probe = _codec.decode(
                    raw.jpeg, subject, size=quarter, mode=None if must_be_grey else "L"
                )
                if not must_be_grey or probe.mode == "L":
                    return _passthrough(raw, probe, name, started)
            image = _codec.decode(raw.jpeg, subject, size=target)
        except QwenVLImageError as exc:
            raise QwenVLScanInputError(str(exc), source=name, page=raw.index) from exc
    elif raw.image is not None:
        image = raw.image
    else:  # pragma: no cover - a RawPage always holds one of the two
        raise ValueError("RawPage without image or jpeg")

    how: str = raw.how
    image = _flatten(image)
    if target is not None:
        image = _codec.resize(_codec.working_mode(image), target)
        how += "+resized"
    _check_size(image.width, image.height, name, raw.index)
    # One thumbnail serves both checks: reducing once is cheaper than converting the page.
    thumb = thumbnail(image if image.mode != "1" else image.convert("L"))
    if is_blank(thumb):
        raise _blank(name, raw.index)
    image = _codec.grey_if_colourless(image, settings.grayscale, thumb=thumb)
    bilevel_png = settings.image_format == "auto" and image.mode == "1"
    data, mime = _codec.save(
        image,
        "PNG" if settings.image_format == "png" or bilevel_png else "JPEG",
        quality=settings.jpeg_quality,
    )
    return EncodedPage(
        raw.index, data, data_uri(mime, data), mime, image.width, image.height,
        raw.dpi, how, raw.render_cpu_s, time.thread_time() - started,
    )  # fmt: skip


def _passthrough(raw: RawPage, probe: Image.Image, name: str, started: float) -> EncodedPage:
    """The embedded JPEG as it is, if its ``probe`` (a reduced decode) shows ink."""
    assert raw.jpeg is not None
    if is_blank(probe):
        raise _blank(name, raw.index)
    _check_size(raw.width, raw.height, name, raw.index)
    return EncodedPage(
        raw.index, raw.jpeg, data_uri("image/jpeg", raw.jpeg), "image/jpeg", raw.width,
        raw.height, raw.dpi, raw.how, raw.render_cpu_s, time.thread_time() - started,
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
