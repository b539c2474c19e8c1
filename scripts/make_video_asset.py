"""Generate ``examples/assets/colours.mp4``; needs PyAV (the ``video`` extra).

    python scripts/make_video_asset.py

9 s of 320x240 video at 10 fps: red for 0-3 s, green for 3-6 s, blue for 6-9 s (MPEG-4 Part 2
in MP4, keyframe every second). The video docs and examples ask "what colour is shown when?"
about it; the emulator answers from the frames' dominant colours.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ASSET = Path(__file__).resolve().parent.parent / "examples" / "assets" / "colours.mp4"
SIZE, RATE = (320, 240), 10
RUNS = (((220, 30, 30), 3), ((30, 200, 40), 3), ((30, 50, 220), 3))  # (RGB, seconds)


def write(path: Path = ASSET) -> int:
    """Write the clip; return its size in bytes."""
    import av

    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("mpeg4", rate=RATE)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = RATE
        index = 0
        for colour, seconds in RUNS:
            frame = av.VideoFrame.from_image(Image.new("RGB", SIZE, colour))
            for _ in range(seconds * RATE):
                frame.pts = index
                index += 1
                for packet in stream.encode(frame):
                    output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path.stat().st_size


if __name__ == "__main__":
    print(f"{ASSET.name}: {write():,} bytes")
