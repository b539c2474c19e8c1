"""The emulator's video side: token count, decoding frames, and a colour timeline.

A frame list is decoded frame by frame (as images); a ``data:video/...`` file is decoded with
PyAV when it is installed, sampled at the part's ``fps`` the way the service samples files.
Other video URLs are not fetched: the answer assumes :data:`NOMINAL_VIDEO_SECONDS` of video
of the configured remote size. Each decoded frame gets its dominant colour, and runs of
frames with the same colour become the timeline of the answer::

    Video 1: 6 frames of 64×48 px at 1 fps, 6.0 s (model sees 320×224 per frame, 212 tokens);
    timeline: 0.0–2.0 s: red, 2.0–4.0 s: green, 4.0–6.0 s: blue.

The token formula is the emulator's own copy of the service's rule (the client has its own):
each frame resized on the 32-px grid between 65,536 and
``max(min(655,360, 134,217,728 / frames · 2), 65,536 · 1.05)`` pixels, then
``ceil(frames / 2) · (h̄ / 32) · (w̄ / 32) + 2``.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from langchain_qwen_vl.emulator import _service_rules as rules
from langchain_qwen_vl.emulator._errors import invalid_parameter
from langchain_qwen_vl.emulator._images import (
    decode_data_uri_bytes,
    decode_image,
    dominant_colours,
    fetch_media_bytes,
)
from langchain_qwen_vl.emulator._request import VideoRef

#: Per-frame pixel floor and cap, and the whole video's pixel budget (qwen3-vl-flash).
FRAME_MIN_PIXELS = 65_536
FRAME_MAX_PIXELS = 655_360
TOTAL_PIXELS = 134_217_728
MIN_FRAMES, MAX_FRAMES = 4, 2000
#: Duration of a video file the service accepts, in seconds.
MIN_SECONDS, MAX_SECONDS = 2, 3600
#: Duration assumed for a ``video_url`` the emulator cannot decode.
NOMINAL_VIDEO_SECONDS = 10
_THUMBNAIL_SIDE = 64


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of frames with the same dominant colour, in seconds from the first frame."""

    start: float
    end: float
    colour: str


@dataclass(frozen=True, slots=True)
class VideoFacts:
    """One received video: frame count and size (nominal when not decodable), tokens, timeline.

    ``seconds`` is the duration the model perceives: frames / fps for a frame list, the
    file's duration for a decoded file.
    """

    frames: int
    width: int
    height: int
    seen_width: int
    seen_height: int
    tokens: int
    nominal: bool = False
    url: str = ""
    fps: float = 2.0
    seconds: float = 0.0
    segments: tuple[Segment, ...] = ()


def frame_pixel_cap(frames: int, max_pixels: int | None = None) -> int:
    """The per-frame pixel cap for a video of ``frames`` frames (``max_pixels``: the part's
    own cap, replacing the default).

    Example:
        >>> frame_pixel_cap(4), frame_pixel_cap(600), frame_pixel_cap(2000)
        (655360, 447392, 134217)
        >>> frame_pixel_cap(4, 2_048_000)
        2048000
    """
    limit = FRAME_MAX_PIXELS if max_pixels is None else max_pixels
    return math.floor(max(min(limit, TOTAL_PIXELS / frames * 2), FRAME_MIN_PIXELS * 1.05))


def video_facts(
    frames: int,
    width: int,
    height: int,
    *,
    nominal: bool = False,
    url: str = "",
    fps: float = 2.0,
    seconds: float | None = None,
    segments: tuple[Segment, ...] = (),
    max_pixels: int | None = None,
) -> VideoFacts:
    """Facts of one video, with the frame size the model sees and the tokens it costs.

    Example:
        >>> v = video_facts(4, 640, 480)
        >>> (v.seen_width, v.seen_height, v.tokens, v.seconds)
        (640, 480, 602, 2.0)
    """
    cap = frame_pixel_cap(frames, max_pixels)
    seen_h, seen_w = rules.smart_resize(height, width, cap, FRAME_MIN_PIXELS)
    tokens = math.ceil(frames / 2) * (seen_h // 32) * (seen_w // 32) + 2
    duration = frames / fps if seconds is None else seconds
    return VideoFacts(
        frames, width, height, seen_w, seen_h, tokens, nominal, url, fps, duration, segments
    )


def nominal_video_frames(fps: float) -> int:
    """Frames assumed for an undecodable video file: :data:`NOMINAL_VIDEO_SECONDS` at ``fps``."""
    return max(MIN_FRAMES, round(NOMINAL_VIDEO_SECONDS * fps))


def timeline(colours: Sequence[str | None], seconds_per_frame: float) -> tuple[Segment, ...]:
    """Runs of equal colours; frame ``k`` covers ``[k, k + 1) · seconds_per_frame``.

    Example:
        >>> [(s.start, s.end, s.colour) for s in timeline(["red", "red", "blue"], 0.5)]
        [(0.0, 1.0, 'red'), (1.0, 1.5, 'blue')]
    """
    segments: list[Segment] = []
    for index, colour in enumerate(colours):
        if colour is None:
            continue
        start, end = index * seconds_per_frame, (index + 1) * seconds_per_frame
        if segments and segments[-1].colour == colour and segments[-1].end == start:
            segments[-1] = Segment(segments[-1].start, end, colour)
        else:
            segments.append(Segment(start, end, colour))
    return tuple(segments)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def describe_video(number: int, video: VideoFacts, echo_url: str = "") -> str:
    """One sentence about a received video, with its colour timeline when it was decoded."""
    where = f"not decoded ({echo_url or video.url}), nominal " if video.nominal else ""
    text = (
        f"Video {number}: {where}{_plural(video.frames, 'frame')} of {video.width}×{video.height}"
        f" px at {video.fps:g} fps, {video.seconds:.1f} s (model sees {video.seen_width}×"
        f"{video.seen_height} per frame, {video.tokens} tokens)"
    )
    if video.segments:
        parts = (f"{s.start:.1f}–{s.end:.1f} s: {s.colour}" for s in video.segments)
        text += "; timeline: " + ", ".join(parts)
    return text + "."


# --- decoding ---------------------------------------------------------------------------------


async def _frame(url: str, url_map: Mapping[str, Path]) -> tuple[int, int, str | None] | None:
    fetched = await fetch_media_bytes(url, url_map=url_map)
    if fetched.data is None:
        return None
    decoded = await run_in_threadpool(decode_image, fetched.data)
    colour = decoded.colours[0].name if decoded.colours else None
    return decoded.width, decoded.height, colour


async def _frames_in_order(urls: Sequence[str], url_map: Mapping[str, Path]) -> list[Any]:
    results = await asyncio.gather(*(_frame(u, url_map) for u in urls), return_exceptions=True)
    for result in results:  # the first failing frame in order decides the error
        if isinstance(result, BaseException):
            raise result
    return list(results)


def _decode_file(data: bytes, fps: float) -> tuple[int, int, float, list[str | None]] | None:
    """(width, height, duration, colour per sampled frame) of a video file, None without PyAV.

    Samples ``clamp(duration · fps, 4, min(2000, frames))`` frames spread evenly over the
    video, as the service does for a file.
    """
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            base = stream.time_base
            duration = float(stream.duration * base) if stream.duration and base else 0.0
            duration = duration or (container.duration or 0) / 1_000_000
            rate = float(stream.average_rate or 0) or fps
            total = stream.frames or max(1, round(duration * rate))
            count = int(min(max(duration * fps, MIN_FRAMES), min(MAX_FRAMES, total)))
            step = duration / count
            colours: list[str | None] = []
            offset = float(stream.start_time * base) if stream.start_time and base else 0.0
            for frame in container.decode(stream):
                if len(colours) == count:
                    break
                time = (frame.time or 0.0) - offset
                while len(colours) < count and len(colours) * step <= time + 0.5 / rate:
                    thumb = frame.to_image(  # type: ignore[no-untyped-call]
                        width=_THUMBNAIL_SIDE, height=_THUMBNAIL_SIDE
                    )
                    shares = dominant_colours(thumb)
                    colours.append(shares[0].name if shares else None)
            width, height = stream.codec_context.width, stream.codec_context.height
    except (av.error.FFmpegError, IndexError, OSError, ValueError, ZeroDivisionError) as exc:
        raise invalid_parameter(
            f"The video file cannot be decoded ({type(exc).__name__}); use MP4, MOV, MKV, AVI or "
            "WEBM"
        ) from exc
    return width, height, duration, colours


async def measure_video(
    video: VideoRef, *, url_map: Mapping[str, Path], remote_size: tuple[int, int]
) -> VideoFacts:
    """Facts of one video part: frames decoded and coloured, or a nominal file."""
    width, height = remote_size
    if video.frames is not None:
        decoded = await _frames_in_order(video.frames, url_map)
        known = [d for d in decoded if d is not None]
        if known:
            width, height = known[0][:2]
        colours = [d[2] if d is not None else None for d in decoded]
        segments = timeline(colours, 1 / video.fps)
        return video_facts(
            len(video.frames),
            width,
            height,
            nominal=not known,
            fps=video.fps,
            segments=segments,
            max_pixels=video.max_pixels,
        )
    url = video.url or ""
    if url.startswith("file:"):
        raise invalid_parameter(
            "The provided URL does not appear to be valid: file:// URLs are not accepted over "
            "HTTP; send local files as base64 data URIs."
        )
    if url.startswith("data:"):
        data = decode_data_uri_bytes(url)  # the 10 MB rule and malformed URIs: the 400s
        found = await run_in_threadpool(_decode_file, data, video.fps)
        if found is not None:
            width, height, seconds, colours = found
            if not MIN_SECONDS <= seconds <= MAX_SECONDS:
                raise invalid_parameter(
                    f"The video duration should be between {MIN_SECONDS} and {MAX_SECONDS} "
                    f"seconds, got {seconds:.2f}"
                )
            segments = timeline(colours, seconds / len(colours))
            return video_facts(
                len(colours),
                width,
                height,
                fps=video.fps,
                seconds=seconds,
                segments=segments,
                max_pixels=video.max_pixels,
            )
    # Other files are not fetched: the emulator assumes a nominal length and frame size.
    frames = nominal_video_frames(video.fps)
    return video_facts(
        frames, width, height, nominal=True, url=url, fps=video.fps, max_pixels=video.max_pixels
    )
