"""Getting the bytes of an image the way the emulated service would, then really decoding them.

Where an image comes from decides what the emulator does with it:

- ``data:`` URIs are decoded;
- loopback URLs (``127.x.x.x``, ``localhost``, ``[::1]``) are fetched with httpx — never
  following redirects and never using proxies, so no connection leaves the machine;
- URLs listed in ``url_map`` are read from the mapped local file;
- any other remote URL is **not** fetched: the answer names it and assumes a nominal size;
- ``file://`` URLs are refused, as the service refuses them over HTTP.

Decoding (Pillow) runs in a worker thread; it checks the service's image rules (each side
> 10 px, aspect ratio ≤ 200:1) and measures the dominant colours the answer reports.
"""

from __future__ import annotations

import colorsys
import io
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from PIL import Image

from langchain_qwen_vl.emulator import _service_rules as rules
from langchain_qwen_vl.emulator._errors import (
    ServiceError,
    download_failed,
    invalid_parameter,
)

#: Longest side of the thumbnail the colours are measured on.
_COLOUR_SAMPLE_SIDE = 64
#: A colour is reported when it covers at least this share of the image (at most three are).
_MIN_COLOUR_SHARE = 0.05
_MAX_COLOURS = 3
_MIN_SIDE_EXCLUSIVE = 10
_MAX_ASPECT_RATIO = 200
_FETCH_TIMEOUT_S = 10.0
_EXIF_ORIENTATION = 0x0112
_SWAPS_AXES = frozenset({5, 6, 7, 8})


@dataclass(frozen=True, slots=True)
class ColourShare:
    """One dominant colour: a plain name, the mean colour of its pixels as hex, and its share."""

    name: str
    hex: str
    percent: int


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """What decoding an image told us: its size, format and dominant colours."""

    width: int
    height: int
    format: str | None
    colours: tuple[ColourShare, ...]


@dataclass(frozen=True, slots=True)
class FetchedBytes:
    """The bytes of an image, or ``data=None`` for a remote URL the emulator did not fetch."""

    data: bytes | None
    origin: str  # "data-uri", "loopback", "mapped" or "remote"


# --- where bytes come from ----------------------------------------------------------------


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost`` and loopback IP literals (``127.0.0.0/8``, ``::1``).

    Example:
        >>> is_loopback_host("127.0.0.1"), is_loopback_host("example.com")
        (True, False)
    """
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _max_image_bytes() -> int:
    return rules.MAX_DATA_URI_CHARS


def _too_large(size: int) -> ServiceError:
    return invalid_parameter(f"Exceeded limit on max bytes per data-uri item : {size}")


def decode_data_uri_bytes(uri: str) -> bytes:
    """Bytes of a ``data:<mime>;base64,...`` URI, checked against the 10 MB rule.

    The limit counts the base64 text, as the service does. Malformed URIs raise the 400
    ``ServiceError`` the HTTP layer returns.
    """
    if len(uri) > rules.MAX_DATA_URI_CHARS:
        raise _too_large(len(uri))
    try:
        data = rules.data_uri_payload(uri)
    except ValueError as exc:
        raise invalid_parameter(
            f"The data-uri is malformed and cannot be decoded: {str(exc)[:120]}"
        ) from exc
    return data


def _loopback_url(url: str) -> str:
    # Resolve "localhost" ourselves so that the name can never lead off the machine.
    parts = urlsplit(url)
    if (parts.hostname or "").lower() != "localhost":
        return url
    netloc = "127.0.0.1" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def _fetch_loopback(url: str) -> bytes:
    limit = _max_image_bytes()
    try:
        async with (
            httpx.AsyncClient(
                trust_env=False, follow_redirects=False, timeout=_FETCH_TIMEOUT_S
            ) as client,
            client.stream("GET", _loopback_url(url)) as response,
        ):
            if response.status_code != 200:
                raise download_failed()
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise _too_large(size)
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx.HTTPError as exc:
        raise download_failed() from exc


def _read_mapped(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > _max_image_bytes():
            raise _too_large(size)
        return path.read_bytes()
    except OSError as exc:
        raise download_failed() from exc


async def fetch_media_bytes(url: str, *, url_map: Mapping[str, Path]) -> FetchedBytes:
    """Bytes of one image reference, following the rules in the module docstring.

    Raises :class:`ServiceError` (400) for ``file://`` URLs, malformed data URIs, unknown
    schemes, images over 10 MB, and downloads that fail.
    """
    from starlette.concurrency import run_in_threadpool

    if url in url_map:
        return FetchedBytes(await run_in_threadpool(_read_mapped, url_map[url]), "mapped")
    if url.startswith("data:"):
        return FetchedBytes(await run_in_threadpool(decode_data_uri_bytes, url), "data-uri")
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        raise invalid_parameter(
            "The provided URL does not appear to be valid: file:// URLs are not accepted over "
            "HTTP; send local files as base64 data URIs."
        )
    if scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise invalid_parameter(
            f"The provided URL does not appear to be valid. Ensure it is correctly formatted: "
            f"{url[:80]!r}"
        )
    if is_loopback_host(urlsplit(url).hostname):
        return FetchedBytes(await _fetch_loopback(url), "loopback")
    return FetchedBytes(None, "remote")


# --- decoding -----------------------------------------------------------------------------


def check_dimensions(width: int, height: int) -> None:
    """Raise the service's 400 for a side ≤ 10 px or an aspect ratio above 200:1."""
    if width <= _MIN_SIDE_EXCLUSIVE or height <= _MIN_SIDE_EXCLUSIVE:
        raise invalid_parameter(
            "The image length and width do not meet the model restrictions. "
            f"[height:{height} or width:{width} must be larger than {_MIN_SIDE_EXCLUSIVE}]"
        )
    if max(width, height) > _MAX_ASPECT_RATIO * min(width, height):
        raise invalid_parameter(
            "The image length and width do not meet the model restrictions. "
            f"[aspect ratio of height:{height} and width:{width} must be at most "
            f"{_MAX_ASPECT_RATIO}:1]"
        )


def colour_name(red: int, green: int, blue: int) -> str:
    """A plain English name for an sRGB colour (hue buckets, with greys, brown and pink).

    Example:
        >>> colour_name(208, 32, 32), colour_name(32, 64, 192), colour_name(250, 250, 250)
        ('red', 'blue', 'white')
    """
    hue, saturation, value = colorsys.rgb_to_hsv(red / 255, green / 255, blue / 255)
    if value < 0.18:
        return "black"
    if saturation < 0.18:
        if value > 0.9:
            return "white"
        if value > 0.65:
            return "light grey"
        return "grey" if value > 0.35 else "dark grey"
    degrees = hue * 360
    if 15 <= degrees < 50 and value < 0.65:
        return "brown"
    if degrees < 15 or degrees >= 345:
        if saturation < 0.5 and value > 0.8:
            return "pink"
        return "dark red" if value < 0.45 else "red"
    for upper, name in ((40, "orange"), (70, "yellow"), (165, "green"), (195, "cyan")):
        if degrees < upper:
            return name
    if degrees < 255:
        return "blue"
    if degrees < 285:
        return "purple"
    return "pink" if saturation < 0.5 and value > 0.8 else "magenta"


def dominant_colours(image: Image.Image) -> tuple[ColourShare, ...]:
    """The main colours of an image by share of pixels, largest first (at most three).

    Transparent areas count as white. Pixels are sampled on a small nearest-neighbour
    thumbnail so that colours are never blended at edges.
    """
    scale = min(1.0, _COLOUR_SAMPLE_SIDE / max(image.size))
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    if image.mode not in ("1", "L", "P", "RGB", "RGBA", "LA"):
        image = image.convert("RGBA")  # e.g. CMYK, I;16: resize needs a plain mode
    rgba = image.resize(size, Image.Resampling.NEAREST).convert("RGBA")
    background = Image.new("RGBA", size, (255, 255, 255, 255))
    sample = Image.alpha_composite(background, rgba).convert("RGB")
    counts = sample.getcolors(maxcolors=size[0] * size[1]) or []
    groups: dict[str, list[int]] = {}  # name -> [pixels, sum r, sum g, sum b]
    for count, pixel in counts:
        red, green, blue = pixel  # type: ignore[misc]
        group = groups.setdefault(colour_name(red, green, blue), [0, 0, 0, 0])
        group[0] += count
        group[1] += red * count
        group[2] += green * count
        group[3] += blue * count
    total = size[0] * size[1]
    ranked = sorted(groups.items(), key=lambda item: (-item[1][0], item[0]))
    shares = [
        (
            n / total,
            ColourShare(
                name=name,
                hex="#{:02x}{:02x}{:02x}".format(*(round(c / n) for c in (r, g, b))),
                percent=round(100 * n / total),
            ),
        )
        for name, (n, r, g, b) in ranked
    ]
    major = [share for fraction, share in shares if fraction >= _MIN_COLOUR_SHARE]
    return tuple((major or [share for _, share in shares])[:_MAX_COLOURS])


def decode_image(data: bytes, *, with_colours: bool = True) -> DecodedImage:
    """Decode image bytes with Pillow; raise the service's 400 when they are not an image.

    Blocking: call it in a worker thread from async code.
    """
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.getexif().get(_EXIF_ORIENTATION) in _SWAPS_AXES:
                # The model sees the image as displayed: a rotated phone photo swaps its sides.
                width, height = height, width
            check_dimensions(width, height)
            image.draft("RGB", (_COLOUR_SAMPLE_SIDE, _COLOUR_SAMPLE_SIDE))
            image.load()
            colours = dominant_colours(image) if with_colours else ()
            return DecodedImage(width, height, image.format, colours)
    except ServiceError:
        raise
    except Exception as exc:  # Pillow raises many types for bad data; all mean "not an image"
        raise invalid_parameter(
            "The image format is illegal and cannot be opened. "
            f"({type(exc).__name__}: {str(exc)[:100]})"
        ) from exc
