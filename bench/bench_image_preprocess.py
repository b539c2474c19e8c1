"""Benchmark: the media pipeline — bytes, time and fidelity of what is sent; the event loop.

    python bench/bench_image_preprocess.py [--runs 11] [--json PATH]

Three generated pictures (deterministic, Pillow only): a 12 MP photo (JPEG q92, 4:2:0 like a
phone), a 300 DPI A4 scan (JPEG q90, grey text on noisy paper) and a 2560x1600 screenshot with
11-px text (PNG). For each it prints:

- the bytes of the original as a data URI vs the bytes ``prepare_image`` sends, the format;
- the median preparation time (file path -> data URI) against a naive baseline measured in the
  same run (open, full decode, LANCZOS resize to the same grid, JPEG q85);
- PSNR of what is sent against the service's own view of the original (full decode + bicubic
  resize to the same grid, as the reference preprocessing does);
- the service's token count of the original and of what is sent (must be equal).

Then, with a 12 MP photo in each of 4 concurrent ``ainvoke`` calls (an in-memory transport
answers at once), the longest event-loop stall, against a baseline in the same run that
prepares on the loop's thread; and ``get_num_tokens_from_messages`` on a 12 MP photo against
``estimate_image_tokens`` on the same file. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
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
from typing import Any

import httpx
from langchain_core.messages import HumanMessage
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageStat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_qwen_vl import ChatQwenVL, media

TARGET_PHOTO_RATIO = 0.35
TARGET_PHOTO_MS = 150.0
TARGET_STALL_MS = 20.0
TARGET_COUNT_RATIO = 1.5


# --- pictures ----------------------------------------------------------------------------------


def photo_like(width: int = 4032, height: int = 3024, seed: int = 42) -> Image.Image:
    """A deterministic image with the frequency content of a real photo."""
    rng = random.Random(seed)
    coarse = Image.new("RGB", (12, 9))
    coarse.putdata([tuple(rng.randrange(40, 220) for _ in range(3)) for _ in range(12 * 9)])
    image = coarse.resize((width, height), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(2500):
        size = int(min(width, height) * rng.choice((0.004, 0.01, 0.03, 0.08)) * rng.random()) + 2
        x, y = rng.randrange(width), rng.randrange(height)
        colour = tuple(rng.randrange(256) for _ in range(3))
        if rng.random() < 0.5:
            draw.ellipse((x, y, x + size, y + size * rng.uniform(0.3, 2)), fill=colour)
        else:
            draw.rectangle((x, y, x + size * rng.uniform(0.3, 3), y + size), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(1.2))
    texture = Image.effect_noise((width // 6, height // 6), 28).resize(
        (width, height), Image.Resampling.BICUBIC
    )
    image = ImageChops.add(image, Image.merge("RGB", (texture,) * 3), offset=-128)
    grain = Image.merge("RGB", [Image.effect_noise((width, height), 5) for _ in range(3)])
    return ImageChops.add(image, grain, offset=-128)


def a4_scan(width: int = 2480, height: int = 3508, seed: int = 3) -> Image.Image:
    """Grey text on slightly noisy paper, as a 300 DPI flatbed scan."""
    rng = random.Random(seed)
    image = Image.new("L", (width, height), 242)
    draw = ImageDraw.Draw(image)
    words = ("the", "quarterly", "report", "shows", "revenue", "growth", "across", "regions")
    draw.text((250, 120), "QUARTERLY REPORT 2026", fill=20, font=ImageFont.load_default(size=80))
    font, small = ImageFont.load_default(size=42), ImageFont.load_default(size=34)
    for y in range(250, height - 300, 62):
        line = " ".join(rng.choice(words) for _ in range(12))
        draw.text((250, y), line, fill=rng.randrange(10, 50), font=font if y % 3 else small)
    image = ImageChops.add(image, Image.effect_noise((width, height), 6), offset=-128)
    return image.filter(ImageFilter.GaussianBlur(0.7)).convert("RGB")


def screenshot(width: int = 2560, height: int = 1600, seed: int = 7) -> Image.Image:
    """A dashboard: panels, buttons and lines of 11-14 px text."""
    rng = random.Random(seed)
    image = Image.new("RGB", (width, height), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 56), fill=(32, 36, 44))
    draw.rectangle((0, 56, 300, height), fill=(235, 237, 241))
    fonts = [ImageFont.load_default(size=s) for s in (11, 12, 13)]
    words = ("invoice", "total", "amount", "status", "pending", "paid", "error", "retry")
    for y in range(70, height - 20, 22):
        draw.text((12, y), " ".join(rng.choice(words) for _ in range(3)), (60, 64, 72), fonts[1])
    for panel in range(6):
        x0, y0 = 320 + (panel % 3) * 740, 80 + (panel // 3) * 760
        draw.rounded_rectangle((x0, y0, x0 + 720, y0 + 740), 8, (255, 255, 255), (220, 222, 228))
        draw.rectangle((x0 + 20, y0 + 20, x0 + 140, y0 + 48), fill=(37, 99, 235))
        draw.text((x0 + 30, y0 + 26), "Button", fill="white", font=fonts[2])
        for line in range(38):
            text = " ".join(rng.choice(words) for _ in range(9)) + f" {rng.randrange(10**6):,}"
            colour = (20, 20, 20) if line % 5 else (37, 99, 235)
            draw.text((x0 + 20, y0 + 64 + line * 17), text, fill=colour, font=fonts[0])
    return image


# --- measures ------------------------------------------------------------------------------


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


def picture_row(name: str, path: str, mime: str, runs: int) -> dict[str, Any]:
    original = Path(path).read_bytes()
    prepared = media.prepare_image(path)
    assert prepared.width is not None
    assert prepared.height is not None
    grid = (prepared.width, prepared.height)
    ours_ms = median_ms(lambda: media.prepare_image(path), runs)
    naive_ms = median_ms(lambda: naive_prepare(path, grid), runs)
    with Image.open(path) as im:
        width, height = im.size
        server_view = im.convert("RGB").resize(grid, Image.Resampling.BICUBIC)
    sent = decode_uri(prepared.url)
    reference = server_view.convert(sent.mode).convert("RGB")
    return {
        "picture": name,
        "original": f"{width}x{height} {mime.split('/')[1]}",
        "original_uri_bytes": len(data_uri(mime, original)),
        "sent_bytes": len(prepared.url),
        "sent": f"{grid[0]}x{grid[1]} {(prepared.mime_type or '').split('/')[1]}",
        "bytes_ratio": round(len(prepared.url) / len(data_uri(mime, original)), 4),
        "prepare_ms": round(ours_ms, 1),
        "naive_ms": round(naive_ms, 1),
        "psnr_db": round(psnr(sent.convert("RGB"), reference), 2),
        "tokens_original": media.image_tokens_for_size(height, width),
        "tokens_sent": media.image_tokens_for_size(grid[1], grid[0]),
    }


_ANSWER = {
    "id": "chatcmpl-bench",
    "object": "chat.completion",
    "created": 0,
    "model": "qwen3-vl-flash",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "ok"}}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


async def longest_stall_ms(photo: bytes, *, on_loop: bool) -> float:
    """The longest gap between ticks of a 1 ms ticker while 4 ainvoke calls each carry a
    12 MP photo. ``on_loop`` prepares on the loop's thread (the baseline)."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=_ANSWER))
    client = httpx.AsyncClient(transport=transport)
    llm = ChatQwenVL(api_key="sk-bench", base_url="http://127.0.0.1:9/v1", http_async_client=client)
    messages = [
        [HumanMessage(content=[{"type": "image", "url": data_uri("image/jpeg", photo)}, "Hi?"])]
        for _ in range(4)
    ]
    if on_loop:

        async def prepare_on_loop(msgs: Any, stop: Any = None, **kwargs: Any) -> Any:
            return llm._build_payload(msgs, stop, **kwargs)

        object.__setattr__(llm, "_abuild_payload", prepare_on_loop)
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    await asyncio.gather(*(llm.ainvoke(m) for m in messages))
    done.set()
    await task
    await client.aclose()
    return max(gaps) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        paths = {
            "12 MP photo": (os.path.join(tmp, "photo.jpg"), "image/jpeg"),
            "A4 scan, 300 DPI": (os.path.join(tmp, "scan.jpg"), "image/jpeg"),
            "screenshot, 11 px text": (os.path.join(tmp, "screen.png"), "image/png"),
        }
        photo_like().save(paths["12 MP photo"][0], "JPEG", quality=92)
        a4_scan().save(paths["A4 scan, 300 DPI"][0], "JPEG", quality=90)
        screenshot().save(paths["screenshot, 11 px text"][0], "PNG")
        rows = [picture_row(name, path, mime, args.runs) for name, (path, mime) in paths.items()]

        photo_path = paths["12 MP photo"][0]
        photo = Path(photo_path).read_bytes()
        stall_ours = asyncio.run(longest_stall_ms(photo, on_loop=False))
        stall_base = asyncio.run(longest_stall_ms(photo, on_loop=True))

        llm = ChatQwenVL(api_key="sk-bench")
        message = [HumanMessage(content=[{"type": "image", "url": photo_path}])]
        count_ms = median_ms(lambda: llm.get_num_tokens_from_messages(message), args.runs)  # type: ignore[arg-type]
        estimate_ms = median_ms(lambda: media.estimate_image_tokens(photo_path), args.runs)

    print(f"{'picture':24} {'original':>16} {'sent':>16} {'bytes':>7} {'ms':>6} "
          f"{'naive ms':>8} {'PSNR dB':>8} {'tokens':>11}")  # fmt: skip
    for row in rows:
        print(
            f"{row['picture']:24} {row['original']:>16} {row['sent']:>16} "
            f"{row['bytes_ratio']:>7.1%} {row['prepare_ms']:>6.1f} {row['naive_ms']:>8.1f} "
            f"{row['psnr_db']:>8.2f} {row['tokens_original']:>5}={row['tokens_sent']:<5}"
        )
    stall_ratio = stall_ours / stall_base
    print(
        f"longest event-loop stall, 4 x ainvoke with a 12 MP photo: {stall_ours:.1f} ms "
        f"(preparing on the loop: {stall_base:.1f} ms, {stall_ratio:.2f}x)"
    )
    print(
        f"get_num_tokens_from_messages, 12 MP photo: {count_ms:.2f} ms vs "
        f"estimate_image_tokens {estimate_ms:.2f} ms: {count_ms / estimate_ms:.2f}x"
    )

    photo_row = rows[0]
    checks = {
        f"photo bytes <= {TARGET_PHOTO_RATIO:.0%}": photo_row["bytes_ratio"] <= TARGET_PHOTO_RATIO,
        f"photo prepare <= {TARGET_PHOTO_MS:.0f} ms": photo_row["prepare_ms"] <= TARGET_PHOTO_MS,
        "tokens identical": all(r["tokens_original"] == r["tokens_sent"] for r in rows),
        "screenshot sent lossless": math.isinf(rows[2]["psnr_db"]),
        f"event-loop stall <= {TARGET_STALL_MS:.0f} ms": stall_ours <= TARGET_STALL_MS,
        f"count <= {TARGET_COUNT_RATIO}x estimate": count_ms <= TARGET_COUNT_RATIO * estimate_ms,
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        results = {
            "pictures": rows,
            "stall_ms": round(stall_ours, 1),
            "stall_on_loop_ms": round(stall_base, 1),
            "count_ms": round(count_ms, 2),
            "estimate_ms": round(estimate_ms, 2),
            "checks": checks,
            "cpus": os.cpu_count(),
        }
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
