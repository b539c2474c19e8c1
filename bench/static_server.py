"""A loopback server that answers every POST with one recorded body, as fast as it can.

Used by the benchmarks so that what is measured is the client, not the server:
`python bench/static_server.py PORT [LATENCY_MS] [--tls CERT KEY]` serves the recorded
non-stream body for plain requests and the recorded SSE stream when the request asks for
`"stream": true`, after LATENCY_MS (default 0) of simulated service time.
`GET /stats` returns (and resets) how many connections clients opened: distinct client ports.
Also an ASGI app for other servers: `hypercorn bench.static_server:app` (HTTP/2 over TLS), with
the latency in `BENCH_LATENCY_MS`.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import uvicorn

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dashscope"
JSON_BODY = (FIXTURES / "compat-nonstream-vl-multi-image.json").read_bytes()
SSE_BODY = (FIXTURES / "compat-stream-text.sse").read_bytes() + b"\n"
_ARG = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2][:1].isdigit() else None
# Under another server (hypercorn, for HTTP/2) the latency comes from the environment.
LATENCY_S = float(_ARG or os.environ.get("BENCH_LATENCY_MS", "0")) / 1000
_clients: set[tuple[str, int]] = set()


async def app(scope, receive, send):  # type: ignore[no-untyped-def]  # raw ASGI for speed
    if scope["type"] != "http":
        return
    if scope["method"] == "GET" and scope["path"] == "/stats":
        stats = json.dumps({"connections": len(_clients)}).encode()
        _clients.clear()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": stats})
        return
    if scope.get("client"):
        _clients.add(tuple(scope["client"]))
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    if LATENCY_S:
        await asyncio.sleep(LATENCY_S)
    stream = b'"stream":true' in body or b'"stream": true' in body
    payload, content_type = (
        (SSE_BODY, b"text/event-stream") if stream else (JSON_BODY, b"application/json")
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", content_type),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    tls: dict[str, str] = {}
    if "--tls" in sys.argv:
        at = sys.argv.index("--tls")
        tls = {"ssl_certfile": sys.argv[at + 1], "ssl_keyfile": sys.argv[at + 2]}
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        access_log=False,
        backlog=4096,
        **tls,  # type: ignore[arg-type]
    )
