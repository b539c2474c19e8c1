"""Where image and video bytes come from: URLs, data URIs, paths, bytes, PIL images.

Locating an input (without reading a file or decoding a pixel), reading local files through
the :class:`~langchain_qwen_vl.media._files.LocalFilePolicy`, data URIs, and naming bad values
in error messages. Nothing here imports Pillow.
"""

from __future__ import annotations

import base64
import binascii
import math
import os
import re
import sys
import urllib.parse
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, TypeGuard

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._files import FileProblem, LocalFilePolicy

if TYPE_CHECKING:
    from PIL import Image

ANY_FILE = LocalFilePolicy(None)

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
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"<{type(value).__name__}>"


# --- strings: URLs, data URIs, paths ----------------------------------------------------------


def is_http(text: str) -> bool:
    return text[:8].lower().startswith(("http://", "https://"))


# Base64 work is done in slices: one C call holds the GIL throughout (3.5 MB of base64 text
# decode in ~8 ms), and a worker thread holding it that long stalls the event loop. A slice
# of 512 KiB of text (384 KiB of bytes) takes ~1 ms.
_B64_TEXT_SLICE = 1 << 19
_B64_DATA_SLICE = _B64_TEXT_SLICE // 4 * 3


def _strict_b64decode(payload: str) -> bytes:
    """Strict base64, in slices. Not ``b64decode(validate=True)``: its regex pass over the
    whole payload holds the GIL for ~15 ms on a 3.5 MB URI; ``strict_mode`` (Python 3.11+)
    checks the alphabet and padding inside the C decoder."""
    return b"".join(
        binascii.a2b_base64(payload[i : i + _B64_TEXT_SLICE].encode("ascii"), strict_mode=True)
        for i in range(0, len(payload), _B64_TEXT_SLICE)
    )


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
        return mime, _strict_b64decode(payload), params[1:] == ["base64"]
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


def path_from_str(
    text: str, where: str, kind: str = "image", policy: LocalFilePolicy = ANY_FILE
) -> str:
    """The existing local file named by a plain path or a ``file://`` URL, if ``policy``
    allows it; else a clear error (a refusal reads the same whether or not the file exists)."""
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
    if policy.restricted:
        try:
            path = policy.check(path)
        except FileProblem:
            raise refusal(where, kind, path, policy) from None
    if not os.path.exists(path):
        raise QwenVLImageError(
            f"{where}: {kind} file {shorten(path)} does not exist — pass {forms}."
        )
    if os.path.isdir(path):
        raise QwenVLImageError(
            f"{where}: {kind} path {shorten(path)} is a directory — pass the path of a file."
        )
    return path


class FileRefused(QwenVLImageError):
    """A local file the ``allowed_dirs`` policy refuses (the vision tool words it its own way)."""


def refusal(where: str, kind: str, path: str, policy: LocalFilePolicy) -> FileRefused:
    if policy.allows_no_file:
        fix = "this model reads no local files (allowed_dirs=[])"
    else:
        fix = "it is outside the model's allowed_dirs"
    return FileRefused(
        f"{where}: {kind} file {shorten(path)} refused: {fix} — pass an http(s) URL, a data: "
        "URI, bytes or a PIL image, or add its directory to allowed_dirs."
    )


def _file_error(
    problem: FileProblem, where: str, kind: str, path: str, policy: LocalFilePolicy
) -> QwenVLImageError:
    if problem.refused:
        return refusal(where, kind, path, policy)
    return QwenVLImageError(
        f"{where}: {kind} file {shorten(path)} cannot be read ({problem.reason}) — "
        "check that it is a readable file."
    )


def open_local(
    path: str, where: str, kind: str = "image", policy: LocalFilePolicy = ANY_FILE
) -> BinaryIO:
    """The local file opened through ``policy`` (for a header read or a stream)."""
    try:
        return policy.open(path)
    except FileProblem as problem:
        raise _file_error(problem, where, kind, path, policy) from None


def read(path: str, where: str, kind: str = "image", policy: LocalFilePolicy = ANY_FILE) -> bytes:
    """The whole local file, read through ``policy``."""
    try:
        return policy.read(path)
    except FileProblem as problem:
        raise _file_error(problem, where, kind, path, policy) from None


def check_remote(url: str, where: str, kind: str = "image") -> str:
    if not urllib.parse.urlsplit(url).netloc:
        raise QwenVLImageError(
            f"{where}: {kind} URL {describe(url)} has no host — pass a full http(s) URL."
        )
    return url


def data_uri(mime: str, data: bytes) -> str:
    """``data:<mime>;base64,<data>``, encoded in slices (see ``_B64_TEXT_SLICE``)."""
    encoded = "".join(
        base64.b64encode(data[i : i + _B64_DATA_SLICE]).decode("ascii")
        for i in range(0, len(data), _B64_DATA_SLICE)
    )
    return f"data:{mime};base64,{encoded}"


def data_uri_length(mime: str, size: int) -> int:
    return len("data:;base64,") + len(mime) + 4 * math.ceil(size / 3)


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


def locate(source: object, where: str, policy: LocalFilePolicy = ANY_FILE) -> Located:
    """Classify an image input without reading a file or decoding a pixel (a data URI's
    base64 is decoded; a path is checked against ``policy`` and for existence)."""
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
        path = path_from_str(text, where, policy=policy)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        return Located(f"{where}: image bytes", data=bytes(source))
    elif isinstance(source, os.PathLike):
        path = path_from_str(os.fsdecode(os.fspath(source)), where, policy=policy)
    elif is_pil(source):
        return Located(f"{where}: image {describe(source)}", pil=source)
    else:
        raise QwenVLImageError(
            f"{where}: unsupported image value {describe(source)} — pass {INPUT_FORMS}."
        )
    return Located(f"{where}: image file {shorten(path)}", path=path)
