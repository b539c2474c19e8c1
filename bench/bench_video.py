"""Sampling local video into frames (issue 9): time, peak memory, bytes and tokens.

    python bench/bench_video.py                 # 1-min vs 10-min 1280x720 30 fps clips
    python bench/bench_video.py --minutes 3     # a quicker look (1 min vs 3 min)

What it measures:

1. Generates two H.264 clips with PyAV into a temp dir: 1 minute and 10 minutes (default) of
   1280x720 at 30 fps, low bitrate, a keyframe every 2 s, a box moving over a background
   whose colour changes every 10 s (a 2-second cycle of precomputed frames, so generation
   stays fast).
2. Samples each at 1 fps with ``sample_video`` in a fresh subprocess and reports wall time,
   peak RSS of that process (VmHWM), frames, effective fps, frame size, JPEG bytes, the bytes of the
   frame list as base64 data URIs, and the tokens by the service's formula.
3. Sparse sampling (0.1 fps) of the long clip, seeking ahead vs decoding every frame.
4. The header-only dry run (``plan_video``) on the long clip: wall time and its token figure.
5. The baseline: peak RSS of a subprocess that only imports PyAV and the package.

Target: the long clip's peak RSS while sampling within 1.2x the 1-minute clip's (memory flat
in the video's length). The frames themselves (JPEG, then base64 for the request) grow with
the frame count; that figure is printed separately.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT, RATE = 1280, 720, 30
KEYFRAME_S = 2  # a keyframe every 2 s, as in much streamed and phone video
COLOURS = [(200, 40, 40), (40, 160, 60), (40, 70, 200), (220, 200, 40), (120, 120, 120)]


def generate(path: Path, seconds: int) -> float:
    """Write a ``seconds`` long 720p30 H.264 clip to ``path``; return the time it took."""
    import av
    from PIL import Image, ImageDraw

    began = time.perf_counter()
    cycle = 2 * RATE
    with av.open(str(path), mode="w") as output:
        stream = output.add_stream("libx264", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "32", "g": str(KEYFRAME_S * RATE)}
        stream.thread_type = "AUTO"
        frames: dict[tuple[int, int], object] = {}
        for index in range(seconds * RATE):
            key = ((index // (10 * RATE)) % len(COLOURS), index % cycle)
            if key not in frames:
                if len(frames) > 2 * cycle:
                    frames.clear()
                image = Image.new("RGB", (WIDTH, HEIGHT), COLOURS[key[0]])
                x = 40 + key[1] * (WIDTH - 240) // cycle
                ImageDraw.Draw(image).rectangle((x, 260, x + 160, 420), fill=(250, 250, 250))
                frames[key] = av.VideoFrame.from_image(image).reformat(format="yuv420p")
            frame = frames[key]
            frame.pts = index  # type: ignore[attr-defined]
            for packet in stream.encode(frame):  # type: ignore[arg-type]
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return time.perf_counter() - began


_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import av  # noqa: F401
from langchain_qwen_vl.video import plan_video, sample_video
mode, path = sys.argv[2], sys.argv[3]
def peak_mb():
    # VmHWM: this process's own peak (ru_maxrss would carry the parent's peak over the exec).
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
    kb = int(hwm[0].split()[1]) if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024
began = time.perf_counter()
out = {}
if mode == "sample":
    video = sample_video(path, fps=1.0)
    out["seconds"] = time.perf_counter() - began
    out["peak_rss_mb"] = peak_mb()
    uris = video.frame_uris()
    out.update(frames=len(video.frames), fps=video.fps, size=f"{video.width}x{video.height}",
               jpeg_bytes=video.jpeg_bytes, uri_bytes=sum(len(u) for u in uris),
               tokens=video.tokens, peak_with_uris_mb=peak_mb())
elif mode.startswith("sparse"):
    if mode == "sparse-noseek":
        import langchain_qwen_vl.media._video_sampling as sampling
        sampling.SEEK_AHEAD_S = float("inf")
    video = sample_video(path, fps=0.1)
    out.update(seconds=time.perf_counter() - began, frames=len(video.frames))
    out["peak_rss_mb"] = peak_mb()
else:
    if mode == "plan":
        plan = plan_video(path, fps=1.0)
        out = dict(frames=plan.frames, tokens=plan.tokens, plan=str(plan))
    out["seconds"] = time.perf_counter() - began
    out["peak_rss_mb"] = peak_mb()
print(json.dumps(out))
"""


def child(mode: str, path: Path | str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(ROOT), mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10, help="length of the long clip")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        short, long = Path(tmp) / "short.mp4", Path(tmp) / "long.mp4"
        for path, seconds in ((short, 60), (long, args.minutes * 60)):
            took = generate(path, seconds)
            print(
                f"generated {path.name}: {seconds} s of {WIDTH}x{HEIGHT}@{RATE}, "
                f"{path.stat().st_size / 1e6:.1f} MB in {took:.1f} s",
                flush=True,
            )
        baseline = child("none", short)
        print(f"baseline (imports only): peak RSS {baseline['peak_rss_mb']:.0f} MB")
        results = {}
        for label, path in (("1 min", short), (f"{args.minutes} min", long)):
            r = results[label] = child("sample", path)
            print(
                f"sample {label} at 1 fps: {r['seconds']:.1f} s wall, peak RSS "
                f"{r['peak_rss_mb']:.0f} MB, {r['frames']} frames at {r['fps']:.3f} fps, "
                f"{r['size']}, JPEG {int(r['jpeg_bytes']) / 1e6:.1f} MB "  # type: ignore[call-overload]
                f"(as data URIs {int(r['uri_bytes']) / 1e6:.1f} MB), "  # type: ignore[call-overload]
                f"{r['tokens']:,} tokens; peak RSS with the data URIs built "
                f"{r['peak_with_uris_mb']:.0f} MB",
                flush=True,
            )
        sparse = {mode: child(mode, long) for mode in ("sparse", "sparse-noseek")}
        fast, slow = (float(sparse[m]["seconds"]) for m in ("sparse", "sparse-noseek"))  # type: ignore[arg-type]
        print(
            f"sample {args.minutes} min at 0.1 fps ({sparse['sparse']['frames']} frames): "
            f"{fast:.1f} s seeking ahead vs {slow:.1f} s decoding through ({slow / fast:.1f}x)"
        )
        plan = child("plan", long)
        took = f"{plan['seconds']:.3f} s"
        print(f"dry run {args.minutes} min (headers only): {took} -> {plan['plan']}")
        small, big = results["1 min"], results[f"{args.minutes} min"]
        ratio = float(big["peak_rss_mb"]) / float(small["peak_rss_mb"])  # type: ignore[arg-type]
        print(f"peak RSS {args.minutes} min / 1 min = {ratio:.2f} (target <= 1.20)")
        return 0 if ratio <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
