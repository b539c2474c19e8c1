"""Run every benchmark in turn (`make bench`); each prints its own ratios."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("bench_overhead.py", "bench_image_preprocess.py", "bench_scans.py", "bench_batch.py")


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        print(f"\n######## {script}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / script)], check=False).returncode
    return failed


if __name__ == "__main__":
    raise SystemExit(main())
