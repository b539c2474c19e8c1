"""The service's video rules for qwen3-vl-flash, written once: limits, frame count, token formula.

Everything video-related in the client (sampling, validation, token estimates) imports these
names; the emulator keeps its own copy on purpose, as it stands in for the service.

Limits (Alibaba's API reference for the qwen3-vl-plus/flash series):

- a frame list has 4 to 2,000 frames; ``fps`` is 0.1 to 10, default 2.0;
- a video file lasts 2 s to 1 h;
- each frame is resized between ``min_pixels`` 65,536 (64·32·32) and ``max_pixels``, default
  655,360 (640·32·32), which a part may set up to 2,048,000; the whole video to
  ``total_pixels`` 134,217,728 (131,072·32·32);
- two consecutive frames merge into one temporal patch, and a video costs 2 extra tokens.

Token formula (Alibaba's published estimator, with the reference's per-frame floor)::

    cap    = max(min(max_pixels, 134_217_728 / frames * 2), 65_536 * 1.05)
    h̄, w̄   = the image resize of (h, w) to the 32-px grid with max_pixels=cap, min_pixels=65_536
    tokens = ceil(frames / 2) * (h̄ / 32) * (w̄ / 32) + 2

``max_pixels`` is the part's own (65,536 to 2,048,000) or 655,360: the estimator's constant
is the default, and the reference shrinks every frame to at most the part's ``max_pixels``.

The published estimator code floors frames at 4·32·32 pixels while the API reference gives
65,536 as the default ``min_pixels`` of video frames for this model. We use 65,536: it only
changes frames smaller than 256x256, and then the estimate errs on the high side.
"""

from __future__ import annotations

import functools
import math

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._geometry import PATCH_SIZE, resized_dimensions

__all__ = [
    "DEFAULT_FPS",
    "FRAME_FACTOR",
    "FRAME_MAX_PIXELS",
    "FRAME_MAX_PIXELS_LIMIT",
    "FRAME_MIN_PIXELS",
    "MAX_DURATION_S",
    "MAX_FPS",
    "MAX_FRAMES",
    "MIN_DURATION_S",
    "MIN_FPS",
    "MIN_FRAMES",
    "TOTAL_PIXELS",
    "VIDEO_EXTRA_TOKENS",
    "QwenVLVideoError",
    "check_clip",
    "check_fps",
    "check_frame_count",
    "check_max_frames",
    "check_max_pixels",
    "frame_grid",
    "frame_pixel_cap",
    "sample_count",
    "url_video_tokens_upper_bound",
    "video_tokens",
    "video_tokens_upper_bound",
]

MIN_FRAMES = 4
MAX_FRAMES = 2000
MIN_FPS = 0.1
MAX_FPS = 10.0
DEFAULT_FPS = 2.0
MIN_DURATION_S = 2.0
MAX_DURATION_S = 3600.0
FRAME_MIN_PIXELS = 64 * 32 * 32  # 65,536
FRAME_MAX_PIXELS = 640 * 32 * 32  # 655,360, the default per-frame cap
#: The highest per-frame ``max_pixels`` a part may set (qwen3-vl-plus/flash series).
FRAME_MAX_PIXELS_LIMIT = 2_048_000
TOTAL_PIXELS = 131_072 * 32 * 32  # 134,217,728
#: Frames merged into one temporal patch.
FRAME_FACTOR = 2
#: vision_bos/vision_eos around every video.
VIDEO_EXTRA_TOKENS = 2
_PATCH = PATCH_SIZE


class QwenVLVideoError(QwenVLImageError):
    """A video input the service would reject, or one that cannot be read or sampled."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- validation -------------------------------------------------------------------------------


def check_fps(fps: object, *, where: str = "video") -> float:
    """``fps`` as a float, or a clear error when it is not a number in [0.1, 10].

    Example:
        >>> check_fps(1)
        1.0
    """
    if not _is_number(fps) or not MIN_FPS <= float(fps) <= MAX_FPS:  # type: ignore[arg-type]
        raise QwenVLVideoError(
            f"{where}: fps={fps!r} is out of range — the service accepts {MIN_FPS} to {MAX_FPS:g} "
            f"frames per second (default {DEFAULT_FPS:g}); pass a number in that range."
        )
    return float(fps)  # type: ignore[arg-type]


def check_frame_count(count: int, *, where: str = "video") -> int:
    """A frame list's length, or a clear error when it is outside [4, 2000]."""
    if not MIN_FRAMES <= count <= MAX_FRAMES:
        raise QwenVLVideoError(
            f"{where}: a video given as frames needs {MIN_FRAMES} to {MAX_FRAMES} frames, got "
            f"{count} — "
            + (
                "add frames (sample the video at a higher fps)."
                if count < MIN_FRAMES
                else "drop frames (sample at a lower fps or pass max_frames)."
            )
        )
    return count


def check_max_frames(max_frames: object, *, where: str = "video") -> int | None:
    """``max_frames`` (None or an int in [4, 2000]) or a clear error."""
    if max_frames is None:
        return None
    if (
        not isinstance(max_frames, int)
        or isinstance(max_frames, bool)
        or not MIN_FRAMES <= max_frames <= MAX_FRAMES
    ):
        raise QwenVLVideoError(
            f"{where}: max_frames={max_frames!r} is invalid — pass an integer from {MIN_FRAMES} "
            f"to {MAX_FRAMES}, or None for the service's maximum."
        )
    return max_frames


def check_max_pixels(max_pixels: object, *, where: str = "video") -> int | None:
    """A per-frame ``max_pixels`` (None or an int in [65,536, 2,048,000]) or a clear error."""
    if max_pixels is None:
        return None
    if (
        not isinstance(max_pixels, int)
        or isinstance(max_pixels, bool)
        or not FRAME_MIN_PIXELS <= max_pixels <= FRAME_MAX_PIXELS_LIMIT
    ):
        raise QwenVLVideoError(
            f"{where}: max_pixels={max_pixels!r} is invalid — the per-frame pixel cap of a video "
            f"is an integer from {FRAME_MIN_PIXELS:,} to {FRAME_MAX_PIXELS_LIMIT:,}; pass one in "
            f"that range, or None for the default {FRAME_MAX_PIXELS:,}."
        )
    return max_pixels


def _check_seconds(name: str, value: object, where: str) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or float(value) < 0:  # type: ignore[arg-type]
        raise QwenVLVideoError(
            f"{where}: {name}={value!r} is invalid — pass a number of seconds ≥ 0, or None."
        )
    return float(value)  # type: ignore[arg-type]


def check_clip(
    duration: float | None,
    start: object = None,
    end: object = None,
    *,
    where: str = "video",
) -> tuple[float, float | None]:
    """The clip ``(start, end)`` in seconds, checked against the video's ``duration``.

    ``end`` is None when neither it nor the duration is known. The clip must last 2 s to 1 h.

    Example:
        >>> check_clip(60.0, 10, None)
        (10.0, 60.0)
    """
    begin = _check_seconds("start", start, where) or 0.0
    stop = _check_seconds("end", end, where)
    if duration is not None:
        if begin >= duration:
            raise QwenVLVideoError(
                f"{where}: start={begin:g} s is not before the end of the video "
                f"({duration:.2f} s) — pass a start inside the video."
            )
        stop = duration if stop is None else min(stop, duration)
    if stop is not None:
        if stop <= begin:
            raise QwenVLVideoError(
                f"{where}: end={stop:g} s is not after start={begin:g} s — pass end > start."
            )
        length = stop - begin
        if length < MIN_DURATION_S:
            raise QwenVLVideoError(
                f"{where}: the clip lasts {length:.2f} s; the service needs at least "
                f"{MIN_DURATION_S:g} s — pass a longer clip (start/end) or a longer video."
            )
        if length > MAX_DURATION_S:
            raise QwenVLVideoError(
                f"{where}: the clip lasts {length:.0f} s; the service accepts at most "
                f"{MAX_DURATION_S:.0f} s (1 h) — pass start/end to cut it, or split the video."
            )
    return begin, stop


# --- frame count, frame size, tokens -------------------------------------------------------


def sample_count(
    clip_seconds: float,
    fps: float,
    *,
    available_frames: int | None = None,
    max_frames: int | None = None,
    where: str = "video",
) -> int:
    """Frames to sample from a clip: ``clip·fps`` clamped to [4, 2000] (and to ``max_frames``
    and the frames the clip has), made even as frames are merged in pairs.

    The count is floored to even, except that it never drops below ``clip · 0.1``: frames
    spread evenly over the clip are then at most 10 s apart, the slowest ``fps`` the service
    accepts. A ``max_frames`` too small for that is an error.

    Example:
        >>> sample_count(600, 1.0), sample_count(5, 0.1), sample_count(3600, 2.0)
        (600, 4, 2000)
        >>> sample_count(10.5, 1.0), sample_count(60, 2.0, max_frames=51), sample_count(3599, 0.1)
        (10, 50, 360)
    """
    upper = MAX_FRAMES if max_frames is None else min(MAX_FRAMES, max_frames)
    if available_frames is not None:
        if available_frames < MIN_FRAMES:
            raise QwenVLVideoError(
                f"{where}: the clip has only {available_frames} frames; the service needs at "
                f"least {MIN_FRAMES} — pass a longer clip."
            )
        upper = min(upper, available_frames)
    upper -= upper % FRAME_FACTOR
    need = max(MIN_FRAMES, math.ceil(clip_seconds * MIN_FPS - 1e-9))
    need += need % FRAME_FACTOR
    if need > upper:
        raise QwenVLVideoError(
            f"{where}: {upper} frames cannot cover a {clip_seconds:.0f} s clip — at the slowest "
            f"fps the service accepts ({MIN_FPS}) it needs at least {need}; raise max_frames "
            "or pass start/end for a shorter clip."
        )
    count = int(clip_seconds * fps)
    count -= count % FRAME_FACTOR
    return min(max(count, need), upper)


def frame_pixel_cap(frames: int, max_pixels: int | None = None) -> int:
    """Per-frame pixel cap for a video of ``frames`` frames (floored to an integer).

    ``max(min(max_pixels, 134,217,728 / frames · 2), 65,536 · 1.05)``, never above
    ``max_pixels`` (default 655,360). At the default the total budget bites above 409 frames.

    Example:
        >>> frame_pixel_cap(4), frame_pixel_cap(600), frame_pixel_cap(2000)
        (655360, 447392, 134217)
        >>> frame_pixel_cap(4, 2_048_000), frame_pixel_cap(600, 2_048_000)
        (2048000, 447392)
    """
    ceiling = FRAME_MAX_PIXELS if max_pixels is None else max_pixels
    cap = max(min(ceiling, TOTAL_PIXELS / frames * FRAME_FACTOR), FRAME_MIN_PIXELS * 1.05)
    return min(math.floor(cap), ceiling)


def frame_grid(
    height: int, width: int, frames: int, *, max_pixels: int | None = None
) -> tuple[int, int]:
    """(height, width) every frame is resized to by the service (multiples of 32).

    Example:
        >>> frame_grid(720, 1280, 600), frame_grid(1080, 1920, 4)
        ((480, 864), (576, 1056))
    """
    cap = frame_pixel_cap(frames, max_pixels)
    return resized_dimensions(height, width, max_pixels=cap, min_pixels=FRAME_MIN_PIXELS)


def video_tokens(frames: int, height: int, width: int, *, max_pixels: int | None = None) -> int:
    """Input tokens of a video of ``frames`` frames of ``height``x``width`` pixels.

    Example:
        >>> video_tokens(4, 480, 640), video_tokens(600, 720, 1280)
        (602, 121502)
    """
    h_bar, w_bar = frame_grid(height, width, frames, max_pixels=max_pixels)
    pairs = math.ceil(frames / FRAME_FACTOR)
    return pairs * (h_bar // _PATCH) * (w_bar // _PATCH) + VIDEO_EXTRA_TOKENS


def video_tokens_upper_bound(frames: int, *, max_pixels: int | None = None) -> int:
    """Input tokens of ``frames`` frames of unknown size (URLs, never downloaded): every frame
    at the full per-frame cap, the most the service can count.

    Example:
        >>> video_tokens_upper_bound(4)
        1282
    """
    patches = frame_pixel_cap(frames, max_pixels) // (_PATCH * _PATCH)
    return math.ceil(frames / FRAME_FACTOR) * patches + VIDEO_EXTRA_TOKENS


@functools.cache
def url_video_tokens_upper_bound(fps: float, max_pixels: int | None = None) -> int:
    """The most a video file at a URL can cost (never downloaded: its length and size are
    unknown): the largest :func:`video_tokens_upper_bound` over every frame count the service
    can sample at ``fps`` from a video of up to 1 h, ``int(duration · fps)`` in [4, 2,000].

    The total pixel budget holds it near 131,000 tokens; a low ``fps`` lowers it.

    Example:
        >>> url_video_tokens_upper_bound(2.0), url_video_tokens_upper_bound(0.1)
        (131367, 115202)
    """
    most = min(MAX_FRAMES, max(MIN_FRAMES, int(MAX_DURATION_S * fps)))
    return max(
        video_tokens_upper_bound(n, max_pixels=max_pixels) for n in range(MIN_FRAMES, most + 1)
    )
