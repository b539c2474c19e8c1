"""Benchmark: client-side downscale of a 12 MP photo before upload (media.prepare_image).

    python bench/bench_image_preprocess.py [--runs 21] [--width 4032 --height 3024] [--json PATH]

Generates a realistic photo-like JPEG (smooth colour fields, hard-edged objects, mid-frequency
texture, sensor grain; saved at quality 92 with 4:2:0 chroma like a phone camera), then prints:

- the bytes of sending the original as a data URI, the bytes ``prepare_image`` sends, the ratio;
- the median preprocessing time over ``--runs`` runs (file read -> data URI);
- the server-side token count (spec §4 formula) of the original and of what is sent;
- a naive baseline measured in the same run (open, full decode, LANCZOS resize to the same
  grid, JPEG encode) and our time as a fraction of it;
- PSNR of what we send, and of the naive result, against the server's own view of the original
  (full decode + bicubic resize to the grid, as qwen-vl-utils does) — i.e. what downscaling on
  our side costs in fidelity.

Targets: bytes <= 35% of the original data URI, median <= 150 ms on a 2-core machine, equal
tokens. Exit status 1 if a target is missed. Nothing touches the network.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageStat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_qwen_vl import media

TARGET_RATIO = 0.35
TARGET_MS = 150.0


def photo_like(width: int, height: int, seed: int = 42) -> Image.Image:
    """A deterministic image with the frequency content of a real photo, Pillow only."""
    rng = random.Random(seed)
    # Large smooth colour fields (sky, walls, out-of-focus background).
    coarse = Image.new("RGB", (12, 9))
    coarse.putdata([tuple(rng.randrange(40, 220) for _ in range(3)) for _ in range(12 * 9)])
    image = coarse.resize((width, height), Image.Resampling.BICUBIC)
    # Objects with hard edges at many scales.
    draw = ImageDraw.Draw(image)
    for _ in range(2500):
        size = int(min(width, height) * rng.choice((0.004, 0.01, 0.03, 0.08)) * rng.random()) + 2
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + size, y + size * rng.uniform(0.3, 2)), fill=colour)
        else:
            draw.rectangle((x, y, x + size * rng.uniform(0.3, 3), y + size), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))  # lens softness
    # Mid-frequency texture (foliage, fabric) and fine sensor grain.
    texture = Image.effect_noise((width // 6, height // 6), 28).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    image = ImageChops.add(image, Image.merge("RGB", (texture,) * 3), offset=-128)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 5) for _ in range(3)])
    return ImageChops.add(image, grain, offset=-128)


def data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_uri(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def naive_prepare(path: str, size: tuple[int, int]) -> str:
    """What a straightforward implementation does: full decode, resize, encode."""
    with Image.open(path) as im:
        resized = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    resized.save(buffer, "JPEG", quality=85)
    return data_uri("image/jpeg", buffer.getvalue())


def psnr(a: Image.Image, b: Image.Image) -> float:
    mse = statistics.fmean(v**2 for v in ImageStat.Stat(ImageChops.difference(a, b)).rms)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: Pillow's plugin registry, file cache
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--width", type=int, default=4032)
    parser.add_argument("--height", type=int, default=3024)
    parser.add_argument("--quality", type=int, default=92, help="JPEG quality of the original")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "photo.jpg")
        photo_like(args.width, args.height).save(path, "JPEG", quality=args.quality)
        original = Path(path).read_bytes()
        original_uri_bytes = len(data_uri("image/jpeg", original))

        prepared = media.prepare_image(path)
        assert prepared.width is not None
        assert prepared.height is not None
        ours_ms = median_ms(lambda: media.prepare_image(path), args.runs)
        grid = (prepared.width, prepared.height)
        naive_uri = naive_prepare(path, grid)
        naive_ms = median_ms(lambda: naive_prepare(path, grid), args.runs)

        tokens_original = media.image_tokens_for_size(args.height, args.width)
        tokens_prepared = media.image_tokens_for_size(prepared.height, prepared.width)
        with Image.open(path) as im:
            server_view = im.convert("RGB").resize(grid, Image.Resampling.BICUBIC)
        psnr_ours = psnr(decode_uri(prepared.url).convert("RGB"), server_view)
        psnr_naive = psnr(decode_uri(naive_uri).convert("RGB"), server_view)

    ratio = len(prepared.url) / original_uri_bytes
    results = {
        "image": f"{args.width}x{args.height} JPEG q{args.quality}",
        "original_file_bytes": len(original),
        "original_data_uri_bytes": original_uri_bytes,
        "prepared_bytes": len(prepared.url),
        "prepared_size": f"{prepared.width}x{prepared.height}",
        "bytes_ratio": round(ratio, 4),
        "preprocess_median_ms": round(ours_ms, 1),
        "naive_median_ms": round(naive_ms, 1),
        "time_vs_naive": round(ours_ms / naive_ms, 3),
        "naive_bytes": len(naive_uri),
        "tokens_original": tokens_original,
        "tokens_prepared": tokens_prepared,
        "psnr_vs_server_view_db": round(psnr_ours, 2),
        "naive_psnr_vs_server_view_db": round(psnr_naive, 2),
        "runs": args.runs,
        "cpus": os.cpu_count(),
    }
    checks = {
        f"bytes ratio <= {TARGET_RATIO:.0%}": ratio <= TARGET_RATIO,
        f"median preprocess <= {TARGET_MS:.0f} ms": ours_ms <= TARGET_MS,
        "tokens identical": tokens_original == tokens_prepared,
    }

    print(f"image                    {results['image']}, {len(original):,} bytes on disk")
    print(f"original as data URI     {original_uri_bytes:>12,} bytes")
    print(f"prepared (sent)          {len(prepared.url):>12,} bytes  ({results['prepared_size']})")
    print(f"ratio                    {ratio:>12.1%}")
    print(f"preprocess median        {ours_ms:>12.1f} ms  (over {args.runs} runs)")
    print(f"naive baseline median    {naive_ms:>12.1f} ms  (open + full decode + resize + encode)")
    print(f"ours / naive             {ours_ms / naive_ms:>12.2f}x")
    print(f"tokens original/prepared {tokens_original:>6} / {tokens_prepared}")
    print(f"PSNR vs server's view    {psnr_ours:>12.2f} dB  (naive: {psnr_naive:.2f} dB)")
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**results, "checks": checks}, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
