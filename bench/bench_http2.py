"""HTTP/2 vs HTTP/1.1 on loopback TLS, same ASGI server (hypercorn), same recorded answers.

Runs on demand (`python bench/bench_http2.py`, or `make bench`); needs hypercorn and h2 (bench
extra) and the `openssl` command (for a throw-away self-signed certificate). Measured in one run:
sequential invoke latency, and 500 requests 64 at a time at 50 ms latency (wall, connections),
for raw httpx over HTTP/1.1, raw httpx over HTTP/2, and ChatQwenVL with its own pool (HTTP/1.1)
and with a user-given HTTP/2 client.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from bench_overhead import free_port  # noqa: E402

from langchain_qwen_vl import ChatQwenVL  # noqa: E402

LATENCY_MS = 50
BATCH, CONCURRENCY = 500, 64
SEQUENTIAL = 200
BODY = b'{"model":"qwen3-vl-flash","messages":[{"role":"user","content":"hi"}]}'


@contextmanager
def tls_server() -> Iterator[tuple[str, ssl.SSLContext]]:
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ],
            check=True,
            capture_output=True,
        )
        port = free_port()
        env = {**os.environ, "BENCH_LATENCY_MS": str(LATENCY_MS)}
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hypercorn",
                "--certfile",
                str(cert),
                "--keyfile",
                str(key),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "static_server:app",
            ],
            cwd=HERE,
            env=env,
        )
        context = ssl.create_default_context(cafile=str(cert))
        root = f"https://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{root}/stats", verify=context)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield root, context
        finally:
            process.terminate()
            process.wait(10)


def _connections(root: str, context: ssl.SSLContext) -> int:
    return int(httpx.get(f"{root}/stats", verify=context).json()["connections"])


async def _raw(url: str, client: httpx.AsyncClient) -> tuple[float, float]:
    async with client:
        latencies = []
        for _ in range(SEQUENTIAL):
            start = time.perf_counter()
            (await client.post(url, content=BODY)).json()
            latencies.append(time.perf_counter() - start)
        gate = asyncio.Semaphore(CONCURRENCY)

        async def one() -> None:
            async with gate:
                (await client.post(url, content=BODY)).json()

        start = time.perf_counter()
        await asyncio.gather(*[one() for _ in range(BATCH)])
        return statistics.median(latencies), time.perf_counter() - start


async def _ours(base_url: str, client: httpx.AsyncClient | None) -> tuple[float, float]:
    llm = ChatQwenVL(api_key="sk-bench", base_url=base_url, max_retries=0, http_async_client=client)
    latencies = []
    for _ in range(SEQUENTIAL):
        start = time.perf_counter()
        await llm.ainvoke("hi")
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    await llm.abatch(["hi"] * BATCH, config={"max_concurrency": CONCURRENCY})
    wall = time.perf_counter() - start
    await llm.aclose()
    if client is not None:
        await client.aclose()
    return statistics.median(latencies), wall


def run() -> str:
    """The Markdown section for bench/RESULTS.md."""
    try:
        import h2  # noqa: F401
        import hypercorn  # noqa: F401
    except ImportError:
        return "## HTTP/2 vs HTTP/1.1\n\nNot measured: install the bench extra (h2, hypercorn).\n"
    rows = []
    with tls_server() as (root, context):
        base_url = root + "/compatible-mode/v1"
        url = base_url + "/chat/completions"
        _connections(root, context)
        # ChatQwenVL's own pool trusts the system CAs only, so it gets a client that trusts
        # the throw-away certificate (and that client's default httpx pool).
        cases = [
            ("raw httpx, HTTP/1.1", lambda: _raw(url, httpx.AsyncClient(verify=context))),
            (
                "raw httpx, HTTP/2",
                lambda: _raw(url, httpx.AsyncClient(verify=context, http2=True)),
            ),
            (
                "ChatQwenVL, HTTP/1.1 (given client, default httpx pool)",
                lambda: _ours(base_url, httpx.AsyncClient(verify=context)),
            ),
            (
                "ChatQwenVL, HTTP/2 (given client)",
                lambda: _ours(base_url, httpx.AsyncClient(verify=context, http2=True)),
            ),
        ]
        for name, make in cases:
            latency, wall = asyncio.run(make())
            rows.append(
                f"| {name} | {latency * 1000:.1f} ms | {wall:.2f} s | "
                f"{_connections(root, context)} |"
            )
    return (
        "## HTTP/2 vs HTTP/1.1 (loopback TLS, hypercorn)\n\n"
        f"Sequential: median of {SEQUENTIAL} calls; concurrent: {BATCH} requests, "
        f"{CONCURRENCY} at a time; {LATENCY_MS} ms service latency each; one run.\n\n"
        "| client | sequential call | concurrent wall | connections |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


if __name__ == "__main__":
    print(run())
