"""Where image and video bytes come from: URLs, data URIs, paths, content blocks.

Private half of :mod:`langchain_qwen_vl.media` (which re-exports ``image_source_from_block``
and ``prepare_video``): locating the bytes and naming bad values in error messages. Nothing
here imports Pillow.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeGuard

from langchain_qwen_vl.errors import QwenVLImageError

if TYPE_CHECKING:
    from PIL import Image

    from langchain_qwen_vl.media import ImageSource

INPUT_FORMS = "an existing path, an http(s) URL, a data: URI, bytes or a PIL image"
_BASE64_RE = re.compile(r"[A-Za-z0-9+/=\s]+")


def is_pil(value: object) -> TypeGuard[Image.Image]:
    # If PIL.Image was never imported, no PIL image exists: a str/bytes input never imports it.
    pil = sys.modules.get("PIL.Image")
    return pil is not None and isinstance(value, pil.Image)


# --- describing values in error messages ----------------------------------------------------


def shorten(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else f"{text[: limit - 20]!r}… ({len(text):,} chars)"


def describe(value: object) -> str:
    """The offending value for an error message: at most ~80 characters, never base64."""
    if isinstance(value, str):
        if value[:5].lower() == "data:":
            comma = value.find(",")
            head = value[: comma + 1] if 0 <= comma <= 60 else value[:30]
            return f"'{head}…' ({len(value):,} chars)"
        if len(value) > 80:
            return f"{value[:24]!r}… ({len(value):,} chars)"
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"<{len(value):,} bytes>"
    if isinstance(value, os.PathLike):
        return shorten(os.fsdecode(os.fspath(value)))
    if is_pil(value):
        return f"<PIL image {value.mode} {value.width}x{value.height}>"
    return f"<{type(value).__name__}>"


# --- strings: URLs, data URIs, paths ----------------------------------------------------------


def is_http(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


def decode(uri: str, where: str) -> tuple[str, bytes, bool]:
    """(mime, bytes, canonical): canonical means ``data:<mime>;base64,<strict base64>``."""
    comma = uri.find(",")
    if uri[:5].lower() != "data:" or comma < 0:
        raise QwenVLImageError(
            f"{where}: malformed data URI {describe(uri)} — expected "
            "'data:<mime type>;base64,<base64 data>'."
        )
    params = [p.strip().lower() for p in uri[5:comma].split(";")]
    mime, payload = params[0], uri[comma + 1 :]
    if "base64" not in params[1:]:
        # RFC 2397 allows percent-encoded data; rare for images but cheap to honour.
        return mime, urllib.parse.unquote_to_bytes(payload), False
    try:
        return mime, base64.b64decode(payload, validate=True), params[1:] == ["base64"]
    except (binascii.Error, ValueError):
        pass
    # Tolerate what tools commonly emit: line-wrapped, url-safe, or unpadded base64.
    cleaned = "".join(payload.split()).replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return mime, base64.b64decode(cleaned, validate=True), False
    except (binascii.Error, ValueError):
        raise QwenVLImageError(
            f"{where}: data URI {describe(uri)} has an invalid base64 payload — encode the "
            "file with base64.b64encode(data).decode()."
        ) from None


def path_from_str(text: str, where: str, kind: str = "image") -> str:
    """The existing local file named by a plain path or a ``file://`` URL; else a clear error."""
    forms = (
        INPUT_FORMS if kind == "image" else "an existing path, an http(s) URL, a data: URI or bytes"
    )
    if text[:7].lower() == "file://" or text[:6].lower() == "file:/":
        parts = urllib.parse.urlsplit(text)
        if parts.netloc not in ("", "localhost"):
            raise QwenVLImageError(
                f"{where}: file URL {describe(text)} names a remote host — use 'file:///path'."
            )
        from urllib.request import url2pathname  # ~60 ms cold: only for file:// URLs

        path = url2pathname(parts.path)
    else:
        path = text
        scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]{1,15})://", text)
        hint = None
        if scheme:
            hint = f"{scheme.group(1)}:// URLs are not supported — pass {forms}"
        elif len(text) > 100 and _BASE64_RE.fullmatch(text) and not os.path.exists(text):
            hint = (
                "this looks like bare base64 — prefix it with 'data:image/png;base64,' (the "
                "right mime type) or use a block {'type': 'image', 'base64': ..., 'mime_type': ...}"
            )
        elif re.match(r"(www\.)?[\w-]+(\.[\w-]+)+/", text) and not os.path.exists(text):
            hint = f"if it is a web address, add 'https://'; else pass {forms}"
        if hint is not None:
            raise QwenVLImageError(
                f"{where}: {kind} {describe(text)} is not an http(s) URL, a data: URI or an "
                f"existing file — {hint}."
            )
    if not os.path.exists(path):
        raise QwenVLImageError(
            f"{where}: {kind} file {shorten(path)} does not exist — pass {forms}."
        )
    if os.path.isdir(path):
        raise QwenVLImageError(
            f"{where}: {kind} path {shorten(path)} is a directory — pass the path of a file."
        )
    return path


def read(path: str, where: str, kind: str = "image") -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise QwenVLImageError(
            f"{where}: {kind} file {shorten(path)} cannot be read ({exc.strerror or exc}) — "
            "check that it is a readable file."
        ) from exc


def check_remote(url: str, where: str, kind: str = "image") -> str:
    if not urllib.parse.urlsplit(url).netloc:
        raise QwenVLImageError(
            f"{where}: {kind} URL {describe(url)} has no host — pass a full http(s) URL."
        )
    return url


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def data_uri_length(mime: str, size: int) -> int:
    return len("data:;base64,") + len(mime) + 4 * math.ceil(size / 3)


# --- video ---------------------------------------------------------------------------------

VIDEO_MIME_BY_EXTENSION = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
}


def sniff_video(head: bytes) -> str | None:
    """The mime type of a video container from its first bytes, or None."""
    if head[4:8] == b"ftyp":
        return "video/quicktime" if head[8:12] == b"qt  " else "video/mp4"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "video/x-msvideo"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: Matroska, or WebM when its doctype says so
        return "video/webm" if b"webm" in head[:64] else "video/x-matroska"
    return None


def prepare_video(source: str | os.PathLike[str] | bytes, *, where: str = "video") -> str:
    """The URL to send for a video file: http(s) and data: URIs as they are, else a data URI.

    Local paths (``str``, ``os.PathLike``, ``file://``) are read and base64-encoded with the
    mime type of their extension (mp4, m4v, mov, avi, mkv, webm; others are sniffed from the
    content). Bytes are sniffed and default to ``video/mp4``. Videos are not transcoded or
    measured here; the service checks duration and frame limits.

    Example:
        >>> prepare_video("https://example.com/clip.mp4")
        'https://example.com/clip.mp4'
        >>> prepare_video(b"\\x00\\x00\\x00\\x18ftypmp42")[:30]
        'data:video/mp4;base64,AAAAGGZ0'
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if not data:
            raise QwenVLImageError(f"{where}: video bytes are empty — pass a non-empty video.")
        return data_uri(sniff_video(data[:64]) or "video/mp4", data)
    if isinstance(source, str):
        text = source.strip()
        if is_http(text):
            return check_remote(text, where, "video")
        if text[:5].lower() == "data:":
            if "," not in text or not text[5:].lower().startswith("video/"):
                raise QwenVLImageError(
                    f"{where}: video data URI {describe(text)} is malformed — expected "
                    "'data:video/<type>;base64,<data>'."
                )
            return text
    elif not isinstance(source, os.PathLike):
        raise QwenVLImageError(
            f"{where}: unsupported video value {describe(source)} — pass a path, an "
            "http(s) URL, a data: URI or bytes."
        )
    path = path_from_str(os.fsdecode(os.fspath(source)).strip(), where, kind="video")
    data = read(path, where, "video")
    if not data:
        raise QwenVLImageError(f"{where}: video file {shorten(path)} is empty — pass a video.")
    ext = os.path.splitext(path)[1].lower()
    mime = VIDEO_MIME_BY_EXTENSION.get(ext) or sniff_video(data[:64])
    if mime is None:
        raise QwenVLImageError(
            f"{where}: video file {shorten(path)} is not an mp4, mov, avi, mkv or webm "
            "video — convert it (e.g. with ffmpeg) or pass an http(s) URL."
        )
    return data_uri(mime, data)


# --- content blocks --------------------------------------------------------------------------


def _unsupported_id(where: str) -> QwenVLImageError:
    return QwenVLImageError(
        f"{where}: image blocks with a file id are not supported — DashScope has no file store "
        "for chat input; send the image as 'url' (http(s) or data: URI), 'base64' with "
        "'mime_type', or a path."
    )


def _base64_source(block: Mapping[str, Any], where: str) -> str:
    data = block.get("base64", block.get("data"))
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("ascii", "replace")
    if not isinstance(data, str) or not data.strip():
        raise QwenVLImageError(
            f"{where}: base64 image block has no data ({describe(data)}) — put the "
            "base64 text in 'base64' (or 'data' with source_type='base64')."
        )
    data = data.strip()
    if data[:5].lower() == "data:":  # a whole data URI where bare base64 was expected
        return data
    # An empty mime is fine: prepare_image sniffs the format and writes the right one.
    return f"data:{block.get('mime_type') or ''};base64,{data}"


def image_source_from_block(block: Mapping[str, Any], *, where: str) -> ImageSource | None:
    """The image inside a content block, or None if the block is not an image.

    Reads LangChain v1 blocks (``{"type": "image", "url" | "base64" + "mime_type"}``), v0
    data blocks (``"source_type": "url" | "base64"``), OpenAI parts
    (``{"type": "image_url", "image_url": {"url": ...}}`` or a bare string; Responses-style
    ``input_image``), DashScope-native ``{"image": ...}``, and ours: ``"image"``/``"path"``/
    ``"url"`` holding a path, bytes or PIL image. A base64 block becomes a data URI. A
    ``file_id`` block raises :class:`QwenVLImageError`: DashScope cannot read file ids.

    Example:
        >>> image_source_from_block({"type": "image_url", "image_url": {"url": "https://x/a.png"}},
        ...                         where="messages[0].content[1]")
        'https://x/a.png'
        >>> image_source_from_block({"type": "text", "text": "hi"}, where="m") is None
        True
    """
    block_type = block.get("type")
    if block_type in ("image_url", "input_image") or (block_type is None and "image_url" in block):
        inner = block.get("image_url")
        value = inner.get("url") if isinstance(inner, Mapping) else inner
        if value is None and "file_id" in block:
            raise _unsupported_id(where)
        if value is None:
            raise QwenVLImageError(
                f"{where}: image_url block has no URL — use "
                "{'type': 'image_url', 'image_url': {'url': 'https://... or data:...'}}."
            )
        return value  # type: ignore[no-any-return]
    if block_type is None:
        return block.get("image")
    if block_type != "image":
        return None
    for key in ("url", "image", "path"):
        if block.get(key) is not None:
            return block[key]  # type: ignore[no-any-return]
    if "base64" in block or block.get("source_type") == "base64":
        return _base64_source(block, where)
    if "file_id" in block or block.get("source_type") == "id":
        raise _unsupported_id(where)
    raise QwenVLImageError(
        f"{where}: image block has no source — give 'url' (http(s) URL or data: URI), "
        "'base64' with 'mime_type', or 'path'."
    )


# --- one image input, located -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Located:
    """Where one image input's bytes are. Exactly one of remote/data/path/pil is set."""

    subject: str  # "<where>: <what> <value>", the start of every error message about it
    remote: str | None = None
    data: bytes | None = None
    path: str | None = None
    pil: Image.Image | None = None
    declared_mime: str | None = None  # the mime type a data URI names
    canonical_uri: str | None = None  # the data URI text, if canonical (can be sent as is)


def locate(source: object, where: str) -> Located:
    """Classify an image input without reading any file or decoding any pixel."""
    if isinstance(source, str):
        text = source.strip()
        if is_http(text):
            return Located(f"{where}: image URL", remote=check_remote(text, where))
        if text[:5].lower() == "data:":
            mime, raw, canonical = decode(text, where)
            return Located(
                f"{where}: data URI {describe(text)}",
                data=raw,
                declared_mime=mime,
                canonical_uri=text if canonical else None,
            )
        path = path_from_str(text, where)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        return Located(f"{where}: image bytes", data=bytes(source))
    elif isinstance(source, os.PathLike):
        path = path_from_str(os.fsdecode(os.fspath(source)), where)
    elif is_pil(source):
        return Located(f"{where}: image {describe(source)}", pil=source)
    else:
        raise QwenVLImageError(
            f"{where}: unsupported image value {describe(source)} — pass {INPUT_FORMS}."
        )
    return Located(f"{where}: image file {shorten(path)}", path=path)
