"""Batch JSONL, built and parsed one line at a time (pure apart from temporary files).

:class:`JsonlParts` appends request lines to a temporary file and starts a new file whenever
the next line would cross the per-file request or byte limit, or changes the model or the
thinking mode (one of each per file); only the line being written is in memory. A line's
``custom_id`` is its number within its file, so a file's bytes (and its :attr:`Part.tag`)
depend only on the requests it holds, not on where the file starts in the inputs.
:func:`parse_result_line` turns one line of an output or error file into the ``AIMessage``
``invoke`` would have returned, or the typed error the real-time call would have raised.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.exceptions import ModelAPIError
from langchain_core.messages import AIMessage

from langchain_qwen_vl._batch_limits import (
    CHAT_ENDPOINT,
    MAX_FILE_BYTES,
    MAX_REQUESTS_PER_FILE,
    WARN_LINE_BYTES,
)
from langchain_qwen_vl._wire.chat_completions import result_from_response
from langchain_qwen_vl.errors import (
    QwenVLError,
    QwenVLInputError,
    QwenVLServerError,
    error_from_response,
)
from langchain_qwen_vl.media import decode_data_uri

logger = logging.getLogger("langchain_qwen_vl")

#: Error codes of lines the service never ran (cancelled or expired batches; emulator wording).
NOT_RUN_CODES = frozenset({"batch_cancelled", "batch_expired"})


class QwenVLBatchError(QwenVLError, ModelAPIError):
    """A batch item that did not run (job failed validation, expired or was cancelled) or a
    job-level failure. Attributes: ``job_id``, ``status``, ``code`` and ``errors`` (the
    service's ``errors.data`` list, if any)."""

    def __init__(
        self,
        message: str,
        *,
        job_id: str | None = None,
        status: str | None = None,
        code: str | None = None,
        errors: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        Exception.__init__(self, message)
        self.job_id = job_id
        self.status = status
        self.code = code
        self.errors = list(errors)


#: ``(prepared image bytes, mime type) -> a URL the service can fetch`` (user-hosted).
MediaUrlHook = Callable[[bytes, str], str]

_ID_PREFIX = b'{"custom_id":"'


def encode_line(custom_id: str, body: Mapping[str, Any]) -> bytes:
    """One input line (with its newline), compact UTF-8 JSON, ``custom_id`` first.

    Example:
        >>> encode_line("0", {"model": "m", "messages": []})[:40]
        b'{"custom_id":"0","method":"POST","url":"'
    """
    line = {"custom_id": custom_id, "method": "POST", "url": CHAT_ENDPOINT, "body": body}
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def renumber(line: bytes, custom_id: int) -> bytes:
    """``line`` (from :func:`encode_line`, numeric id) with ``custom_id`` in place of its id.

    Example:
        >>> renumber(encode_line("12", {}), 0)[:20]
        b'{"custom_id":"0","me'
    """
    end = line.index(b'"', len(_ID_PREFIX))
    return _ID_PREFIX + str(custom_id).encode() + line[end:]


def _decode_data_uri(url: str) -> tuple[bytes, str]:
    """(bytes, mime) of a prepared part's data URI, decoded by the media package's rule."""
    mime, data = decode_data_uri(url, where="batch line")
    return data, mime or "application/octet-stream"


def _rewrite(node: Any, hook: MediaUrlHook) -> Any:
    """Replace every ``data:`` URI of an image/video part with the hook's URL (a new tree)."""
    if isinstance(node, list):
        return [_rewrite(item, hook) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("image_url", "video_url") and isinstance(value, dict):
            url = value.get("url")
            if isinstance(url, str) and url.startswith("data:"):
                value = {**value, "url": hook(*_decode_data_uri(url))}
        elif key == "video" and isinstance(value, list):
            value = [
                hook(*_decode_data_uri(v)) if isinstance(v, str) and v.startswith("data:") else v
                for v in value
            ]
        else:
            value = _rewrite(value, hook)
        out[key] = value
    return out


def has_data_uri(body: Mapping[str, Any]) -> bool:
    """True when any message part carries a ``data:`` URI (cheap string scan of the parts)."""
    return '"data:' in json.dumps(body.get("messages") or [], ensure_ascii=False)


def fit_line(
    custom_id: str,
    body: Mapping[str, Any],
    *,
    index: int,
    max_line_bytes: int,
    media_url: MediaUrlHook | None,
    inline_images: bool,
) -> bytes:
    """The line for ``body``: images inline when it fits, else through ``media_url``."""
    if media_url is not None and not inline_images:
        return encode_line(custom_id, _rewrite(dict(body), media_url))
    line = encode_line(custom_id, body)
    if len(line) > max_line_bytes and media_url is not None and has_data_uri(body):
        line = encode_line(custom_id, _rewrite(dict(body), media_url))
    if len(line) > max_line_bytes:
        hint = (
            "pass QwenVLBatch(llm, media_url=...) — a function (image bytes, mime type) -> a URL "
            "you host (e.g. a presigned object-store URL) — so images travel as URLs"
            if media_url is None
            else "even with images as URLs it is too long: shorten the prompt or history"
        )
        raise QwenVLInputError(
            f"inputs[{index}]: the batch line is {len(line):,} bytes, over the "
            f"{max_line_bytes:,}-byte line limit (max_line_bytes) — {hint}, or lower the "
            "image's max_pixels."
        )
    if len(line) > WARN_LINE_BYTES:
        logger.warning(
            "inputs[%d]: batch line is %s bytes; one edition of the Batch API docs limits a "
            "line to 1 MB (unverified) — if the job fails validation, pass media_url=...",
            index,
            f"{len(line):,}",
        )
    return line


def file_mode(body: Mapping[str, Any]) -> tuple[str, bool]:
    """What must be equal on every line of one file: the model and the thinking mode."""
    return str(body.get("model")), bool(body.get("enable_thinking"))


@dataclass
class Part:
    """One input file being written: its path, first global index and line count."""

    path: str
    start: int
    count: int = 0
    size: int = 0
    mode: tuple[str, bool] | None = None
    digest: Any = field(default_factory=hashlib.sha256, repr=False)

    @property
    def tag(self) -> str:
        """SHA-256 (hex) of the file's bytes: the same requests give the same tag in any run."""
        return str(self.digest.hexdigest())


@dataclass
class JsonlParts:
    """Temporary JSONL files split by the service's per-file limits; delete with :meth:`close`."""

    max_requests: int = MAX_REQUESTS_PER_FILE
    max_bytes: int = MAX_FILE_BYTES
    directory: str | None = None
    parts: list[Part] = field(default_factory=list)
    _fh: Any = None

    def _open(self, start: int, mode: tuple[str, bool]) -> Part:
        if self._fh is not None:
            self._fh.close()
        fd, path = tempfile.mkstemp(prefix="qwen-vl-batch-", suffix=".jsonl", dir=self.directory)
        self._fh = os.fdopen(fd, "wb")
        part = Part(path=path, start=start, mode=mode)
        self.parts.append(part)
        return part

    def add(self, index: int, line: bytes, mode: tuple[str, bool]) -> None:
        """Append the line of global input ``index`` (numbered within its file), starting a new
        file when needed."""
        part = self.parts[-1] if self.parts else None
        numbered = b""
        if part is not None and part.mode == mode and part.count < self.max_requests:
            numbered = renumber(line, part.count)
        if part is None or not numbered or part.size + len(numbered) > self.max_bytes:
            part = self._open(index, mode)
            numbered = renumber(line, 0)
        self._fh.write(numbered)
        part.digest.update(numbered)
        part.count += 1
        part.size += len(numbered)

    def finish(self) -> list[Part]:
        """Close the current file; the parts, in input order."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        return list(self.parts)

    def close(self) -> None:
        """Close and delete every temporary file."""
        self.finish()
        for part in self.parts:
            with contextlib.suppress(OSError):
                os.unlink(part.path)


# --- results -------------------------------------------------------------------------------


def _line_error(line: Mapping[str, Any]) -> QwenVLError:
    response = line.get("response")
    if isinstance(response, Mapping) and response.get("body") is not None:
        status = int(response.get("status_code") or 400)
        return error_from_response(status, response["body"])
    error = line.get("error")
    if isinstance(error, Mapping) and error.get("code") in NOT_RUN_CODES:
        return QwenVLBatchError(
            f"batch line {line.get('custom_id')!r} did not run ({error.get('code')}: "
            f"{error.get('message')}); not billed — submit it again to retry.",
            code=str(error.get("code")),
        )
    if isinstance(error, Mapping):
        # S1 documents {code, message}; its own CSV script reads error_code/error_message.
        code = error.get("code") or error.get("error_code")
        message = error.get("message") or error.get("error_message")
        status = int(response.get("status_code") or 400) if isinstance(response, Mapping) else 400
        return error_from_response(status, {"error": {"code": code, "message": message}})
    return QwenVLServerError(
        f"Qwen-VL batch: result line for custom_id {line.get('custom_id')!r} has neither a "
        "response body nor an error",
        status_code=200,
        code="malformed_response",
    )


def parse_result_line(raw: bytes | str) -> tuple[str, AIMessage | QwenVLError]:
    """``(custom_id, AIMessage or typed error)`` of one output/error file line.

    Success is judged per line by ``response.status_code`` (a failed request may sit in the
    output file), never by which file it came from.
    """
    try:
        line = json.loads(raw)
        custom_id = str(line["custom_id"])
    except (ValueError, KeyError, TypeError) as error:
        text = raw[:120] if isinstance(raw, str) else raw[:120].decode("utf-8", "replace")
        raise QwenVLServerError(
            f"Qwen-VL batch: a result line is not valid JSON with a custom_id ({error}): {text!r}",
            status_code=200,
            code="malformed_response",
        ) from error
    response = line.get("response")
    if (
        isinstance(response, Mapping)
        and response.get("status_code") == 200
        and isinstance(response.get("body"), Mapping)
        and not line.get("error")
    ):
        message = result_from_response(response["body"]).generations[0].message
        assert isinstance(message, AIMessage)
        return custom_id, message
    return custom_id, _line_error(line)


def iter_jsonl(lines: Iterator[str]) -> Iterator[str]:
    """Non-blank lines of a JSONL stream."""
    for line in lines:
        if line.strip():
            yield line
