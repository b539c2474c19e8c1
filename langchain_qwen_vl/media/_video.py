"""Video inputs: frame budgets, local files sampled into frames, container sniffing."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from langchain_qwen_vl.media import _video_rules as rules
from langchain_qwen_vl.media._budget import ImageBudget
from langchain_qwen_vl.media._files import LocalFilePolicy
from langchain_qwen_vl.media._prepare import PreparedImage
from langchain_qwen_vl.media._sources import decode, open_local
from langchain_qwen_vl.media._video_sampling import local_video_path, plan_video, sample_video

__all__ = [
    "VIDEO_MIME_BY_EXTENSION",
    "VideoOptions",
    "frame_budget",
    "sample_local_video",
    "sniff_video",
    "video_file_tokens",
]


def frame_budget(frame_count: int, max_pixels: int | None = None) -> ImageBudget:
    """The pixel budget of each frame of a ``frame_count``-frame video (see ``_video_rules``).

    Example:
        >>> frame_budget(8).cap, frame_budget(1000).cap
        (655360, 268435)
    """
    cap = rules.frame_pixel_cap(frame_count, max_pixels)
    return ImageBudget(max_pixels=cap, min_pixels=rules.FRAME_MIN_PIXELS)


@dataclass(frozen=True, slots=True)
class VideoOptions:
    """How a video file is sampled: read from its block (``video_block`` writes them)."""

    fps: float = rules.DEFAULT_FPS
    start: float | None = None
    end: float | None = None
    max_frames: int | None = None
    max_pixels: int | None = None

    def sampling(self) -> dict[str, Any]:
        """The keyword arguments of ``sample_video`` / ``plan_video``."""
        return {
            "fps": self.fps,
            "start": self.start,
            "end": self.end,
            "max_frames": self.max_frames,
            "max_pixels": self.max_pixels,
        }

    @classmethod
    def from_block(cls, block: Mapping[str, Any], where: str) -> VideoOptions:
        fps = block.get("fps")
        return cls(
            fps=rules.check_fps(rules.DEFAULT_FPS if fps is None else fps, where=where),
            start=block.get("start"),
            end=block.get("end"),
            max_frames=rules.check_max_frames(block.get("max_frames"), where=where),
            max_pixels=rules.check_max_pixels(block.get("max_pixels"), where=where),
        )


def _local_video(source: Any, where: str, policy: LocalFilePolicy) -> Any:
    """A path (checked against ``policy``), bytes, or a data URI's bytes: what is sampled."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, str) and source.strip()[:5].lower() == "data:":
        return decode(source.strip(), where)[1]
    return local_video_path(os.fsdecode(os.fspath(source)).strip(), where, policy)


@contextmanager
def _opened(source: Any, where: str, policy: LocalFilePolicy) -> Iterator[Any]:
    """What the sampler reads: bytes, or the local file opened through ``policy``."""
    local = _local_video(source, where, policy)
    if not isinstance(local, str):
        yield local
        return
    with open_local(local, where, "video", policy) as handle:
        # Errors name a stream by its ``name``; one opened from a descriptor (allowed_dirs)
        # is named by the number, so give it its path, as open() does.
        raw = getattr(handle, "raw", None)
        if raw is not None and not isinstance(raw.name, str):
            raw.name = local
        yield handle


def sample_local_video(
    source: Any, options: VideoOptions, policy: LocalFilePolicy, where: str
) -> tuple[tuple[PreparedImage, ...], float]:
    """Sample a local video (path, bytes, data URI) into prepared JPEG frames and the effective
    fps to send with them (needs the ``video`` extra, PyAV)."""
    with _opened(source, where, policy) as video:
        sampled = sample_video(video, where=where, **options.sampling())
    original = (sampled.source.width, sampled.source.height)
    frames = tuple(
        PreparedImage(f.data_uri(), "image/jpeg", f.width, f.height, original, True, False)
        for f in sampled.frames
    )
    return frames, sampled.fps


def video_file_tokens(
    source: Any, options: VideoOptions, policy: LocalFilePolicy, where: str
) -> int:
    """Tokens of a local video as it would be sampled, from its headers only (PyAV)."""
    with _opened(source, where, policy) as video:
        return plan_video(video, where=where, **options.sampling()).tokens


VIDEO_MIME_BY_EXTENSION = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".avi": "video/x-msvideo",
    ".mkv": "video/x-matroska",
    ".webm": "video/webm",
    ".flv": "video/x-flv",
    ".wmv": "video/x-ms-wmv",
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
