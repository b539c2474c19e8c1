"""A loopback server that answers every POST with one recorded body, as fast as it can.

Used by the overhead benchmark so that what is measured is the client, not the server:
`python bench/static_server.py PORT` serves the recorded non-stream body for plain requests
and the recorded SSE stream when the request asks for `"stream": true`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "dashscope"
JSON_BODY = (FIXTURES / "compat-nonstream-vl-multi-image.json").read_bytes()
SSE_BODY = (FIXTURES / "compat-stream-text.sse").read_bytes() + b"\n"


async def app(scope, receive, send):  # type: ignore[no-untyped-def]  # raw ASGI for speed
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    stream = b'"stream":true' in body or b'"stream": true' in body
    payload, content_type = (
        (SSE_BODY, b"text/event-stream")
        if stream
        else (
            JSON_BODY,
            b"application/json",
        )
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
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
