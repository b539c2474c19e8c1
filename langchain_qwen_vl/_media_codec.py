"""Pillow-side helpers of :mod:`langchain_qwen_vl.media`: sniff, measure, downscale, encode.

Everything that touches pixels lives here so that ``media`` stays about *which* input forms
exist and *when* to downscale. Pillow is imported inside the functions: ``import PIL.Image``
costs ~25 ms cold, and a text-only user of the package should not pay it.

Every function takes a ``subject`` (e.g. ``"messages[0].content[1]: image file 'a.png'"``)
and raises :class:`QwenVLImageError` messages that start with it.
"""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_qwen_vl.errors import QwenVLImageError

if TYPE_CHECKING:
    from PIL import Image

# Formats the service documents (spec §4). Pillow calls a multi-picture JPEG (what many
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

# Spec §4: "above 4K only JPEG/PNG". Read as 4K UHD; either a side or the area above it.
_4K_SIDE = 3840
_4K_AREA = 3840 * 2160

# Quality of the JPEGs we write. 85 after a downscale (bench, 12 MP photo: 19.5% of the
# original's bytes, 33.4 dB PSNR against the server's own resize of the original; q90 costs
# ~20% more bytes). 90 for a user's in-memory image sent at full size: it is the master copy.
RESIZED_JPEG_QUALITY = 85
PIL_JPEG_QUALITY = 90

# Below this output size a resize takes a few ms: not worth a second thread.
_PARALLEL_MIN_PIXELS = 1_000_000

# "Few colours" (see encode) by working mode.
_FEW_COLOURS = {"RGB": 256, "L": 64}

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


def _read_head(data: bytes | None, path: str | None) -> bytes:
    if data is not None:
        return data[:512]
    with open(str(path), "rb") as fh:
        return fh.read(512)


def _format_of(
    im: Image.Image, data: bytes | None, path: str | None, subject: str
) -> tuple[str, str]:
    fmt = _FORMAT_ALIASES.get(im.format or "", im.format or "")
    if fmt not in SUPPORTED_FORMATS:
        raise QwenVLImageError(
            f"{subject} is a {fmt or 'unknown'} image, which the service does not accept — "
            f"use {SUPPORTED_LIST}, or pass a PIL image (e.g. PIL.Image.open(path)) to have it "
            "re-encoded as PNG/JPEG."
        )
    mime = _MIME_BY_FORMAT[fmt]
    if fmt == "HEIF":  # only reached with a HEIF plugin (pillow-heif) registered
        mime = sniff_heif(_read_head(data, path)) or mime
    return fmt, mime


def inspect(data: bytes | None, path: str | None, subject: str) -> ImageInfo:
    """Read the header only (Pillow opens lazily) of ``data`` or the file at ``path``."""
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        source: io.BytesIO | str = io.BytesIO(data) if data is not None else str(path)
        with PILImage.open(source) as im:
            fmt, mime = _format_of(im, data, path, subject)
            orientation = _orientation(im)
            return ImageInfo(fmt, mime, displayed_size(im, orientation), orientation)
    except UnidentifiedImageError:
        heif = sniff_heif(_read_head(data, path))
        if heif is not None:
            # Pillow needs pillow-heif to decode HEIC; without it the bytes go through
            # unchanged (the service reads HEIC) and the size stays unknown.
            return ImageInfo("HEIF", heif, None, 1)
        raise QwenVLImageError(
            f"{subject} is not a recognised image — pass a {SUPPORTED_LIST} image "
            "(path, http(s) URL, data: URI, bytes or a PIL image)."
        ) from None
    except PILImage.DecompressionBombError as exc:
        raise QwenVLImageError(
            f"{subject} is too large to decode safely ({exc}) — downscale it before sending."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise QwenVLImageError(
            f"{subject} cannot be read as an image ({exc}) — check the file is not truncated "
            "or corrupt."
        ) from exc


def needs_transcode(info: ImageInfo) -> bool:
    """True if the format is not accepted at this size (spec: above 4K only JPEG/PNG)."""
    if info.size is None or info.format in ("JPEG", "PNG"):
        return False
    width, height = info.size
    return max(width, height) > _4K_SIDE or width * height > _4K_AREA


def _has_transparency(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info


def _to_working_mode(im: Image.Image) -> Image.Image:
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


def encode(im: Image.Image, *, jpeg_quality: int, icc_profile: bytes | None) -> tuple[bytes, str]:
    """Encode for upload; returns (bytes, mime).

    PNG when the image has real transparency (JPEG cannot carry it) or few colours (at most
    256 in colour, 64 grey levels: diagrams, flat screenshots, clean scans; PNG is lossless
    there and usually smaller than JPEG; any grey image has <= 256 levels, hence the lower
    bar for a grey photo).
    JPEG otherwise: a photo as PNG is 3-5x larger and would often break the 10 MB limit.
    An alpha channel that is fully opaque is dropped first.
    """
    im = _to_working_mode(im)
    if im.mode in ("RGBA", "LA"):
        low, _ = im.getchannel("A").getextrema()
        if isinstance(low, (int, float)) and low < 255:
            return _save(im, "PNG", icc_profile=icc_profile), "image/png"
        im = im.convert("RGB" if im.mode == "RGBA" else "L")
    if im.getcolors(_FEW_COLOURS[im.mode]) is not None:
        return _save(im, "PNG", icc_profile=icc_profile), "image/png"
    return _save(im, "JPEG", icc_profile=icc_profile, quality=jpeg_quality), "image/jpeg"


def _save(im: Image.Image, fmt: str, *, icc_profile: bytes | None, quality: int = 0) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        im.save(buffer, "JPEG", quality=quality, icc_profile=icc_profile)
    else:
        im.save(buffer, "PNG", icc_profile=icc_profile)
    return buffer.getvalue()


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


def _resize(im: Image.Image, size: tuple[int, int]) -> Image.Image:
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
    with ThreadPoolExecutor(max_workers=1) as pool:
        bottom = pool.submit(
            im.resize, (width, height - middle), bicubic, (0, seam, im.width, im.height), 3.0
        )
        top = im.resize((width, middle), bicubic, (0, 0, im.width, seam), 3.0)
        out = PILImage.new(im.mode, size)
        out.paste(top, (0, 0))
        out.paste(bottom.result(), (0, middle))
    return out


def reencode(
    data: bytes, info: ImageInfo, target: tuple[int, int] | None, subject: str
) -> tuple[bytes, str, tuple[int, int]]:
    """Decode ``data``, downscale to ``target`` (displayed width, height) if given, encode.

    Returns (bytes, mime, (width, height) sent). The EXIF orientation is baked into the
    pixels (the output carries no EXIF), so the service sees the image as a viewer shows it.
    """
    from PIL import Image as PILImage

    try:
        with PILImage.open(io.BytesIO(data)) as im:
            icc = im.info.get("icc_profile")
            stored_target = None
            if target is not None:
                width, height = target
                swap = info.orientation in _SWAPS_AXES
                stored_target = (height, width) if swap else (width, height)
                if info.format == "JPEG":
                    # DCT-domain downscale while decoding (by 1/2, 1/4 or 1/8, never below
                    # the target): most of the speed-up over decode-then-resize.
                    im.draft(im.mode, stored_target)
            im.load()
            work = _to_working_mode(im)
            if stored_target is not None:
                work = _resize(work, stored_target)
            work = _apply_orientation(work, info.orientation)
            encoded, mime = encode(work, jpeg_quality=RESIZED_JPEG_QUALITY, icc_profile=icc or None)
            return encoded, mime, work.size
    except PILImage.DecompressionBombError as exc:
        raise QwenVLImageError(
            f"{subject} is too large to decode safely ({exc}) — downscale it before sending."
        ) from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise QwenVLImageError(
            f"{subject} cannot be decoded ({exc}) — check the file is not truncated or corrupt."
        ) from exc


def pil_info(im: Image.Image) -> tuple[int, tuple[int, int]]:
    """(EXIF orientation, displayed (width, height)) of an in-memory image."""
    orientation = _orientation(im)
    return orientation, displayed_size(im, orientation)


def encode_pil(
    im: Image.Image, orientation: int, target: tuple[int, int] | None, subject: str
) -> tuple[bytes, str, tuple[int, int]]:
    """Encode a user's PIL image (never mutated), downscaled to ``target`` if given."""
    try:
        work = _to_working_mode(_apply_orientation(im, orientation))
        if target is not None:
            work = _resize(work, target)
        icc = im.info.get("icc_profile")
        encoded, mime = encode(work, jpeg_quality=PIL_JPEG_QUALITY, icc_profile=icc or None)
    except (OSError, ValueError) as exc:  # e.g. a lazily opened image whose file was closed
        raise QwenVLImageError(
            f"{subject} cannot be encoded ({exc}) — call image.load() while its file is open, "
            "or pass the path instead."
        ) from exc
    return encoded, mime, work.size
