"""Speed and memory of the scan loader (issue 4), against the emulator with injected latency.

    python bench/bench_scans.py                  # the full run (~1-2 min on 2 cores)
    python bench/bench_scans.py --pages 40       # a quick look

What it measures, each printed as a ratio against its target:

1. Throughput: a 200-page scanned PDF (generated on the fly, 150 DPI JPEG pages, like a
   scanner's) at the default settings, ``max_concurrency=16``, emulator latency 1 s per answer.
   Ideal = 16 pages/s; target ≥ 0.85 × ideal. Run once with scan pass-through (the default)
   and once forcing PDFium to render every page.
2. CPU per page by stage (render, encode, request = the rest of this process) apart from
   API wait; the emulator runs in its own process so its CPU is not counted here.
3. Peak RSS for 50 and 200 pages, each in a fresh subprocess (target: 200 ≤ 1.2 × 50).
4. Encodings on rendered pages: PNG vs JPEG q85, colour vs grayscale, bytes and time.
5. Re-run with the cache: HTTP requests (target 0) and speed-up (target ≥ 20×).
6. The CPU-bound rate: the same run with zero latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from make_scanned_pdf import write_scanned_pdf  # noqa: E402

from langchain_qwen_vl import ChatQwenVL  # noqa: E402
from langchain_qwen_vl.document_loaders import QwenVLScanLoader  # noqa: E402


@contextmanager
def emulator_process(latency_ms: int) -> Iterator[str]:
    """The emulator in its own process (its CPU is not ours); yields its base URL."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "langchain_qwen_vl.emulator",
            "--port",
            "0",
            "--latency-ms",
            str(latency_ms),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


class RequestCounter:
    """Counts the HTTP requests ChatQwenVL really sends (an httpx event hook)."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, request: httpx.Request) -> None:
        self.count += 1


def make_llm(base_url: str, counter: RequestCounter | None = None) -> ChatQwenVL:
    hooks = {"request": [counter]} if counter else {}
    client = httpx.AsyncClient(timeout=120, event_hooks=hooks)  # type: ignore[dict-item]
    return ChatQwenVL(
        base_url=base_url, api_key="sk-bench", http_async_client=client, max_retries=0
    )


async def run(pdf: Path, base_url: str, **options: Any) -> dict[str, Any]:
    counter = RequestCounter()
    loader = QwenVLScanLoader(pdf, llm=make_llm(base_url, counter), **options)
    started = time.perf_counter()
    docs = [doc async for doc in loader.alazy_load()]
    wall = time.perf_counter() - started
    stats = loader.last_run_stats
    assert stats is not None
    errors = [d.metadata["error"] for d in docs if "error" in d.metadata]
    if errors:
        raise SystemExit(f"{len(errors)} page(s) failed, e.g. {errors[0]}")
    return {"pages": len(docs), "wall": wall, "requests": counter.count, "stats": stats}


def section(title: str) -> None:
    print(f"\n== {title}")


def throughput(pdf: Path, warmup: Path, latency_ms: int, concurrency: int, cache: Path) -> float:
    ideal = concurrency / (latency_ms / 1000)
    with emulator_process(latency_ms) as base_url:
        asyncio.run(run(warmup, base_url, max_concurrency=concurrency, passthrough=False))
        for label, options in (
            ("scan pass-through (default)", {"cache_dir": cache}),
            ("forced PDFium render", {"passthrough": False}),
        ):
            result = asyncio.run(run(pdf, base_url, max_concurrency=concurrency, **options))
            stats = result["stats"]
            rate = result["pages"] / result["wall"]
            print(
                f"{label:>28}: {result['pages']} pages in {result['wall']:.2f} s = "
                f"{rate:.2f} pages/s = {rate / ideal:.3f} x ideal ({ideal:.0f}/s; target >= 0.85)"
            )
            n = result["pages"]
            other = stats.process_cpu_s - stats.render_cpu_s - stats.encode_cpu_s
            print(
                f"{'CPU per page':>28}: render {1e3 * stats.render_cpu_s / n:.1f} ms, encode "
                f"{1e3 * stats.encode_cpu_s / n:.1f} ms, request+other {1e3 * other / n:.1f} ms "
                f"(process {1e3 * stats.process_cpu_s / n:.1f} ms); API wait "
                f"{stats.request_wall_s / n:.3f} s/page; "
                f"{stats.bytes_sent / n / 1024:.0f} KiB/page sent; paths {stats.how}"
            )
            if "cache_dir" in options:
                first_wall = result["wall"]

        again = asyncio.run(run(pdf, base_url, max_concurrency=concurrency, cache_dir=cache))
    speedup = first_wall / again["wall"]
    section("Re-run with the cache")
    print(
        f"{again['pages']} pages in {again['wall']:.3f} s, {again['requests']} HTTP requests "
        f"(target 0); speed-up {speedup:.0f}x over the first run (target >= 20x)"
    )
    return speedup


def cpu_bound(pdf: Path, concurrency: int) -> None:
    section("CPU-bound rate (emulator latency 0; the emulator shares the 2 cores)")
    with emulator_process(0) as base_url:
        for label, options in (("pass-through", {}), ("forced render", {"passthrough": False})):
            result = asyncio.run(run(pdf, base_url, max_concurrency=concurrency, **options))
            print(f"{label:>14}: {result['pages'] / result['wall']:.1f} pages/s")


def rss(pdf_for: dict[int, Path], latency_ms: int, concurrency: int) -> None:
    section("Peak RSS, each in a fresh process")
    peaks = {}
    with emulator_process(latency_ms) as base_url:
        for count, pdf in pdf_for.items():
            out = subprocess.run(
                [sys.executable, __file__, "--child-rss", str(pdf), "--base-url", base_url,
                 "--concurrency", str(concurrency)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            peaks[count] = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{count:>4} pages: peak RSS {peaks[count]['peak_mb']:.0f} MB "
                f"(baseline before loading {peaks[count]['baseline_mb']:.0f} MB)"
            )
    small, large = sorted(peaks)
    print(
        f"ratio {large}/{small} pages: {peaks[large]['peak_mb'] / peaks[small]['peak_mb']:.3f}"
        " (target <= 1.2)"
    )


def peak_rss_mb() -> float:
    """This process's peak RSS. VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec,
    so a child would report its parent's peak."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_rss(pdf: Path, base_url: str, concurrency: int) -> None:
    import PIL.Image  # noqa: F401 - imports count in the baseline, not in the run
    import pypdfium2  # noqa: F401

    import langchain_qwen_vl._scan_pipeline  # noqa: F401

    baseline = peak_rss_mb()
    asyncio.run(run(pdf, base_url, max_concurrency=concurrency))
    print(json.dumps({"peak_mb": peak_rss_mb(), "baseline_mb": baseline}))


def encodings(pdf: Path, samples: int = 8) -> None:
    """Render pages at the default cap and encode them every way; bytes and time per page."""
    from PIL import Image

    from langchain_qwen_vl._scan_render import RenderSettings, open_source
    from langchain_qwen_vl.media import DEFAULT_MAX_PIXELS, MIN_PIXELS
    from langchain_qwen_vl.media._codec import is_colour, save

    section(f"Encodings of {samples} pages rendered at the A4 cap DPI (as a born-digital page)")
    source = open_source(str(pdf), path=pdf)
    scan_settings = RenderSettings(DEFAULT_MAX_PIXELS, MIN_PIXELS)
    render_ms, pass_ms, images = [], [], []
    for page in range(samples):
        started = time.perf_counter()
        raw = source.load(page, scan_settings)
        pass_ms.append(time.perf_counter() - started)
        started = time.perf_counter()
        # Render at the cap (164.7 DPI for A4), as a born-digital page would be.
        raw = source.load(
            page, RenderSettings(DEFAULT_MAX_PIXELS, MIN_PIXELS, passthrough=False, dpi=164.6)
        )
        render_ms.append(time.perf_counter() - started)
        assert raw.image is not None
        images.append(raw.image)
    source.close()
    print(
        f"render at 164.6 DPI ({images[0].width}x{images[0].height}): "
        f"{1e3 * sum(render_ms) / samples:.1f} ms/page; "
        f"scan pass-through (no render): {1e3 * sum(pass_ms) / samples:.2f} ms/page"
    )
    started = time.perf_counter()
    colour = [is_colour(image) for image in images]
    print(
        f"colour check: {1e3 * (time.perf_counter() - started) / samples:.1f} ms/page "
        f"({sum(colour)} of {samples} in colour)"
    )
    variants: dict[str, dict[str, Any]] = {
        "JPEG q85 colour": {"format": "JPEG", "grey": False},
        "JPEG q85 grayscale": {"format": "JPEG", "grey": True},
        "PNG colour": {"format": "PNG", "grey": False},
        "PNG grayscale": {"format": "PNG", "grey": True},
    }
    for label, spec in variants.items():
        sizes, started = [], time.perf_counter()
        for image in images:
            pixels: Image.Image = image.convert("L") if spec["grey"] else image
            sizes.append(len(save(pixels, spec["format"])[0]))  # as the loader writes them
        elapsed = (time.perf_counter() - started) / samples
        print(
            f"{label:>20}: {1e3 * elapsed:6.1f} ms/page (incl. grey conversion), "
            f"{sum(sizes) / samples / 1024:6.0f} KiB/page"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Scan loader speed and memory (issue 4).")
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--small-pages", type=int, default=50)
    parser.add_argument("--latency-ms", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--child-rss", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        child_rss(args.child_rss, args.base_url, args.concurrency)
        return

    print(f"cores: {os.cpu_count()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="bench-scans-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        big = write_scanned_pdf(work / f"scan{args.pages}.pdf", args.pages)
        small = write_scanned_pdf(work / f"scan{args.small_pages}.pdf", args.small_pages)
        print(
            f"generated {big.name} ({big.stat().st_size / 2**20:.1f} MiB) and {small.name} "
            f"in {time.perf_counter() - started:.1f} s"
        )
        section(
            f"Throughput: {args.pages} pages, latency {args.latency_ms} ms, "
            f"max_concurrency={args.concurrency}"
        )
        throughput(big, small, args.latency_ms, args.concurrency, work / "cache")
        cpu_bound(big, args.concurrency)
        rss({args.small_pages: small, args.pages: big}, args.latency_ms, args.concurrency)
        encodings(big)


if __name__ == "__main__":
    main()
