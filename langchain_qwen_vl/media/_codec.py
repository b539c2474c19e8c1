"""Pillow-side helpers of :mod:`langchain_qwen_vl.media`: sniff, measure, downscale, encode.

Everything that touches pixels lives here so that ``media`` stays about *which* input forms
exist and *when* to downscale. Pillow is imported inside the functions: ``import PIL.Image``
costs ~25 ms cold, and a text-only user of the package should not pay it.

Every function takes a ``subject`` (e.g. ``"messages[0].content[1]: image file 'a.png'"``)
and raises :class:`QwenVLImageError` messages that start with it.
"""

from __future__ import annotations

import functools
import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from langchain_qwen_vl.errors import QwenVLImageError

if TYPE_CHECKING:
    from PIL import Image

# Formats the service documents. Pillow calls a multi-picture JPEG (what many
# phones write) "MPO"; it is a plain JPEG for every decoder, so it is folded into JPEG.
_MIME_BY_FORMAT = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
}
_FORMAT_ALIASES = {"MPO": "JPEG"}
SUPPORTED_FORMATS = frozenset(_MIME_BY_FORMAT)
SUPPORTED_LIST = "JPEG, PNG, WEBP, BMP, TIFF, HEIC"

# The service: "above 4K only JPEG/PNG". Read as 4K UHD; either a side or the area above it.
_4K_SIDE = 3840
_4K_AREA = 3840 * 2160

# Quality of the JPEGs we write (see encode): q90 costs ~20% more bytes for +1.5 dB.
JPEG_QUALITY = 85

# The most pixels decoded at full size (a JPEG is decoded reduced first, see decode): a
# 17 KB PNG can declare 12000x12000 px and cost ~860 MB to decode. 64 MP is ~190 MB in RGB.
MAX_DECODE_PIXELS = 64_000_000

# Below this output size a resize takes a few ms: not worth a second thread.
_PARALLEL_MIN_PIXELS = 1_000_000

#: Thumbnail pixels with (max - min) channel spread above this count as coloured.
_CHROMA = 40
#: A picture is "in colour" when at least this share (and 4 px) of its thumbnail is coloured.
_COLOUR_SHARE = 0.0002
_THUMB_SIDE = 400

PictureKind = Literal["photo", "screen"]

_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})

# ISO-BMFF brands (the 4 bytes after "ftyp") of HEIC/HEIF stills. AVIF shares the container
# (and "mif1"), so an avif brand anywhere in the box wins and means "not HEIF".
_HEIC_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"heif"})
_AVIF_BRANDS = frozenset({b"avif", b"avis"})


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says. ``size`` is as displayed (EXIF orientation applied)."""

    format: str
    mime: str
    size: tuple[int, int] | None  # (width, height); None when Pillow cannot decode (HEIF)
    orientation: int


def sniff_heif(head: bytes) -> str | None:
    """``image/heic`` or ``image/heif`` if ``head`` starts an HEIF still, else None."""
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    box_end = min(max(int.from_bytes(head[:4], "big"), 16), len(head), 512)
    brands = {head[8:12]} | {head[i : i + 4] for i in range(16, box_end - 3, 4)}
    if brands & _AVIF_BRANDS:
        return None
    if brands & _HEIC_BRANDS:
        return "image/heic"
    if brands & _HEIF_BRANDS:
        return "image/heif"
    return None


def _orientation(im: Image.Image) -> int:
    """The EXIF orientation (1..8), reading only what is already parsed where possible."""
    from PIL import Image as PILImage

    try:
        if im.format == "PNG":
            # PngImageFile.getexif() decodes the whole image to find a trailing eXIf chunk;
            # one before IDAT (where writers put it) is already in ``info``.
            raw = im.info.get("exif")
            if not raw:
                return 1
            exif = PILImage.Exif()
            exif.load(raw)
        else:
            exif = im.getexif()
        value = exif.get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not make a good image unusable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def displayed_size(im: Image.Image, orientation: int) -> tuple[int, int]:
    """(width, height) as a viewer shows the image."""
    width, height = im.size
    return (height, width) if orientation in _SWAPS_AXES else (width, height)


def _read_head(source: bytes | BinaryIO) -> bytes:
    if isinstance(source, bytes):
        return source[:512]
    source.seek(0)
    return source.read(512)


def _format_of(im: Image.Image, source: bytes | BinaryIO, subject: str) -> tuple[str, str]:
    fmt = _FORMAT_ALIASES.get(im.format or "", im.format or "")
    if fmt not in SUPPORTED_FORMATS:
        raise QwenVLImageError(
            f"{subject} is a {fmt or 'unknown'} image, which the service does not accept — "
            f"use {SUPPORTED_LIST}, or pass a PIL image (e.g. PIL.Image.open(path)) to have it "
            "re-encoded as PNG/JPEG."
        )
    mime = _MIME_BY_FORMAT[fmt]
    if fmt == "HEIF":  # only reached with a HEIF plugin (pillow-heif) registered
        mime = sniff_heif(_read_head(source)) or mime
    return fmt, mime


def inspect(source: bytes | BinaryIO, subject: str) -> ImageInfo:
    """Read the header only (Pillow opens lazily) of encoded bytes or an open binary file."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        with PILImage.open(stream) as im:
            fmt, mime = _format_of(im, source, subject)
            orientation = _orientation(im)
            return ImageInfo(fmt, mime, displayed_size(im, orientation), orientation)
    except UnidentifiedImageError:
        heif = sniff_heif(_read_head(source))
        if heif is not None:
            # Pillow needs pillow-heif to decode HEIC; without it the bytes go through
            # unchanged (the service reads HEIC) and the size stays unknown.
            return ImageInfo("HEIF", heif, None, 1)
        raise QwenVLImageError(
            f"{subject} is not a recognised image — pass a {SUPPORTED_LIST} image "
            "(path, http(s) URL, data: URI, bytes or a PIL image)."
        ) from None
    except (PILImage.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise _pillow_error(exc, subject, "read as an image") from exc


def _pillow_error(exc: Exception, subject: str, verb: str) -> QwenVLImageError:
    from PIL import Image as PILImage

    if isinstance(exc, PILImage.DecompressionBombError):
        return QwenVLImageError(
            f"{subject} is too large to decode safely ({exc}) — downscale it before sending."
        )
    return QwenVLImageError(
        f"{subject} cannot be {verb} ({exc}) — check the file is not truncated or corrupt."
    )


def needs_transcode(info: ImageInfo) -> bool:
    """True if the format is not accepted at this size (above 4K the service takes JPEG, PNG)."""
    if info.size is None or info.format in ("JPEG", "PNG"):
        return False
    width, height = info.size
    return max(width, height) > _4K_SIDE or width * height > _4K_AREA


def _has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def working_mode(im: Image.Image) -> Image.Image:
    """An equivalent image in L, LA, RGB or RGBA: the modes that resize well and encode."""
    mode = im.mode
    if mode in ("RGB", "L") and "transparency" in im.info:
        return im.convert("RGBA" if mode == "RGB" else "LA")
    if mode in ("RGB", "RGBA", "L", "LA"):
        return im
    if mode == "1":
        return im.convert("L")
    if mode.startswith("I;16"):
        # convert("L") clips 16-bit values at 255; scale instead so a 16-bit scan stays visible.
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if mode in ("I", "F"):
        return im.convert("L")
    return im.convert("RGBA" if _has_transparency(im) else "RGB")


def picture_kind(im: Image.Image) -> PictureKind:
    """``"screen"`` for synthetic pictures (screenshots, diagrams, charts, clean rendered
    documents), ``"photo"`` for everything captured by a sensor (photos and scans).

    Synthetic pictures are mostly flat: over half of their pixels equal their left neighbour,
    even after a bicubic downscale (flat areas stay flat). Sensor noise makes that share small
    (bench: a screenshot 0.79, a chart 0.94, a 300 DPI scan 0.15, a photo 0.12). Measured on
    32 bands of 4 rows spread over the picture: ~1 ms on 2.6 MP.
    """
    from PIL import Image as PILImage
    from PIL import ImageChops

    width, height = im.size
    if width < 2:
        return "photo"
    band, bands = 4, 32
    if height > band * bands * 2:
        sample = PILImage.new(im.mode, (width, band * bands))
        step = (height - band) / (bands - 1)
        for index in range(bands):
            top = int(index * step)
            sample.paste(im.crop((0, top, width, top + band)), (0, index * band))
        im = sample
        height = sample.height
    grey = im if im.mode == "L" else im.convert("L")
    right = grey.crop((1, 0, width, height))
    diff = ImageChops.difference(right, grey.crop((0, 0, width - 1, height)))
    flat = diff.histogram()[0]
    return "screen" if flat * 2 > (width - 1) * height else "photo"


def thumbnail(im: Image.Image) -> Image.Image:
    """A box-reduced copy with a short side of about 400 px (noise averages out)."""
    factor = max(1, min(im.width, im.height) // _THUMB_SIDE)
    return im.reduce(factor) if factor > 1 else im


def is_colour(im: Image.Image) -> bool:
    """True when a visible part of an RGB picture is coloured (a stamp, a logo, a highlighter).

    Checked on a thumbnail, so scanner noise and paper tint average out.

    Example:
        >>> from PIL import Image
        >>> is_colour(Image.new("RGB", (100, 100), (250, 248, 240)))
        False
    """
    if im.mode != "RGB":
        return False
    from PIL import ImageChops

    thumb = thumbnail(im)
    red, green, blue = thumb.split()
    brightest = ImageChops.lighter(ImageChops.lighter(red, green), blue)
    darkest = ImageChops.darker(ImageChops.darker(red, green), blue)
    chroma = ImageChops.difference(brightest, darkest).histogram()
    coloured = sum(chroma[_CHROMA + 1 :])
    return coloured >= max(4, _COLOUR_SHARE * thumb.width * thumb.height)


def grey_if_colourless(
    im: Image.Image, grayscale: bool | Literal["auto"] = "auto", *, thumb: Image.Image | None = None
) -> Image.Image:
    """``im`` in grey when ``grayscale`` is True, or ``"auto"`` and no visible part of it is
    coloured (:func:`is_colour`, on ``thumb`` when the caller has one); else ``im`` unchanged.
    Only RGB pictures change.

    Example:
        >>> from PIL import Image
        >>> grey_if_colourless(Image.new("RGB", (64, 64), (250, 248, 240))).mode
        'L'
    """
    if im.mode != "RGB" or grayscale is False:
        return im
    if grayscale is True or not is_colour(im if thumb is None else thumb):
        return im.convert("L")
    return im


def encode(
    im: Image.Image, *, icc_profile: bytes | None, smaller_than: int | None = None
) -> tuple[bytes, str]:
    """Encode for upload by the picture's kind; returns (bytes, mime).

    - Real transparency: PNG (JPEG cannot carry it). A fully opaque alpha is dropped first.
    - ``"screen"`` pictures: PNG, lossless, so small text stays exactly as legible as the
      service's own resize would leave it (bench, 2560x1600 screenshot at the default cap:
      PNG 729 KiB exact; JPEG q85 480 KiB at 35.6 dB blurs 11-px text; q95 4:4:4 857 KiB).
    - ``"photo"`` (photos, scans): JPEG q85 (bench, 12 MP photo: 19.5% of the original's bytes,
      33.4 dB against the service's own resize; PNG is 3-5x larger and often breaks the 10 MB
      limit), grey when the picture has no colour (a scan: ~10% fewer bytes, same PSNR).
    """
    im = working_mode(im)
    if im.mode in ("RGBA", "LA"):
        low, _ = im.getchannel("A").getextrema()
        if isinstance(low, (int, float)) and low < 255:
            return save(im, "PNG", icc_profile=icc_profile, smaller_than=smaller_than)
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    if picture_kind(im) == "screen":
        return save(im, "PNG", icc_profile=icc_profile, smaller_than=smaller_than)
    return save(grey_if_colourless(im), "JPEG", icc_profile=icc_profile, smaller_than=smaller_than)


class NotSmaller(Exception):
    """Raised by :func:`save` once the bytes written reach ``smaller_than``."""


class _BoundedBuffer(io.BytesIO):
    def __init__(self, limit: int | None) -> None:
        super().__init__()
        self._limit = limit

    def write(self, data: Any, /) -> int:
        written = super().write(data)
        if self._limit is not None and self.tell() >= self._limit:
            raise NotSmaller
        return written


def save(
    im: Image.Image,
    fmt: Literal["JPEG", "PNG"],
    *,
    quality: int = JPEG_QUALITY,
    icc_profile: bytes | None = None,
    smaller_than: int | None = None,
) -> tuple[bytes, str]:
    """``im`` written as ``fmt`` the way every image of the package is written; (bytes, mime).

    With ``smaller_than``, writing stops with :class:`NotSmaller` as soon as the output reaches
    that many bytes (a flat screenshot's downscaled PNG is often twice its original: the
    encode is cut where it stops paying, ~half of it).

    Example:
        >>> from PIL import Image
        >>> save(Image.new("L", (8, 8)), "PNG")[1]
        'image/png'
    """
    buffer = _BoundedBuffer(smaller_than)
    if fmt == "JPEG":
        im.save(buffer, "JPEG", quality=quality, icc_profile=icc_profile)
        return buffer.getvalue(), "image/jpeg"
    # compress_level 1: on the bench screenshot both smaller (729 vs 850 KiB) and faster
    # (67 vs 101 ms) than the default 6; on a grey A4 scan 19% larger, 40% faster.
    im.save(buffer, "PNG", icc_profile=icc_profile, compress_level=1)
    return buffer.getvalue(), "image/png"


def _apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    from PIL import Image as PILImage

    method = {
        2: PILImage.Transpose.FLIP_LEFT_RIGHT,
        3: PILImage.Transpose.ROTATE_180,
        4: PILImage.Transpose.FLIP_TOP_BOTTOM,
        5: PILImage.Transpose.TRANSPOSE,
        6: PILImage.Transpose.ROTATE_270,
        7: PILImage.Transpose.TRANSVERSE,
        8: PILImage.Transpose.ROTATE_90,
    }.get(orientation)
    return im.transpose(method) if method is not None else im


def resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    from PIL import Image as PILImage

    if im.size == size:
        return im
    # BICUBIC (antialiased), the filter the reference preprocessing (qwen-vl-utils and the
    # HF image processor) resizes with, so we approximate the server's own view. LANCZOS
    # was slower on the 12 MP bench (70 vs 62 ms single-threaded) and further from that
    # view (PSNR 43.5 vs 44.3 dB before JPEG). reducing_gap=3: an integer box reduction
    # first when the ratio is large (non-JPEG sources; JPEGs are already reduced by draft()).
    bicubic = PILImage.Resampling.BICUBIC
    width, height = size
    if width * height < _PARALLEL_MIN_PIXELS or (os.cpu_count() or 1) < 2:
        return im.resize(size, bicubic, reducing_gap=3.0)
    # Resize the two halves in two threads (Pillow releases the GIL while resampling): the
    # resize is the largest share of a 12 MP photo's preprocessing (bench: 139 -> 98 ms).
    # With box= each output row samples the same source positions as in a whole-image
    # resize; only Pillow's pass order may differ, within +-2 levels on natural images.
    im.load()  # never let two threads lazily load the same image
    middle = height // 2
    seam = middle * im.height / height
    bottom = _resize_pool().submit(
        im.resize, (width, height - middle), bicubic, (0, seam, im.width, im.height), 3.0
    )
    top = im.resize((width, middle), bicubic, (0, 0, im.width, seam), 3.0)
    out = PILImage.new(im.mode, size)
    out.paste(top, (0, 0))
    out.paste(bottom.result(), (0, middle))
    return out


@functools.cache
def _resize_pool() -> ThreadPoolExecutor:
    # One pool for the process: a pool per call would start a thread per image.
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="qwen-vl-resize")


def decode(
    data: bytes, subject: str, *, size: tuple[int, int] | None = None, mode: str | None = None
) -> Image.Image:
    """The pixels of encoded ``data`` as stored (EXIF orientation not applied).

    With ``size`` (stored width, height), a JPEG is decoded reduced: libjpeg scales by 1/2,
    1/4 or 1/8 in the DCT domain, never below ``size`` (most of the speed-up over
    decode-then-resize), and ``mode="L"`` decodes only the luma. Other formats ignore both.
    Refuses to decode more than :data:`MAX_DECODE_PIXELS`.
    """
    from PIL import Image as PILImage

    try:
        im = PILImage.open(io.BytesIO(data))
        stored_w, stored_h = im.size
        if size is not None:
            im.draft(mode or im.mode, size)  # a no-op for every format but JPEG
        if im.width * im.height > MAX_DECODE_PIXELS:
            raise QwenVLImageError(
                f"{subject} is {stored_w}x{stored_h} px"
                f" ({im.width * im.height / 1e6:.0f} MP to decode, over the "
                f"{MAX_DECODE_PIXELS / 1e6:.0f} MP this client decodes) — downscale it "
                "first, save it as JPEG (decoded reduced), or pass an http(s) URL."
            )
        im.load()
        return im
    except QwenVLImageError:
        raise
    except (PILImage.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise _pillow_error(exc, subject, "decoded") from exc


def reencode(
    data: bytes,
    info: ImageInfo,
    target: tuple[int, int] | None,
    subject: str,
    *,
    smaller_than: int | None = None,
) -> tuple[bytes, str, tuple[int, int]]:
    """Decode ``data``, downscale to ``target`` (displayed width, height) if given, encode.

    Returns (bytes, mime, (width, height) sent). The EXIF orientation is baked into the
    pixels (the output carries no EXIF), so the service sees the image as a viewer shows it.
    Raises :class:`NotSmaller` when the output would reach ``smaller_than`` bytes.
    """
    stored_target = None
    if target is not None:
        width, height = target
        stored_target = (height, width) if info.orientation in _SWAPS_AXES else target
    im = decode(data, subject, size=stored_target)
    try:
        work = working_mode(im)
        if stored_target is not None:
            work = resize(work, stored_target)
        work = _apply_orientation(work, info.orientation)
        icc = im.info.get("icc_profile") or None
        encoded, mime = encode(work, icc_profile=icc, smaller_than=smaller_than)
    except (OSError, ValueError) as exc:
        raise _pillow_error(exc, subject, "encoded") from exc
    return encoded, mime, work.size


def pil_info(im: Image.Image) -> tuple[int, tuple[int, int]]:
    """(EXIF orientation, displayed (width, height)) of an in-memory image."""
    orientation = _orientation(im)
    return orientation, displayed_size(im, orientation)


def encode_pil(
    im: Image.Image, orientation: int, target: tuple[int, int] | None, subject: str
) -> tuple[bytes, str, tuple[int, int]]:
    """Encode a user's PIL image (never mutated), downscaled to ``target`` if given."""
    try:
        work = working_mode(_apply_orientation(im, orientation))
        if target is not None:
            work = resize(work, target)
        icc = im.info.get("icc_profile")
        encoded, mime = encode(work, icc_profile=icc or None)
    except (OSError, ValueError) as exc:  # e.g. a lazily opened image whose file was closed
        raise QwenVLImageError(
            f"{subject} cannot be encoded ({exc}) — call image.load() while its file is open, "
            "or pass the path instead."
        ) from exc
    return encoded, mime, work.size
