"""Video inputs: a video file as a URL or data URI, and the service's rules for frame lists."""

from __future__ import annotations

import math
import os

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._budget import ImageBudget
from langchain_qwen_vl.media._files import LocalFilePolicy
from langchain_qwen_vl.media._geometry import PATCH_SIZE, resized_dimensions
from langchain_qwen_vl.media._sources import (
    ANY_FILE,
    check_remote,
    data_uri,
    describe,
    is_http,
    path_from_str,
    read,
    shorten,
)

__all__ = [
    "MAX_FRAMES",
    "MIN_FRAMES",
    "check_frame_count",
    "frame_budget",
    "frame_list_tokens",
    "prepare_video",
    "sniff_video",
]

# The service's frame-list rules for qwen3-vl-flash (Alibaba's published token estimator).
MIN_FRAMES = 4
MAX_FRAMES = 2000
FRAME_MIN_PIXELS = 4 * PATCH_SIZE * PATCH_SIZE
FRAME_MAX_PIXELS = 640 * PATCH_SIZE * PATCH_SIZE  # 655,360
VIDEO_TOTAL_PIXELS = 131_072 * PATCH_SIZE * PATCH_SIZE  # 134,217,728
FRAMES_MERGED = 2  # two consecutive frames form one temporal patch


def check_frame_count(count: int, where: str) -> None:
    if not MIN_FRAMES <= count <= MAX_FRAMES:
        raise QwenVLImageError(
            f"{where}: a video given as frames needs {MIN_FRAMES} to {MAX_FRAMES} frames, got "
            f"{count} — sample more or fewer frames."
        )


def frame_budget(frame_count: int) -> ImageBudget:
    """The pixel budget of each frame of a ``frame_count``-frame video: 655,360 px, less when
    the video's total of 134,217,728 px would be exceeded (frames count in pairs).

    Example:
        >>> frame_budget(8).cap, frame_budget(1000).cap
        (655360, 268435)
    """
    per_frame = min(FRAME_MAX_PIXELS, VIDEO_TOTAL_PIXELS / frame_count * FRAMES_MERGED)
    cap = max(per_frame, FRAME_MIN_PIXELS * 1.05)
    return ImageBudget(max_pixels=int(cap), min_pixels=FRAME_MIN_PIXELS)


def frame_list_tokens(frame_count: int, frame_size: tuple[int, int] | None) -> int:
    """Input tokens of a video of ``frame_count`` frames of ``frame_size`` (width, height):
    ``ceil(frames / 2) x patches per frame + 2``. An unknown size counts as a full frame cap.

    Example:
        >>> frame_list_tokens(8, (1280, 720))  # 4 temporal patches of 18 x 33 patches, + 2
        2378
    """
    budget = frame_budget(frame_count)
    if frame_size is None:
        patches = budget.cap // (PATCH_SIZE * PATCH_SIZE)
    else:
        width, height = frame_size
        h_bar, w_bar = resized_dimensions(
            height, width, max_pixels=budget.cap, min_pixels=budget.floor
        )
        patches = (h_bar // PATCH_SIZE) * (w_bar // PATCH_SIZE)
    return math.ceil(frame_count / FRAMES_MERGED) * patches + 2


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


def prepare_video(
    source: str | os.PathLike[str] | bytes,
    *,
    where: str = "video",
    policy: LocalFilePolicy = ANY_FILE,
) -> str:
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
    path = path_from_str(os.fsdecode(os.fspath(source)).strip(), where, "video", policy)
    data = read(path, where, "video", policy)
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
