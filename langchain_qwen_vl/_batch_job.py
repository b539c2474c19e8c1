"""A batch job handle: one id over one or more service batches, status, cancel and results.

The handle id is ``qvlb2:<batch id>@<first input index>+<count>,...``: every sub-job and the
input range it holds, so a handle can be rebuilt from the string alone in another process.
Results come back in input order: each line's ``custom_id`` is its number within its file, so
input index = sub-job start + custom id. (``qvlb1:`` ids, from earlier versions, numbered the
lines by global input index; they are still read.)
"""

from __future__ import annotations

import asyncio
import importlib
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage

from langchain_qwen_vl._batch_limits import TERMINAL_STATUSES
from langchain_qwen_vl._batch_lines import QwenVLBatchError, parse_result_line
from langchain_qwen_vl._extras import install_hint
from langchain_qwen_vl.errors import QwenVLError, QwenVLInputError, QwenVLTimeoutError

if TYPE_CHECKING:
    from langchain_qwen_vl._batch_http import BatchHttp

__all__ = ["QwenVLBatchError", "QwenVLBatchJob", "SubJob", "decode_job_id", "encode_job_id"]

_PREFIX = "qvlb2:"
#: Earlier ids, whose lines' custom ids were global input indices.
_PREFIX_V1 = "qvlb1:"
_SUB = re.compile(r"\A([A-Za-z0-9_.\-]+)@(\d+)\+(\d+)\Z")
_ACTIVE_ORDER = ("validating", "in_progress", "finalizing", "cancelling")
#: Polling never waits longer than this between two looks (or poll_interval if larger).
MAX_POLL_INTERVAL = 600.0
POLL_BACKOFF = 1.5

# Indirections so tests can skip the waits without patching time/asyncio globally.
_sleep = time.sleep
_asleep = asyncio.sleep


@dataclass(frozen=True, slots=True)
class SubJob:
    """One service batch and the input range ``[start, start + count)`` it holds; its lines'
    custom ids run from ``first_id`` (0; the start itself in ``qvlb1:`` ids)."""

    batch_id: str
    start: int
    count: int
    first_id: int = 0


def encode_job_id(subs: Sequence[SubJob]) -> str:
    """The handle id of ``subs``.

    Example:
        >>> encode_job_id([SubJob("batch_a", 0, 2), SubJob("batch_b", 2, 1)])
        'qvlb2:batch_a@0+2,batch_b@2+1'
    """
    prefix = _PREFIX_V1 if any(s.first_id for s in subs) else _PREFIX
    return prefix + ",".join(f"{s.batch_id}@{s.start}+{s.count}" for s in subs)


def decode_job_id(job_id: str) -> list[SubJob]:
    """The sub-jobs of a handle id; a clear error for anything else."""
    subs: list[SubJob] = []
    prefix = next(
        (p for p in (_PREFIX, _PREFIX_V1) if isinstance(job_id, str) and job_id.startswith(p)), ""
    )
    body = job_id[len(prefix) :] if prefix else ""
    for piece in body.split(",") if body else []:
        match = _SUB.match(piece)
        if match is None:
            subs = []
            break
        start = int(match.group(2))
        first_id = start if prefix == _PREFIX_V1 else 0
        subs.append(SubJob(match.group(1), start, int(match.group(3)), first_id))
    if not subs:
        raise QwenVLInputError(
            f"job_id={job_id!r} is not a QwenVLBatch job id (they look like "
            "'qvlb2:batch_<uuid>@0+100') — pass the `id` of a job returned by submit()."
        )
    return subs


def aggregate_status(statuses: Sequence[str | None]) -> str | None:
    """One status for several batches: the least advanced active one, else the worst end."""
    if not statuses or any(s is None for s in statuses):
        return None
    active = [s for s in statuses if s not in TERMINAL_STATUSES]
    if active:
        return min(active, key=lambda s: _ACTIVE_ORDER.index(s) if s in _ACTIVE_ORDER else -1)
    for status in ("failed", "expired", "cancelled"):
        if status in statuses:
            return status
    return "completed"


class QwenVLBatchJob:
    """A submitted batch: ``id`` (store it), ``status``, ``refresh``, ``cancel``, ``results``."""

    def __init__(
        self,
        http: BatchHttp,
        subs: Sequence[SubJob],
        batches: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self._http = http
        self.sub_jobs: list[SubJob] = list(subs)
        self.id: str = encode_job_id(self.sub_jobs)
        self.batches: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (batches or {}).items()}

    def __repr__(self) -> str:
        return f"QwenVLBatchJob(id={self.id!r}, status={self.status!r})"

    @property
    def total(self) -> int:
        """How many inputs the job holds."""
        return sum(s.count for s in self.sub_jobs)

    @property
    def first_index(self) -> int:
        """The input index of the job's first request (0, or where one file's job starts)."""
        return min(s.start for s in self.sub_jobs)

    @property
    def status(self) -> str | None:
        """Last known status (``None`` until :meth:`refresh` for a resumed handle)."""
        return aggregate_status(
            [self.batches.get(s.batch_id, {}).get("status") for s in self.sub_jobs]
        )

    @property
    def request_counts(self) -> dict[str, int]:
        """``total``/``completed``/``failed`` summed over the sub-jobs (last known)."""
        counts = {"total": 0, "completed": 0, "failed": 0}
        for batch in self.batches.values():
            for key in counts:
                counts[key] += int((batch.get("request_counts") or {}).get(key) or 0)
        return counts

    @property
    def done(self) -> bool:
        """True when every sub-job has reached a terminal status."""
        return self.status in TERMINAL_STATUSES

    # --- refresh and cancel --------------------------------------------------------------

    def refresh(self) -> QwenVLBatchJob:
        """Fetch the status of every sub-job that has not ended."""
        for sub in self.sub_jobs:
            if self.batches.get(sub.batch_id, {}).get("status") not in TERMINAL_STATUSES:
                self.batches[sub.batch_id] = self._http.request("GET", f"/batches/{sub.batch_id}")
        return self

    async def arefresh(self) -> QwenVLBatchJob:
        """Async :meth:`refresh`."""
        for sub in self.sub_jobs:
            if self.batches.get(sub.batch_id, {}).get("status") not in TERMINAL_STATUSES:
                batch = await self._http.arequest("GET", f"/batches/{sub.batch_id}")
                self.batches[sub.batch_id] = batch
        return self

    def cancel(self) -> QwenVLBatchJob:
        """Cancel every sub-job still running; finished results are kept (and billed)."""
        self.refresh()
        for sub in self.sub_jobs:
            if self.batches[sub.batch_id].get("status") not in TERMINAL_STATUSES | {"cancelling"}:
                path = f"/batches/{sub.batch_id}/cancel"
                self.batches[sub.batch_id] = self._http.request("POST", path)
        return self

    async def acancel(self) -> QwenVLBatchJob:
        """Async :meth:`cancel`."""
        await self.arefresh()
        for sub in self.sub_jobs:
            if self.batches[sub.batch_id].get("status") not in TERMINAL_STATUSES | {"cancelling"}:
                path = f"/batches/{sub.batch_id}/cancel"
                self.batches[sub.batch_id] = await self._http.arequest("POST", path)
        return self

    # --- waiting ----------------------------------------------------------------------------

    def _timed_out(self, timeout: float) -> QwenVLTimeoutError:
        return QwenVLTimeoutError(
            f"batch job {self.id} is still {self.status!r} after {timeout:g}s "
            f"({self.request_counts}) — keep the id and call results() again later, or cancel()."
        )

    def _not_finished(self) -> QwenVLBatchError:
        return QwenVLBatchError(
            f"batch job {self.id} is {self.status!r}, not finished — call "
            "results(wait=True) or poll refresh() until status is completed.",
            job_id=self.id,
            status=self.status,
            code="not_finished",
        )

    def wait(
        self,
        *,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> QwenVLBatchJob:
        """Poll (with backoff from ``poll_interval`` up to 10 min) until every sub-job ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress(show_progress, self.total)
        interval = poll_interval
        try:
            while True:
                self.refresh()
                _advance(bar, self.request_counts)
                if self.done:
                    return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timed_out(timeout or 0.0)
                pause = interval if deadline is None else min(interval, deadline - time.monotonic())
                _sleep(max(0.0, pause))
                interval = min(interval * POLL_BACKOFF, max(poll_interval, MAX_POLL_INTERVAL))
        finally:
            if bar is not None:
                bar.close()

    async def await_done(
        self,
        *,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> QwenVLBatchJob:
        """Async :meth:`wait`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        bar = _progress(show_progress, self.total)
        interval = poll_interval
        try:
            while True:
                await self.arefresh()
                _advance(bar, self.request_counts)
                if self.done:
                    return self
                if deadline is not None and time.monotonic() >= deadline:
                    raise self._timed_out(timeout or 0.0)
                pause = interval if deadline is None else min(interval, deadline - time.monotonic())
                await _asleep(max(0.0, pause))
                interval = min(interval * POLL_BACKOFF, max(poll_interval, MAX_POLL_INTERVAL))
        finally:
            if bar is not None:
                bar.close()

    # --- results ----------------------------------------------------------------------------

    def _placed(self, sub: SubJob, custom_id: str) -> int | None:
        try:
            line = int(custom_id) - sub.first_id
        except ValueError:
            return None
        return sub.start + line if 0 <= line < sub.count else None

    def _missing(self, sub: SubJob) -> QwenVLBatchError:
        batch = self.batches.get(sub.batch_id, {})
        status = batch.get("status")
        errors = (batch.get("errors") or {}).get("data") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
        why = {
            "failed": "the batch failed validation, nothing ran",
            "expired": "the batch expired before this request ran (not billed)",
            "cancelled": "the batch was cancelled before this request ran (not billed)",
        }.get(str(status), "no result line came back for this request")
        return QwenVLBatchError(
            f"batch {sub.batch_id} ({status}): {why}{' — ' + detail if detail else ''}; "
            "submit the input again to retry it.",
            job_id=self.id,
            status=status,
            code=str(errors[0].get("code")) if errors else str(status),
            errors=errors,
        )

    def iter_results(
        self,
        *,
        wait: bool = True,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> Iterator[tuple[int, AIMessage | QwenVLError]]:
        """``(input index, result)`` pairs streamed from the result files, in file order.

        Nothing but the line being parsed is held, whatever the size of the job.
        """
        if wait:
            self.wait(poll_interval=poll_interval, timeout=timeout, show_progress=show_progress)
        elif not self.refresh().done:
            raise self._not_finished()
        for sub in self.sub_jobs:
            seen = bytearray(sub.count)
            batch = self.batches[sub.batch_id]
            for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
                if not file_id:
                    continue
                for line in self._http.iter_file_lines(str(file_id)):
                    if not line.strip():
                        continue
                    custom_id, result = parse_result_line(line)
                    index = self._placed(sub, custom_id)
                    if index is not None and not seen[index - sub.start]:
                        seen[index - sub.start] = 1
                        yield index, result
            for offset, flag in enumerate(seen):
                if not flag:
                    yield sub.start + offset, self._missing(sub)

    async def aiter_results(
        self,
        *,
        wait: bool = True,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> AsyncIterator[tuple[int, AIMessage | QwenVLError]]:
        """Async :meth:`iter_results`."""
        if wait:
            await self.await_done(
                poll_interval=poll_interval, timeout=timeout, show_progress=show_progress
            )
        elif not (await self.arefresh()).done:
            raise self._not_finished()
        for sub in self.sub_jobs:
            seen = bytearray(sub.count)
            batch = self.batches[sub.batch_id]
            for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
                if not file_id:
                    continue
                async for line in self._http.aiter_file_lines(str(file_id)):
                    if not line.strip():
                        continue
                    custom_id, result = parse_result_line(line)
                    index = self._placed(sub, custom_id)
                    if index is not None and not seen[index - sub.start]:
                        seen[index - sub.start] = 1
                        yield index, result
            for offset, flag in enumerate(seen):
                if not flag:
                    yield sub.start + offset, self._missing(sub)

    def results(
        self,
        *,
        wait: bool = True,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> list[AIMessage | QwenVLError]:
        """Results in input order (item 0 is input :attr:`first_index`): an ``AIMessage`` (as
        ``invoke`` returns it) or, for a failed item, the ``QwenVLError`` the real-time call
        would have raised (not raised here)."""
        out: list[AIMessage | QwenVLError | None] = [None] * self.total
        first = self.first_index
        for index, result in self.iter_results(
            wait=wait, poll_interval=poll_interval, timeout=timeout, show_progress=show_progress
        ):
            out[index - first] = result
        return [r for r in out if r is not None]

    async def aresults(
        self,
        *,
        wait: bool = True,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        show_progress: bool = False,
    ) -> list[AIMessage | QwenVLError]:
        """Async :meth:`results`."""
        out: list[AIMessage | QwenVLError | None] = [None] * self.total
        first = self.first_index
        async for index, result in self.aiter_results(
            wait=wait, poll_interval=poll_interval, timeout=timeout, show_progress=show_progress
        ):
            out[index - first] = result
        return [r for r in out if r is not None]


def _progress(show: bool, total: int) -> Any:
    if not show:
        return None
    try:
        tqdm = importlib.import_module("tqdm").tqdm  # optional extra "progress", untyped
    except ImportError as error:
        raise ImportError(f"show_progress=True needs tqdm: {install_hint('progress')}") from error
    return tqdm(total=total, desc="batch", unit="req")


def _advance(bar: Any, counts: Mapping[str, int]) -> None:
    if bar is not None:
        bar.n = counts["completed"] + counts["failed"]
        bar.refresh()
