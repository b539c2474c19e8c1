"""Video input: blocks that reference a video, turning them into wire parts, and their cost.

- :func:`video_block` builds a small LangChain ``video`` block that *references* a path, bytes
  or a URL and carries the sampling choices (``fps``, ``start``, ``end``, ``max_frames``).
- :func:`prepare_video_block` turns any video block into the part the service takes: a local
  file is sampled into a JPEG frame list sent with its effective ``fps``; an http(s) URL is
  passed through as ``video_url``; a frame list is checked and kept.
- :func:`plan_video` / :func:`estimate_video_tokens` give the frame count, frame size and
  input tokens before anything is sent; for a file only its headers are read.

The limits and the token formula live in ``_video_rules``; sampling in ``_video_sampling``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_qwen_vl.media import _video_rules as rules
from langchain_qwen_vl.media._content import video_ref
from langchain_qwen_vl.media._sources import ANY_FILE
from langchain_qwen_vl.media._video import VIDEO_MIME_BY_EXTENSION, sniff_video
from langchain_qwen_vl.media._video_rules import QwenVLVideoError
from langchain_qwen_vl.media._video_sampling import (
    SampledVideo,
    VideoFileSource,
    VideoInfo,
    VideoPlan,
    local_video_path,
    plan_video,
    probe_video,
    sample_video,
)

__all__ = [
    "QwenVLVideoError",
    "SampledVideo",
    "VideoInfo",
    "VideoPlan",
    "estimate_video_tokens",
    "plan_video",
    "prepare_video_block",
    "probe_video",
    "sample_video",
    "video_block",
]

_SAMPLING_KEYS = ("start", "end", "max_frames")


# --- the block ----------------------------------------------------------------------------


def _is_url(text: str) -> bool:
    return text.lower().startswith(("http://", "https://", "oss://"))


def _sniff_mime(head: bytes) -> str:
    return sniff_video(head) or "video/mp4"


def _options(
    fps: object, start: object, end: object, max_frames: object, where: str
) -> dict[str, Any]:
    options: dict[str, Any] = {"fps": rules.check_fps(fps, where=where)}
    begin, stop = rules.check_clip(None, start, end, where=where)
    if start is not None:
        options["start"] = begin
    if stop is not None:
        options["end"] = stop
    checked = rules.check_max_frames(max_frames, where=where)
    if checked is not None:
        options["max_frames"] = checked
    return options


def video_block(
    source: str | os.PathLike[str] | bytes | bytearray,
    fps: float = rules.DEFAULT_FPS,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
) -> dict[str, Any]:
    """A LangChain ``video`` content block referencing ``source``, with sampling choices.

    - a path (``str``, ``Path``, ``file://``) -> ``{"type": "video", "path": <absolute path>,
      "mime_type": ..., "fps": ...}``; the file is sampled when the message is sent;
    - bytes or a ``data:video/...`` URI -> ``{"type": "video", "base64": ..., "mime_type": ...,
      "fps": ...}``;
    - an http(s) or ``oss://`` URL -> ``{"type": "video", "url": ..., "fps": ...}``; the service
      samples it, so ``start``/``end``/``max_frames`` are refused for URLs.

    ``start``, ``end`` (seconds) and ``max_frames`` appear only when given. No frame is decoded
    here; the file must exist.

    Example:
        >>> video_block("https://example.com/clip.mp4", fps=1)
        {'type': 'video', 'url': 'https://example.com/clip.mp4', 'fps': 1.0}
    """
    where = "video_block"
    options = _options(fps, start, end, max_frames, where)
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise QwenVLVideoError(f"{where}: video bytes are empty — pass a non-empty video.")
        data = base64.b64encode(bytes(source)).decode("ascii")
        return {
            "type": "video",
            "base64": data,
            "mime_type": _sniff_mime(bytes(source[:64])),
            **options,
        }
    if not isinstance(source, (str, os.PathLike)):
        raise QwenVLVideoError(
            f"{where}: cannot reference a {type(source).__name__} — pass a path, bytes or a URL."
        )
    text = os.fsdecode(os.fspath(source)).strip()
    if _is_url(text):
        given = [key for key in _SAMPLING_KEYS if key in options]
        if given:
            raise QwenVLVideoError(
                f"{where}: {', '.join(given)} cannot apply to a URL — the service samples URL "
                "videos whole at `fps`; download the file and pass its path to sample a clip."
            )
        return {"type": "video", "url": text, **options}
    if text.lower().startswith("data:"):
        mime, _, payload = text[5:].partition(";base64,")
        if not mime.lower().startswith("video/") or not payload:
            raise QwenVLVideoError(
                f"{where}: malformed video data URI {text[:40]!r}… — expected "
                "'data:video/<type>;base64,<data>'."
            )
        return {"type": "video", "base64": payload, "mime_type": mime, **options}
    path = local_video_path(text, where)
    known = VIDEO_MIME_BY_EXTENSION.get(os.path.splitext(path)[1].lower())
    if known is None:
        with open(path, "rb") as handle:
            known = _sniff_mime(handle.read(64))
    return {"type": "video", "path": os.path.abspath(path), "mime_type": known, **options}


# --- into the wire, and the cost: the media pipeline's video rules -------------------------------


def prepare_video_block(
    block: Mapping[str, Any], *, max_pixels: int | None = None, where: str = "video"
) -> dict[str, Any]:
    """The wire part for a video block (OpenAI-compatible chat completions), prepared exactly
    as ``ChatQwenVL`` prepares it in a message.

    - a frame list (``"video": [...]``, frames in any image form) -> ``{"type": "video",
      "video": [URLs or data URIs], "fps"}``, each frame at the per-frame cap;
    - an http(s)/``oss://`` URL -> ``{"type": "video_url", "video_url": {"url"}, "fps"}``;
    - a path, bytes (``base64``) or a data URI -> sampled with :func:`sample_video` into
      ``{"type": "video", "video": [JPEG data URIs], "fps": <effective fps>}``.
    """
    from langchain_qwen_vl._wire.chat_completions import part_to_wire

    if max_pixels is not None:
        block = {**block, "max_pixels": max_pixels}
    return part_to_wire(video_ref(block, where).prepare(ANY_FILE))


def estimate_video_tokens(
    video: VideoFileSource | Mapping[str, Any] | tuple[int, int, int] | Sequence[Any],
    *,
    fps: float = rules.DEFAULT_FPS,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    max_pixels: int | None = None,
) -> int:
    """Input tokens of a video by the service's formula (the count ``ChatQwenVL`` makes).

    ``ceil(frames / 2) · (h̄ / 32) · (w̄ / 32) + 2``, each frame resized under a cap of
    ``max(min(max_pixels, 134,217,728 / frames · 2), 68,812.8)`` pixels (``max_pixels``
    65,536 to 2,048,000, default 655,360; floor 65,536).

    ``video`` is ``(frames, height, width)``; a video block (a frame list, or a path/base64
    block whose ``fps``/``start``/``end``/``max_frames`` then apply); a list of frames in any
    image form; or a path/bytes, sampled with the keyword arguments. Files and frames are read
    header-only. A URL is never downloaded, so its size (and a file URL's length) is unknown:
    the result is then the upper bound, every frame at the per-frame cap and, for a video file,
    the worst length up to 1 h at its ``fps`` (131,367 at fps 2, 115,202 at fps 0.1); pass
    ``(frames, height, width)`` for a closer figure.

    Example:
        >>> estimate_video_tokens((4, 480, 640)), estimate_video_tokens((600, 720, 1280))
        (602, 121502)
        >>> estimate_video_tokens(video_block("https://example.com/clip.mp4", fps=2))
        131367
    """
    where = "estimate_video_tokens"
    if isinstance(video, tuple) and len(video) == 3 and all(isinstance(v, int) for v in video):
        frames, height, width = video
        rules.check_frame_count(frames, where=where)
        rules.check_max_pixels(max_pixels, where=where)
        return rules.video_tokens(frames, height, width, max_pixels=max_pixels)
    block: dict[str, Any]
    if isinstance(video, Mapping):
        block = dict(video)
    elif isinstance(video, (list, tuple)):
        block = {"type": "video", "video": list(video)}
    elif isinstance(video, (str, os.PathLike, bytes, bytearray)):
        block = video_block(video, fps=fps, start=start, end=end, max_frames=max_frames)
    else:
        raise QwenVLVideoError(
            f"{where}: cannot estimate {type(video).__name__} — pass (frames, height, width), "
            "a video block, a list of frames, a path or bytes."
        )
    if max_pixels is not None:
        block["max_pixels"] = max_pixels
    return int(video_ref(block, where).tokens(ANY_FILE))
