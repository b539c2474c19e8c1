"""File-level validation of a batch input file, as the service runs it while ``validating``.

Service facts kept here on purpose (the emulator stands in for the service): 50,000 lines and
500 MB per file, 6 MB per line, ``custom_id`` 1-256 characters and unique, ``method`` POST,
``url`` equal to the batch endpoint, one model (batch-enabled) and one thinking mode per file.
Error codes and messages as documented (``url_not_found``, ``duplicate_custom_id``,
``mismatched_model``, ``model_not_found``); ``line`` is 1-based.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

MAX_LINES = 50_000
MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_LINE_BYTES = 6 * 1024 * 1024
MAX_CUSTOM_ID = 256
ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/chat/ds-test")
BATCH_MODELS = re.compile(r"\A(qwen3-vl-(flash|plus)|qwen-vl-(max|plus))(-[\w.-]+)?\Z")
TEST_MODEL = "batch-test-model"


def validate_input_file(path: str, endpoint: str) -> tuple[int, list[dict[str, Any]]]:
    """``(request lines, errors)`` of one input file; the first error stops the check."""
    seen: set[str] = set()
    model: str | None = None
    thinking: bool | None = None
    total = 0
    errors: list[dict[str, Any]] = []

    def fail(code: str, message: str, line: int) -> None:
        errors.append({"code": code, "message": message, "param": None, "line": line})

    if os.path.getsize(path) > MAX_FILE_BYTES:
        fail("file_too_large", "The input file exceeds the 500 MB limit.", 0)
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if errors:
                break
            if not raw.strip():
                continue
            total += 1
            if total > MAX_LINES:
                fail("too_many_requests", "The input file has more than 50000 requests.", number)
                break
            if len(raw) > MAX_LINE_BYTES:
                fail("line_too_large", "The request line exceeds the 6 MB limit.", number)
                break
            try:
                line = json.loads(raw)
                custom_id, url, body = line["custom_id"], line["url"], line["body"]
            except (ValueError, KeyError, TypeError):
                fail("invalid_json_line", "This line is not a valid request JSON object.", number)
                break
            if url not in ENDPOINTS or url != endpoint:
                fail(
                    "url_not_found",
                    f"The provided url '{url}' is not supported by the Batch API.",
                    number,
                )
                break
            if line.get("method") != "POST":
                fail("invalid_method", "Only the POST method is supported.", number)
                break
            if not isinstance(custom_id, str) or not 0 < len(custom_id) <= MAX_CUSTOM_ID:
                fail(
                    "invalid_custom_id",
                    "custom_id must be a string of 1-256 characters.",
                    number,
                )
                break
            if custom_id in seen:
                fail(
                    "duplicate_custom_id",
                    f"The custom_id '{custom_id}' for this request is a duplicate of another "
                    "request. The custom_id parameter must be unique for each request in a "
                    "batch.",
                    number,
                )
                break
            seen.add(custom_id)
            line_model = body.get("model") if isinstance(body, dict) else None
            if model is None:
                model = str(line_model)
                if model != TEST_MODEL and not BATCH_MODELS.match(model):
                    fail(
                        "model_not_found",
                        f"The provided model '{model}' is not supported by the Batch API.",
                        number,
                    )
                    break
            elif line_model != model:
                fail(
                    "mismatched_model",
                    f"The model '{line_model}' for this request does not match the rest of "
                    "the batch. Each batch must contain requests for a single model.",
                    number,
                )
                break
            line_thinking = bool(body.get("enable_thinking"))
            if thinking is None:
                thinking = line_thinking
            elif line_thinking != thinking:
                fail(
                    "mismatched_thinking",
                    "All requests in a batch must use the same thinking mode.",
                    number,
                )
                break
    return total, errors
