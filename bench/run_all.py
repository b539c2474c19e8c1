"""`make bench`: run every benchmark once and write bench/RESULTS.md (ratios, one run).

Sections: per-call overhead (bench_overhead), concurrency (bench_pool), HTTP/2 vs HTTP/1.1
(bench_http2), the fault matrix
(tests/integration_tests/test_fault_matrix.py run by pytest, with the table it checks), image
preprocessing (bench_image_preprocess.py) and scans (bench_scans.py). Each script still runs
on its own and prints its results.
"""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

RESULTS = HERE / "RESULTS.md"


def _script_output(script: str, *args: str) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, check=False
    )
    return done.returncode, (done.stdout + done.stderr).strip()


def fault_section() -> str:
    from tests.integration_tests.fault_matrix import FAULTS, PATHS, render_matrix

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "tests/integration_tests/test_fault_matrix.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
    cells = len(FAULTS) * len(PATHS)
    return (
        f"## Fault matrix\n\n{len(FAULTS)} faults × {len(PATHS)} call paths = {cells} cells, "
        f"each checked against the emulator by the integration tests: `{summary}`.\n"
        "Cells are *outcome / requests the server received* (`max_retries=2`, `timeout=0.3`).\n\n"
        + render_matrix()
    )


def image_section() -> str:
    # Hook for the image benchmark (bench/bench_image_preprocess.py, owned with the media
    # pipeline): its printed report is included as is. To put a table here instead, give that
    # script a `run() -> str` returning Markdown, as bench_overhead and bench_pool do.
    try:
        import bench_image_preprocess

        run = getattr(bench_image_preprocess, "run", None)
        if callable(run):
            return "## Image preprocessing\n\n" + str(run())
    except ImportError:
        pass
    code, output = _script_output("bench_image_preprocess.py")
    status = "targets met" if code == 0 else f"exit status {code}: a target was missed"
    return f"## Image preprocessing ({status})\n\n```\n{output}\n```\n"


def _printed_section(title: str, script: str) -> str:
    code, output = _script_output(script)
    status = "ok" if code == 0 else f"exit status {code}"
    return f"## {title} ({status})\n\n```\n{output}\n```\n"


def scans_section() -> str:
    return _printed_section("Scans", "bench_scans.py")


def video_section() -> str:
    return _printed_section("Video sampling", "bench_video.py")


def batch_section() -> str:
    return _printed_section("Batch API", "bench_batch.py")


def emulator_transport_section() -> str:
    return _printed_section("Emulator: loopback vs in-process", "bench_emulator_transport.py")


def header() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "# Benchmark results\n\n"
        f"Written by `make bench` ({when}): one run on one machine — {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {load} at the start. Every ratio "
        "compares contenders measured in this same run, on loopback.\n"
    )


def main() -> int:
    import bench_http2
    import bench_overhead
    import bench_pool

    sections = [header()]
    for name, make in (
        ("overhead", bench_overhead.run),
        ("pool", bench_pool.run),
        ("http2", bench_http2.run),
        ("faults", fault_section),
        ("images", image_section),
        ("scans", scans_section),
        ("video", video_section),
        ("batch", batch_section),
        ("emulator transport", emulator_transport_section),
    ):
        print(f"######## {name}", flush=True)
        text = make()
        print(text, flush=True)
        sections.append(text)
    RESULTS.write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
