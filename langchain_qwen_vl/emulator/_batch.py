"""The emulated Batch API's state: files, batches, a clock, and the lines run through the model.

Faithful to the recorded and documented behaviour (kept here on purpose, not imported from the
client: this stands in for the service):

- files ``file-batch-<uuid>`` (inputs) and ``file-batch_output-<uuid>`` (outputs *and* error
  files); only output files can be downloaded;
- a batch is ``validating`` → ``in_progress`` → ``finalizing`` → ``completed``, or ``failed``
  (file-level error, nothing runs, ``errors.data`` with 1-based ``line``), ``expired`` (past the
  completion window), ``cancelling`` → ``cancelled``; request counts move as lines run;
- every line's body goes through the real-time validation and answer; a failing line lands in
  the error file (or, with ``failed_lines_in_output``, in the output file with ``failed`` left
  at 0, as observed); lines not run when a batch is cancelled or expires land in the error file
  with ``batch_cancelled`` / ``batch_expired`` (the service's exact line shape is unknown);
- ``expires_at`` stays null (as recorded); an empty list is ``data: null``.

Timing is a virtual clock (``time.time() + offset``) with configurable speeds; tests call
:meth:`BatchService.advance` instead of sleeping. Lines run lazily, when a request observes the
batch (retrieve, list, cancel, download), up to what the clock allows; nothing runs in the
background. Files live in a private temporary directory, never all in memory.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import IO, Any

from langchain_qwen_vl.emulator._batch_validate import ENDPOINTS, validate_input_file
from langchain_qwen_vl.emulator._errors import ServiceError, new_request_id

#: Service facts, kept here on purpose (the emulator stands in for the service).
_WINDOW = re.compile(r"\A(\d+)([hd])\Z")
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


def batch_error(
    message: str,
    *,
    status: int = 400,
    code: str = "invalid_request_error",
    param: str | None = None,
) -> ServiceError:
    """A 4xx of the batch/file routes."""
    return ServiceError(message, status=status, code=code, param=param)


@dataclass
class BatchSettings:
    """How fast batches move (virtual seconds) and which quirks to show."""

    validating_s: float = 0.0
    seconds_per_request: float = 0.0
    finalizing_s: float = 0.0
    failed_lines_in_output: bool = False


@dataclass
class FileRecord:
    id: str
    path: str
    filename: str
    purpose: str
    bytes: int
    created_at: int

    def wire(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "bytes": self.bytes,
            "created_at": self.created_at,
            "filename": self.filename,
            "object": "file",
            "purpose": self.purpose,
            "status": "processed",
            "status_details": None,
        }


@dataclass
class BatchRecord:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    window_s: float
    metadata: dict[str, Any] | None
    created: float
    total: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    status: str = "validating"
    times: dict[str, int | None] = field(default_factory=dict)
    done: int = 0
    completed: int = 0
    failed: int = 0
    offset: int = 0  # byte offset of the next input line to run
    output: IO[bytes] | None = None
    error: IO[bytes] | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    cancel_requested: bool = False
    validated: bool = False
    delay_s: float = 0.0  # extra validating time of this batch (BatchService.delay)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def wire(self) -> dict[str, Any]:
        times = {
            k: self.times.get(k)
            for k in (
                "in_progress_at",
                "finalizing_at",
                "completed_at",
                "failed_at",
                "expired_at",
                "cancelling_at",
                "cancelled_at",
            )
        }
        errors = {"object": "list", "data": self.errors} if self.errors else None
        return {
            "id": self.id,
            "object": "batch",
            "endpoint": self.endpoint,
            "errors": errors,
            "input_file_id": self.input_file_id,
            "completion_window": self.completion_window,
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created),
            "expires_at": None,
            **times,
            "request_counts": {
                "total": self.total,
                "completed": self.completed,
                "failed": self.failed,
            },
            "metadata": self.metadata,
        }


class BatchService:
    """Files and batches of one emulator; ``settings`` and :meth:`advance` drive the timing."""

    def __init__(self) -> None:
        self.settings = BatchSettings()
        self._dir = tempfile.TemporaryDirectory(prefix="qwen-vl-emulator-batch-")
        self.files: dict[str, FileRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        self._offset = 0.0
        self._lock = threading.Lock()
        self._line_faults: dict[str, ServiceError] = {}
        #: custom ids of every line that ran (for "nothing submitted twice" tests).
        self.lines_run: list[tuple[str, str]] = []
        self.uploads = 0
        #: valid create calls received, faulted ones included (``fail_create`` counts from it).
        self.create_calls = 0
        self._create_faults: dict[int, tuple[ServiceError, bool]] = {}
        self._delays: dict[int, float] = {}

    # --- what tests drive ------------------------------------------------------------------

    def now(self) -> float:
        """The virtual clock (Unix seconds)."""
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (batches progress, windows expire)."""
        with self._lock:
            self._offset += seconds

    def fail_line(
        self,
        custom_id: str,
        *,
        status: int = 400,
        code: str = "data_inspection_failed",
        message: str = "Input data may contain inappropriate content.",
    ) -> None:
        """Make the line with ``custom_id`` fail with this error (every batch, until cleared)."""
        self._line_faults[custom_id] = ServiceError(message, status=status, code=code)

    def fail_create(
        self,
        nth: int = 1,
        *,
        status: int = 500,
        created: bool = False,
        message: str = "The service is temporarily unavailable.",
    ) -> None:
        """Make the ``nth`` batch create from now on (1 = the next) answer ``status``; with
        ``created=True`` the batch is created all the same (an answer lost after the service
        acted, as a timeout would leave it)."""
        error = ServiceError(message, status=status, code="InternalError")
        self._create_faults[self.create_calls + nth] = (error, created)

    def delay(self, nth: int, seconds: float) -> None:
        """Keep the ``nth`` batch created from now on (1 = the next) ``validating`` for
        ``seconds`` (virtual) more than the others, so that batches finish out of order."""
        self._delays[self.create_calls + nth] = seconds

    def clear(self) -> None:
        """Forget line and create faults, delays and the counts of lines run, uploads and
        create calls (files and batches stay)."""
        self._line_faults.clear()
        self._create_faults.clear()
        self._delays.clear()
        self.lines_run.clear()
        self.uploads = 0
        self.create_calls = 0

    # --- files ------------------------------------------------------------------------------

    def add_file(self, source: IO[bytes], filename: str, purpose: str) -> FileRecord:
        if purpose != "batch":
            raise batch_error(f"'purpose' must be 'batch', got {purpose!r}", param="purpose")
        file_id = f"file-batch-{uuid.uuid4()}"
        path = os.path.join(self._dir.name, file_id)
        with open(path, "wb") as out:
            shutil.copyfileobj(source, out, 1 << 20)
        record = FileRecord(
            file_id, path, filename, "batch", os.path.getsize(path), int(self.now())
        )
        self.files[file_id] = record
        self.uploads += 1
        return record

    def _new_output(self) -> tuple[str, IO[bytes]]:
        file_id = f"file-batch_output-{uuid.uuid4()}"
        path = os.path.join(self._dir.name, file_id)
        return file_id, open(path, "w+b")

    def _register_output(self, file_id: str, handle: IO[bytes]) -> None:
        handle.close()
        path = os.path.join(self._dir.name, file_id)
        size = os.path.getsize(path)
        self.files[file_id] = FileRecord(
            file_id, path, f"{file_id}.jsonl", "batch_output", size, int(self.now())
        )

    def file(self, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise batch_error(f"File '{file_id}' not found", status=404, code="NotFound")
        return record

    def delete_file(self, file_id: str) -> dict[str, Any]:
        record = self.file(file_id)
        del self.files[file_id]
        os.unlink(record.path)
        return {"id": file_id, "object": "file", "deleted": True}

    # --- batches ----------------------------------------------------------------------------

    def create(self, body: Any) -> BatchRecord:
        if not isinstance(body, dict):
            raise batch_error("The request body must be a JSON object")
        file_id = body.get("input_file_id")
        if not isinstance(file_id, str) or file_id not in self.files:
            raise batch_error(
                f"input_file_id {file_id!r} does not exist", status=404, param="input_file_id"
            )
        endpoint = body.get("endpoint")
        if endpoint not in ENDPOINTS:
            raise batch_error(f"endpoint {endpoint!r} is not supported", param="endpoint")
        window = body.get("completion_window")
        match = _WINDOW.match(window) if isinstance(window, str) else None
        hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1) if match else 0
        if not 24 <= hours <= 336:
            raise batch_error(
                "completion_window must be between 24h and 336h", param="completion_window"
            )
        metadata = body.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise batch_error("metadata must be an object", param="metadata")
        self.create_calls += 1
        error, created = self._create_faults.pop(self.create_calls, (None, True))
        record = BatchRecord(
            id=f"batch_{uuid.uuid4()}",
            input_file_id=file_id,
            endpoint=endpoint,
            completion_window=str(window),
            window_s=hours * 3600.0,
            metadata=metadata or {},
            created=self.now(),
            delay_s=self._delays.pop(self.create_calls, 0.0),
        )
        if created:
            self.batches[record.id] = record
        if error is not None:
            raise error
        return record

    def get(self, batch_id: str) -> BatchRecord:
        record = self.batches.get(batch_id)
        if record is None:
            raise batch_error(f"Batch '{batch_id}' not found", status=404, code="NotFound")
        return record

    def validate_file(self, record: BatchRecord) -> None:
        """File-level checks, as the service runs them while ``validating``."""
        total, errors = validate_input_file(self.files[record.input_file_id].path, record.endpoint)
        record.total = 0 if errors else total
        record.errors = errors

    # --- running lines ---------------------------------------------------------------------

    def _timeline(self, record: BatchRecord) -> tuple[float, float, float]:
        s = self.settings
        started = record.created + s.validating_s + record.delay_s
        ran = started + s.seconds_per_request * record.total
        return started, ran, ran + s.finalizing_s

    def _target(self, record: BatchRecord, now: float) -> int:
        started, _, _ = self._timeline(record)
        if now < started:
            return 0
        if self.settings.seconds_per_request <= 0:
            return record.total
        return min(record.total, int((now - started) / self.settings.seconds_per_request))

    async def observe(self, record: BatchRecord, media_state: Any) -> BatchRecord:
        """Bring ``record`` up to the virtual clock: validate, run lines, settle."""
        from langchain_qwen_vl.emulator._batch_run import run_line

        async with record.lock:
            if record.status in TERMINAL:
                return record
            now = self.now()
            started, ran, finalized = self._timeline(record)
            deadline = record.created + record.window_s
            if not record.validated and (now >= started or record.cancel_requested):
                await asyncio.to_thread(self.validate_file, record)
                record.validated = True
                if record.errors:
                    self._settle(record, "failed", now)
                    return record
                started, ran, finalized = self._timeline(record)
                record.output_file_id, record.output = self._new_output()
                record.error_file_id, record.error = self._new_output()
                if not record.cancel_requested:
                    record.status = "in_progress"
                    record.times["in_progress_at"] = int(record.created)
            if not record.validated:
                return record
            target = (
                record.done if record.cancel_requested else self._target(record, min(now, deadline))
            )
            if target > record.done:
                await self._run_until(record, target, run_line, media_state)
            if record.cancel_requested:
                await self._skip_rest(record, "batch_cancelled", "The batch was cancelled.")
                self._settle(record, "cancelled", now)
            elif record.done >= record.total and now >= finalized:
                record.times["finalizing_at"] = int(finalized)
                self._settle(record, "completed", now)
            elif record.done >= record.total:
                record.status = "finalizing"
                record.times["finalizing_at"] = int(ran)
            elif now >= deadline:
                await self._skip_rest(
                    record, "batch_expired", "The batch expired before this request ran."
                )
                self._settle(record, "expired", now)
            return record

    async def _run_until(
        self, record: BatchRecord, target: int, run_line: Any, media_state: Any
    ) -> None:
        path = self.files[record.input_file_id].path
        with open(path, "rb") as fh:
            fh.seek(record.offset)
            while record.done < target:
                raw = fh.readline()
                if not raw:
                    break
                if not raw.strip():
                    continue
                line = json.loads(raw)
                custom_id = str(line["custom_id"])
                self.lines_run.append((record.id, custom_id))
                fault = self._line_faults.get(custom_id)
                status, body = await run_line(line["body"], fault, media_state)
                self._write_result(record, custom_id, status, body)
                record.done += 1
            record.offset = fh.tell()

    def _write_result(
        self, record: BatchRecord, custom_id: str, status: int, body: dict[str, Any]
    ) -> None:
        # as recorded: the line id is the request id, and body.id is "chatcmpl-" + it
        body_id = str(body.get("id") or body.get("request_id") or "")
        request_id = body_id.removeprefix("chatcmpl-") or new_request_id()
        error = None
        if status != 200:
            inner = body.get("error") or {}
            error = {"code": inner.get("code"), "message": inner.get("message")}
        out = {
            "id": request_id,
            "custom_id": custom_id,
            "response": {"status_code": status, "request_id": request_id, "body": body},
            "error": error,
        }
        target = record.output
        if status == 200:
            record.completed += 1
        elif self.settings.failed_lines_in_output:
            pass  # observed: a failed request in the output file, `failed` left at 0
        else:
            record.failed += 1
            target = record.error
        assert target is not None
        target.write(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    async def _skip_rest(self, record: BatchRecord, code: str, message: str) -> None:
        path = self.files[record.input_file_id].path
        with open(path, "rb") as fh:
            fh.seek(record.offset)
            for raw in fh:
                if not raw.strip():
                    continue
                custom_id = str(json.loads(raw)["custom_id"])
                request_id = new_request_id()
                out = {
                    "id": request_id,
                    "custom_id": custom_id,
                    "response": None,
                    "error": {"code": code, "message": message},
                }
                assert record.error is not None
                record.error.write(json.dumps(out, separators=(",", ":")).encode() + b"\n")
                record.failed += 1
            record.offset = fh.tell()

    def _settle(self, record: BatchRecord, status: str, now: float) -> None:
        record.status = status
        record.times[f"{status}_at"] = int(now)
        if status == "cancelled":
            record.times["cancelling_at"] = int(now)
        for attr in ("output", "error"):
            handle = getattr(record, attr)
            file_id = getattr(record, f"{attr}_file_id")
            if handle is None:
                continue
            empty = handle.tell() == 0
            self._register_output(file_id, handle)
            setattr(record, attr, None)
            if empty:  # like the service: no file for an empty side
                self.delete_file(file_id)
                setattr(record, f"{attr}_file_id", None)
        if status == "failed":
            record.output_file_id = record.error_file_id = None
            record.times["failed_at"] = int(record.created)

    async def cancel(self, record: BatchRecord) -> BatchRecord:
        """Ask to cancel: ``cancelling`` now, ``cancelled`` at the next look."""
        if record.status in TERMINAL or record.cancel_requested:
            raise batch_error(
                f"Batch '{record.id}' is {record.status} and cannot be cancelled",
                code="invalid_batch_status",
            )
        record.cancel_requested = True
        record.status = "cancelling"
        record.times["cancelling_at"] = None  # recorded: null in the cancel response
        return record
