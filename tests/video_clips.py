"""Tiny test videos generated with PyAV (the ``video`` extra): solid colours or grey ramps."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

RED, GREEN, BLUE = (220, 30, 30), (30, 200, 40), (30, 50, 220)


def make_clip(
    colours: Sequence[tuple[int, int, int]],
    *,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    path: Path | None = None,
    container: str = "mp4",
    codec: str = "mpeg4",
    gop: int = 12,
) -> bytes:
    """A video with one frame per entry of ``colours`` at ``fps``; written to ``path`` if given.

    Keyframes every ``gop`` frames, so seeking lands before the target as with real files.
    """
    import av

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        stream.options = {"sc_threshold": "1000000000"}  # no extra keyframes at colour changes
        stream.bit_rate = 4_000_000  # near lossless at these sizes: grey levels survive
        for index, colour in enumerate(colours):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))
            frame.pts = index
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    data = buffer.getvalue()
    if path is not None:
        path.write_bytes(data)
    return data


def grey_ramp(frames: int, *, first: int = 20, step: int = 3) -> list[tuple[int, int, int]]:
    """Frame ``i`` has grey level ``first + step·i``: a decoded frame tells its own index."""
    return [(first + step * i,) * 3 for i in range(frames)]


def segments(*runs: tuple[tuple[int, int, int], int]) -> list[tuple[int, int, int]]:
    """Colours for runs of (colour, frame count), e.g. ``segments((RED, 30), (GREEN, 30))``."""
    return [colour for colour, count in runs for _ in range(count)]


def frame_level(jpeg: bytes) -> int:
    """The mean grey level of a JPEG frame."""
    from PIL import ImageStat

    with Image.open(io.BytesIO(jpeg)) as image:
        return round(ImageStat.Stat(image.convert("L")).mean[0])
