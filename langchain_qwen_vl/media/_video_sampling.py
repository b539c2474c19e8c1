"""Sample a local video into the JPEG frames the service takes as a ``video`` frame list (PyAV).

The service accepts a video file inline only as a data URI under 10 MB, which is a few
seconds of ordinary video. A local file is therefore sampled here: decoded once, front to
back (after a seek to the clip start), keeping only the frames nearest to evenly spaced
target times. Each kept frame is scaled by FFmpeg straight to the size the service would
resize it to and encoded to JPEG at once, so memory holds one decoded frame plus the small
JPEGs — never the video, never a list of full-size frames.

The frames are spaced ``1 / fps`` apart where ``fps`` is the **effective** rate, frames /
clip duration, which is what must be sent with the frame list: the model places frame ``k``
at ``k / fps`` seconds after the first frame, so a wrong ``fps`` scales every timestamp.

PyAV is an optional dependency (the ``video`` extra) and is imported inside the functions.
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from typing import IO, TYPE_CHECKING, Any, TypeAlias

from langchain_qwen_vl._extras import install_hint
from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import _video_rules as rules
from langchain_qwen_vl.media._files import LocalFilePolicy
from langchain_qwen_vl.media._sources import ANY_FILE, describe, path_from_str, shorten
from langchain_qwen_vl.media._video_rules import QwenVLVideoError

if TYPE_CHECKING:
    import av.container
    import av.video.stream

__all__ = [
    "INSTALL_HINT",
    "JPEG_QUALITY",
    "SampledFrame",
    "SampledVideo",
    "VideoFileSource",
    "VideoInfo",
    "VideoPlan",
    "local_video_path",
    "plan_clip",
    "plan_video",
    "probe_video",
    "sample_video",
]

VideoFileSource: TypeAlias = "str | os.PathLike[str] | bytes | bytearray | IO[bytes]"
INSTALL_HINT = install_hint("video")
#: JPEG quality of sampled frames (the same as downscaled images).
JPEG_QUALITY = 85
#: Seek instead of decoding through when the next frame to keep is further ahead than this.
SEEK_AHEAD_S = 4.0


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What a video's headers say, read without decoding a frame.

    ``frame_count`` is the container's figure or ``duration · frame_rate``; None if neither is
    known. ``frame_rate`` is the stream's average rate (None if unknown).
    """

    duration: float
    width: int
    height: int
    frame_rate: float | None
    frame_count: int | None
    codec: str
    container: str


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One sampled frame: JPEG bytes, its size, and its time in the source in seconds."""

    jpeg: bytes
    width: int
    height: int
    source_time: float

    def data_uri(self) -> str:
        """The frame as a ``data:image/jpeg;base64,…`` URI."""
        return "data:image/jpeg;base64," + base64.b64encode(self.jpeg).decode("ascii")


@dataclass(frozen=True, slots=True)
class SampledVideo:
    """Frames sampled from a clip ``[start, end)`` of a video, spaced ``1 / fps`` seconds.

    ``fps`` is the effective rate to send with the frames; ``start`` is where the first frame
    sits in the source, so a time ``t`` the model reports is ``start + t`` in the source.
    """

    frames: tuple[SampledFrame, ...]
    fps: float
    start: float
    end: float
    source: VideoInfo

    @property
    def width(self) -> int:
        """Width of every frame."""
        return self.frames[0].width

    @property
    def height(self) -> int:
        """Height of every frame."""
        return self.frames[0].height

    @property
    def jpeg_bytes(self) -> int:
        """Total JPEG bytes of the frames (base64 adds a third on the wire)."""
        return sum(len(frame.jpeg) for frame in self.frames)

    @property
    def tokens(self) -> int:
        """Input tokens of these frames by the service's video formula."""
        return rules.video_tokens(len(self.frames), self.height, self.width)

    def frame_uris(self) -> list[str]:
        """The frames as JPEG data URIs, in order."""
        return [frame.data_uri() for frame in self.frames]

    def to_block(self) -> dict[str, Any]:
        """The frame list block the service takes: ``{"type": "video", "video": [...], "fps"}``."""
        return {"type": "video", "video": self.frame_uris(), "fps": self.fps}


# --- opening ----------------------------------------------------------------------------------


def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:  # pragma: no cover - exercised by a test that hides av
        raise QwenVLVideoError(
            f"sampling a local video file needs PyAV — install it with {INSTALL_HINT}; or "
            "pass an http(s) URL or a list of frames instead."
        ) from exc
    return av


def _describe(source: object) -> str:
    """The source in an error message: a file by its path (a stream by its ``name``)."""
    if isinstance(source, (bytes, bytearray)):
        return f"video bytes ({len(source):,} bytes)"
    name = source if isinstance(source, (str, os.PathLike)) else getattr(source, "name", None)
    if isinstance(name, (str, os.PathLike)):
        return f"video file {shorten(os.fsdecode(os.fspath(name)))}"
    return f"a {type(source).__name__} stream"


def local_video_path(text: str, where: str, policy: LocalFilePolicy = ANY_FILE) -> str:
    """The local file a path or ``file://`` URL names (percent-decoded, checked against
    ``policy``, existing), as images resolve theirs; else :class:`QwenVLVideoError`."""
    try:
        return path_from_str(text, where, "video", policy)
    except QwenVLVideoError:
        raise
    except QwenVLImageError as error:
        raise QwenVLVideoError(str(error)) from None


def _file_argument(source: object, where: str) -> str | IO[bytes]:
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise QwenVLVideoError(f"{where}: video bytes are empty — pass a non-empty video.")
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = os.fsdecode(os.fspath(source)).strip()
        if path[:8].lower().startswith(("http://", "https://", "data:", "oss://")):
            raise QwenVLVideoError(
                f"{where}: {describe(path)} is a URL, not a local file — only local files "
                "are sampled; send URLs as they are (video_block(url))."
            )
        return local_video_path(path, where)
    if hasattr(source, "read"):
        return source  # type: ignore[return-value]
    raise QwenVLVideoError(
        f"{where}: cannot sample {_describe(source)} — pass a path, bytes or a binary file."
    )


@contextmanager
def _open(source: object, where: str) -> Iterator[tuple[Any, Any]]:
    """The open container and its first video stream, or a clear error."""
    av = _import_av()
    target = _file_argument(source, where)
    try:
        container = av.open(target, mode="r")
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise QwenVLVideoError(
            f"{where}: {_describe(source)} is not a readable video ({exc.__class__.__name__}) "
            "— pass an MP4, MOV, MKV, AVI or WEBM file, or convert it with ffmpeg."
        ) from exc
    try:
        if not container.streams.video:
            raise QwenVLVideoError(
                f"{where}: {_describe(source)} has no video stream (format "
                f"{container.format.name!r}) — pass a file with video in it."
            )
        yield container, container.streams.video[0]
    finally:
        container.close()


def _stream_start(stream: av.video.stream.VideoStream) -> float:
    if stream.start_time is None or stream.time_base is None:
        return 0.0
    return float(stream.start_time * stream.time_base)


def _info(container: av.container.InputContainer, stream: Any, where: str) -> VideoInfo:
    duration: float | None = None
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / 1_000_000
    if not duration or duration <= 0:
        raise QwenVLVideoError(
            f"{where}: the video's duration is not in its headers — remux it (e.g. "
            "`ffmpeg -i in -c copy out.mp4`) or pass frames instead."
        )
    rate = stream.average_rate or stream.guessed_rate
    frame_rate = float(rate) if isinstance(rate, Fraction) and rate > 0 else None
    count = stream.frames or (round(duration * frame_rate) if frame_rate else None)
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise QwenVLVideoError(f"{where}: the video stream has no frame size — is it damaged?")
    return VideoInfo(
        duration=duration,
        width=width,
        height=height,
        frame_rate=frame_rate,
        frame_count=count or None,
        codec=stream.codec_context.name,
        container=container.format.name,
    )


def probe_video(source: VideoFileSource, *, where: str = "video") -> VideoInfo:
    """Duration, frame size, rate and frame count from the headers; no frame is decoded.

    Fast even for an hour of video: only the container's headers are read.
    """
    with _open(source, where) as (container, stream):
        return _info(container, stream, where)


# --- sampling ---------------------------------------------------------------------------------


def _targets(start: float, count: int, fps: float) -> list[float]:
    return [start + index / fps for index in range(count)]


def _encode(frame: Any, width: int, height: int) -> bytes:
    """Scale one decoded frame with FFmpeg to ``width``x``height`` and encode it to JPEG."""
    # BICUBIC, as images (_codec.resize): scaling a detailed 1080p test clip to 1056x576..480x256,
    # it was 1.8-3.7 dB closer (PSNR) than AREA to Pillow's BICUBIC, for 1-4 ms more a frame.
    scaled = frame.reformat(width=width, height=height, format="rgb24", interpolation="BICUBIC")
    buffer = io.BytesIO()
    scaled.to_image().save(buffer, "JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _send_size(info: VideoInfo, count: int, max_pixels: int | None) -> tuple[int, int]:
    """(width, height) to send: the service's grid when it shrinks the frame, else as is."""
    h_bar, w_bar = rules.frame_grid(info.height, info.width, count, max_pixels=max_pixels)
    if h_bar * w_bar < info.height * info.width:
        return w_bar, h_bar
    return info.width, info.height  # the service upscales small frames itself


def plan_clip(
    info: VideoInfo,
    *,
    fps: float,
    start: float | None,
    end: float | None,
    max_frames: int | None,
    where: str = "video",
) -> tuple[float, float, int, float]:
    """``(start, end, frames, effective fps)`` for sampling a clip of a video with ``info``.

    The frames are spread evenly over the clip, so the effective fps is frames / clip length.
    """
    begin, stop = rules.check_clip(info.duration, start, end, where=where)
    assert stop is not None  # the duration is known
    clip = stop - begin
    available = max(1, int(clip * info.frame_rate + 0.5)) if info.frame_rate else None
    count = rules.sample_count(
        clip, fps, available_frames=available, max_frames=max_frames, where=where
    )
    return begin, stop, count, min(count / clip, rules.MAX_FPS)


def _checked(
    fps: object, start: object, end: object, max_frames: object, max_pixels: object, where: str
) -> tuple[float, int | None, int | None]:
    """The sampling choices checked before any file is opened (clip types and order too)."""
    rules.check_clip(None, start, end, where=where)
    return (
        rules.check_fps(fps, where=where),
        rules.check_max_frames(max_frames, where=where),
        rules.check_max_pixels(max_pixels, where=where),
    )


@dataclass(frozen=True, slots=True)
class VideoPlan:
    """What sampling a clip would send, computed from the headers alone (a dry run).

    ``fps`` is the effective rate sent with the frames; ``width``/``height`` the size of each
    frame the service sees; ``tokens`` the input tokens by the service's formula.
    """

    source: VideoInfo
    start: float
    end: float
    frames: int
    fps: float
    width: int
    height: int
    tokens: int

    def __str__(self) -> str:
        return (
            f"{self.end - self.start:.1f} s of {self.source.width}x{self.source.height} video "
            f"-> {self.frames} frames at {self.fps:.3g} fps, {self.width}x{self.height} each, "
            f"{self.tokens:,} input tokens"
        )


def plan_video(
    source: VideoFileSource,
    *,
    fps: float = rules.DEFAULT_FPS,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    max_pixels: int | None = None,
    where: str = "video",
) -> VideoPlan:
    """What :func:`sample_video` would send for this clip, from the file's headers only.

    A dry run: nothing is decoded, so an hour of video is planned in milliseconds.
    """
    fps, max_frames, max_pixels = _checked(fps, start, end, max_frames, max_pixels, where)
    info = probe_video(source, where=where)
    begin, stop, count, rate = plan_clip(
        info, fps=fps, start=start, end=end, max_frames=max_frames, where=where
    )
    height, width = rules.frame_grid(info.height, info.width, count, max_pixels=max_pixels)
    tokens = rules.video_tokens(count, info.height, info.width, max_pixels=max_pixels)
    return VideoPlan(info, begin, stop, count, rate, width, height, tokens)


def sample_video(
    source: VideoFileSource,
    *,
    fps: float = rules.DEFAULT_FPS,
    start: float | None = None,
    end: float | None = None,
    max_frames: int | None = None,
    max_pixels: int | None = None,
    where: str = "video",
) -> SampledVideo:
    """Sample the clip ``[start, end)`` of a local video at ``fps`` into JPEG frames.

    The frame count is ``clip · fps`` clamped to the service's 4–2,000 (and ``max_frames``,
    and the frames the clip has), even; frames are resized to the per-frame cap and the
    video's total pixel budget. The result's ``fps`` is the effective rate: send it with the
    frames. Errors (:class:`QwenVLVideoError`) name the field, the value and the fix.

    Args:
        source: a path, ``file://`` path, bytes, or a binary file object.
        fps: frames per second to sample, 0.1 to 10.
        start: clip start in seconds (default: the beginning).
        end: clip end in seconds (default: the end of the video).
        max_frames: at most this many frames (4 to 2,000).
        max_pixels: per-frame pixel cap (65,536 to 2,048,000; default 655,360).
        where: how error messages name this input.
    """
    fps, max_frames, max_pixels = _checked(fps, start, end, max_frames, max_pixels, where)
    with _open(source, where) as (container, stream):
        info = _info(container, stream, where)
        begin, stop, count, rate = plan_clip(
            info, fps=fps, start=start, end=end, max_frames=max_frames, where=where
        )
        width, height = _send_size(info, count, max_pixels)
        frames = _decode_targets(
            container, stream, _targets(begin, count, rate), stop, info, width, height
        )
    if len(frames) < rules.MIN_FRAMES:
        raise QwenVLVideoError(
            f"{where}: only {len(frames)} frames could be decoded from {_describe(source)} "
            f"between {begin:g} s and {stop:g} s — the file may be damaged or shorter than its "
            "headers say; pass a longer clip or re-encode the video."
        )
    frames = frames[: len(frames) - len(frames) % rules.FRAME_FACTOR]
    return SampledVideo(tuple(frames), rate, begin, stop, info)


def _decode_targets(
    container: Any,
    stream: Any,
    targets: list[float],
    stop: float,
    info: VideoInfo,
    width: int,
    height: int,
) -> list[SampledFrame]:
    """Decode the clip and keep, for each target time, the frame nearest to it.

    Decoding runs front to back; when the next target is more than :data:`SEEK_AHEAD_S`
    ahead, it seeks there instead (to the keyframe before it). If a seek lands in the first
    half of the gap or before it (keyframes too sparse for the gap), seeking saves little or
    repeats work, so the rest is decoded straight through.
    """
    offset = _stream_start(stream)
    half_frame = 0.5 / info.frame_rate if info.frame_rate else 0.0
    stream.thread_type = "AUTO"
    kept: list[SampledFrame] = []
    last: SampledFrame | None = None
    index, position, can_seek = 0, -math.inf, True
    while index < len(targets):
        aim = targets[index] - half_frame
        seeked = can_seek and aim - position > SEEK_AHEAD_S and aim > 0
        if seeked:
            try:
                at = int((aim + offset) / stream.time_base)
                container.seek(at, stream=stream, backward=True, any_frame=False)
            except (_import_av().error.FFmpegError, OSError, ValueError):
                seeked = can_seek = False  # a stream that cannot seek: read on
        jumped = False
        for frame in container.decode(stream):
            if frame.time is None:
                continue
            time = frame.time - offset
            if seeked:
                # Keep seeking while seeks skip at least half of what they jump over.
                seeked = False
                can_seek = time > position and aim - time < (aim - position) / 2
            if time >= stop:
                return kept
            position = time
            # A frame stands for the targets within half a frame interval after its time.
            while index < len(targets) and targets[index] <= time + half_frame:
                if last is None or last.source_time != time:
                    last = SampledFrame(_encode(frame, width, height), width, height, time)
                kept.append(last)
                index += 1
            if index == len(targets):
                return kept
            if can_seek and targets[index] - half_frame - time > SEEK_AHEAD_S:
                jumped = True
                break
        if not jumped:
            break  # the stream ended before the clip did
    return kept
