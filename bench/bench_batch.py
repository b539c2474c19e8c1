"""The Batch API client at scale (issue 12), against the emulator's batch endpoints.

    python bench/bench_batch.py                 # 1,000 and 10,000 one-image requests (~1-3 min)
    python bench/bench_batch.py --sizes 200 2000

What it measures, each in a fresh child process (the emulator runs in its own process, so its
CPU and memory are not counted):

1. Submit: build every line through ``ChatQwenVL._build_payload`` (image checked and encoded),
   write the JSONL to temporary files, stream the upload, create the batch — wall and CPU time.
2. Collect: wait for the job and parse the result file line by line — wall and CPU time.
3. Peak RSS (VmHWM) for each size; target: the largest size ≤ 1.2 × the smallest (flat: lines
   are built and parsed one at a time, never all bodies at once). ``iter_results`` is used so
   the client holds no result list either.
4. The cost estimate of a 1,000-page scan, real-time vs batch (``estimate_cost``, no request).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))


@contextmanager
def emulator_process() -> Iterator[str]:
    """The emulator in its own process; yields its base URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "langchain_qwen_vl.emulator", "--port", "0"],
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


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM; ru_maxrss would carry the parent's peak across exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(base_url: str, count: int) -> None:
    """Submit ``count`` one-image requests, collect them, print one JSON line of figures."""
    from langchain_core.messages import AIMessage, HumanMessage
    from PIL import Image

    from langchain_qwen_vl import ChatQwenVL, QwenVLBatch

    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(buffer, "PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    llm = ChatQwenVL(base_url=base_url, api_key="sk-bench", timeout=900)

    def inputs() -> Iterator[list[HumanMessage]]:
        for number in range(count):
            yield [
                HumanMessage(
                    content=[
                        {"type": "text", "text": f"Request {number}: what colour is this?"},
                        {"type": "image", "base64": png, "mime_type": "image/png"},
                    ]
                )
            ]

    baseline_rss = peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    job = QwenVLBatch(llm).submit(inputs())
    submit_wall, submit_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    ok = failed = 0
    for _, result in job.iter_results(poll_interval=0.5, timeout=1800):
        if isinstance(result, AIMessage):
            ok += 1
        else:
            failed += 1
    collect_wall, collect_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        json.dumps(
            {
                "count": count,
                "ok": ok,
                "failed": failed,
                "sub_jobs": len(job.sub_jobs),
                "submit_wall": submit_wall,
                "submit_cpu": submit_cpu,
                "collect_wall": collect_wall,
                "collect_cpu": collect_cpu,
                "rss_after_imports": baseline_rss,
                "peak_rss": peak_rss_mb(),
            }
        )
    )


def cost_of_scan(pages: int) -> None:
    from make_scanned_pdf import write_scanned_pdf

    from langchain_qwen_vl import ChatQwenVL, QwenVLScanLoader

    with tempfile.TemporaryDirectory() as tmp:
        pdf = write_scanned_pdf(Path(tmp) / "scan.pdf", pages)
        loader = QwenVLScanLoader(pdf, llm=ChatQwenVL(api_key="sk-bench", region="beijing"))
        estimate = loader.estimate_cost()
    print(f"{pages}-page scan: {estimate}")
    print(
        f"  real-time ≤ ¥{estimate.realtime_cost_cny:.2f}, batch ≤ ¥{estimate.batch_cost_cny:.2f}"
        f" (ratio {estimate.batch_cost_cny / estimate.realtime_cost_cny:.2f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--scan-pages", type=int, default=1000)
    parser.add_argument("--child", nargs=2, metavar=("BASE_URL", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]))
        return
    rows = []
    with emulator_process() as base_url:
        for count in args.sizes:
            out = subprocess.run(
                [sys.executable, __file__, "--child", base_url, str(count)],
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(
        "requests | ok | sub-jobs | submit wall / CPU | collect wall / CPU | CPU per request "
        "| peak RSS (after imports)"
    )
    for r in rows:
        per = (r["submit_cpu"] + r["collect_cpu"]) / r["count"] * 1000
        print(
            f"{r['count']:>8,} | {r['ok']:,} | {r['sub_jobs']} | {r['submit_wall']:.1f} s / "
            f"{r['submit_cpu']:.2f} s | {r['collect_wall']:.1f} s / {r['collect_cpu']:.2f} s | "
            f"{per:.2f} ms | {r['peak_rss']:.0f} MB ({r['rss_after_imports']:.0f} MB)"
        )
    if len(rows) > 1:
        ratio = rows[-1]["peak_rss"] / rows[0]["peak_rss"]
        size_ratio = rows[-1]["count"] / rows[0]["count"]
        print(f"peak RSS ×{ratio:.2f} for ×{size_ratio:.0f} requests (target ≤ 1.2: flat)")
    cost_of_scan(args.scan_pages)


if __name__ == "__main__":
    main()
