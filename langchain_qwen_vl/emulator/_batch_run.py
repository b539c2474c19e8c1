"""One batch line through the real-time path: the same validation, media checks and answer."""

from __future__ import annotations

import time
from typing import Any

from langchain_qwen_vl.emulator._answers import build_answer
from langchain_qwen_vl.emulator._errors import ServiceError, invalid_parameter, new_request_id
from langchain_qwen_vl.emulator._responses import completion_body
from langchain_qwen_vl.emulator._validation import parse_request


async def run_line(body: Any, fault: ServiceError | None, state: Any) -> tuple[int, dict[str, Any]]:
    """``(status, body)`` the real-time endpoint would answer for ``body`` (never streamed)."""
    # Imported here: the server module registers the batch routes, which import this module.
    from langchain_qwen_vl.emulator import _server

    request_id = new_request_id()
    try:
        if fault is not None:
            raise fault
        if not isinstance(body, dict):
            raise invalid_parameter("The request body is not a JSON object")
        chat = parse_request(
            {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        )
        images = await _server._gather_in_order(
            [_server._measure_image(r, chat, state) for r in chat.images]
        )
        videos = await _server._gather_in_order(
            [_server._measure_video(v, state) for v in chat.videos]
        )
    except ServiceError as error:
        return error.status, error.body(request_id)
    answer = build_answer(chat, images, videos)
    return 200, completion_body(
        answer, completion_id=f"chatcmpl-{request_id}", created=int(time.time()), model=chat.model
    )
