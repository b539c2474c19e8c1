"""DashScope's Batch API from LangChain inputs: half the price, outside the real-time quota.

:class:`QwenVLBatch` is built from a :class:`~langchain_qwen_vl.ChatQwenVL` and uses its key,
base URL (region), headers, retry policy and *its payload builder*, so every line carries the
body ``invoke`` would have sent (images prepared the same way). ``submit`` writes the JSONL
lines one at a time to temporary files (split over the service's limits, one model and one
thinking mode per file), streams each file up and creates one service batch per file; the
returned :class:`QwenVLBatchJob` has one string ``id`` for all of them. Each service batch
carries the SHA-256 of its file in ``metadata`` (:data:`PART_TAG_KEY`); with
``adopt_existing=True`` a file whose batch already exists (created by a run that died before it
could store the id) is adopted instead of created twice. See ``docs/batch.md``.

Example (against the real service)::

    batch = QwenVLBatch(ChatQwenVL(region="beijing"))
    job = batch.submit(["Describe a cat.", ("Think about it.", {"enable_thinking": True})])
    QwenVLBatch(llm).job(job.id).results(poll_interval=60)  # later, anywhere
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from langchain_qwen_vl._batch_http import BatchHttp, one_client
from langchain_qwen_vl._batch_job import (
    QwenVLBatchError,
    QwenVLBatchJob,
    SubJob,
    decode_job_id,
    encode_job_id,
)
from langchain_qwen_vl._batch_limits import (
    CHAT_ENDPOINT,
    DEFAULT_COMPLETION_WINDOW,
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_REQUESTS_PER_FILE,
    check_batch_supported,
    completion_window_hours,
)
from langchain_qwen_vl._batch_lines import JsonlParts, MediaUrlHook, Part, file_mode, fit_line
from langchain_qwen_vl.chat_models import ChatQwenVL
from langchain_qwen_vl.errors import QwenVLError, QwenVLInputError, QwenVLUnsupportedFeatureError

__all__ = ["PART_TAG_KEY", "MediaUrlHook", "QwenVLBatch", "QwenVLBatchError", "QwenVLBatchJob"]

#: Metadata key holding the SHA-256 of a service batch's input file (its request lines).
PART_TAG_KEY = "langchain_qwen_vl_part_sha256"
#: ``on_part`` of :meth:`QwenVLBatch.submit`: called with the job of one service batch.
OnPart = Callable[[QwenVLBatchJob], Any]


def _split(item: Any) -> tuple[Any, dict[str, Any]]:
    if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
        return item[0], dict(item[1])
    return item, {}


class QwenVLBatch:
    """Submit many chat requests as Batch API jobs; resume a job from its id.

    Args:
        llm: the configured ``ChatQwenVL`` (key, region/base_url, headers, sampling fields).
        completion_window: ``"24h"`` (default) to ``"336h"``/``"14d"``.
        media_url: ``(prepared image bytes, mime type) -> URL`` you host; used for lines over
            ``max_line_bytes`` (or for every image with ``inline_images=False``).
        inline_images: send images as data URIs when the line fits (default True).
        max_line_bytes / max_requests_per_file / max_file_bytes: the service's limits
            (6 MB per line as documented — 1 MB in one edition —, 50,000 requests, 500 MB).
        name: task name (``metadata.ds_name``, at most 100 characters); metadata: extra keys.
        tmp_dir: where the JSONL files are written before upload (deleted afterwards).
        adopt_existing: before creating a service batch, look through the account's batches
            for one whose metadata carries the same file hash (the same request lines, sent by
            a run that died before storing the id) and use it instead of creating (and
            billing) a second. Costs a listing of the account's batches per submit; leave it
            off to submit the same inputs twice on purpose.
    """

    def __init__(
        self,
        llm: ChatQwenVL,
        *,
        completion_window: str = DEFAULT_COMPLETION_WINDOW,
        media_url: MediaUrlHook | None = None,
        inline_images: bool = True,
        max_line_bytes: int = MAX_LINE_BYTES,
        max_requests_per_file: int = MAX_REQUESTS_PER_FILE,
        max_file_bytes: int = MAX_FILE_BYTES,
        name: str | None = None,
        metadata: Mapping[str, str] | None = None,
        tmp_dir: str | None = None,
        adopt_existing: bool = False,
    ) -> None:
        if not isinstance(llm, ChatQwenVL):
            raise QwenVLInputError(
                f"llm: QwenVLBatch needs a ChatQwenVL, got {type(llm).__name__} — pass the "
                "model itself and give per-call options per input as (input, kwargs)."
            )
        if llm.wire_format != "chat_completions":
            raise QwenVLUnsupportedFeatureError(
                f"wire_format={llm.wire_format!r}: the Batch API takes chat completions bodies "
                "only — use ChatQwenVL(wire_format='chat_completions')."
            )
        try:
            completion_window_hours(completion_window)
        except ValueError as error:
            raise QwenVLInputError(str(error)) from None
        for field, value, ceiling in (
            ("max_line_bytes", max_line_bytes, MAX_LINE_BYTES),
            ("max_requests_per_file", max_requests_per_file, MAX_REQUESTS_PER_FILE),
            ("max_file_bytes", max_file_bytes, MAX_FILE_BYTES),
        ):
            if not isinstance(value, int) or not 1 <= value <= ceiling:
                raise QwenVLInputError(
                    f"{field}={value!r}: use 1 to {ceiling:,} (the service's limit)."
                )
        if name is not None and len(name) > 100:
            raise QwenVLInputError(f"name: {len(name)} characters; the service allows 100.")
        if media_url is None and not inline_images:
            raise QwenVLInputError(
                "inline_images=False needs media_url=... (image bytes, mime -> URL you host)."
            )
        self.llm = llm
        self.completion_window = completion_window
        self.media_url = media_url
        self.inline_images = inline_images
        self.max_line_bytes = max_line_bytes
        self.max_requests_per_file = max_requests_per_file
        self.max_file_bytes = max_file_bytes
        self.name = name
        self.metadata = dict(metadata or {})
        self.tmp_dir = tmp_dir
        self.adopt_existing = adopt_existing

    def __repr__(self) -> str:
        return f"QwenVLBatch(base_url={self.llm.resolved_base_url!r}, model={self.llm.model!r})"

    def _http(self) -> BatchHttp:
        endpoint = self.llm._endpoint()  # raises a clear error without a key
        return BatchHttp(
            base_url=endpoint.base_url,
            headers=endpoint.headers,
            policy=self.llm._policy(),
            client=lambda: one_client(self.llm._sync_client()),
            aclient=lambda: one_client(self.llm._async_client()),
        )

    # --- building the files (pure apart from temporary files) --------------------------------

    def _write_parts(self, inputs: Iterable[Any]) -> JsonlParts:
        check_batch_supported(self.llm.resolved_base_url, self.llm.model)
        parts = JsonlParts(
            max_requests=self.max_requests_per_file,
            max_bytes=self.max_file_bytes,
            directory=self.tmp_dir,
        )
        try:
            count = 0
            for index, item in enumerate(inputs):
                value, kwargs = _split(item)
                if "stream" in kwargs or "callbacks" in kwargs:
                    raise QwenVLInputError(
                        f"inputs[{index}]: {sorted({'stream', 'callbacks'} & set(kwargs))} "
                        "do not apply to batch lines — remove them."
                    )
                stop = kwargs.pop("stop", None)
                try:
                    messages = self.llm._convert_input(value).to_messages()
                    body = self.llm._build_payload(messages, stop, **kwargs)
                except QwenVLError as error:
                    raise type(error)(f"inputs[{index}]: {error}") from error
                except ValueError as error:
                    raise QwenVLInputError(f"inputs[{index}]: {error}") from error
                check_batch_supported(self.llm.resolved_base_url, str(body.get("model")))
                line = fit_line(
                    str(index),
                    body,
                    index=index,
                    max_line_bytes=self.max_line_bytes,
                    media_url=self.media_url,
                    inline_images=self.inline_images,
                )
                mode = file_mode(body)
                del body, messages
                parts.add(index, line, mode)
                count += 1
            if count == 0:
                raise QwenVLInputError("inputs: nothing to submit — pass at least one input.")
            parts.finish()
        except BaseException:
            parts.close()
            raise
        return parts

    def _create_body(self, file_id: str, part: Part, number: int, total: int) -> dict[str, Any]:
        metadata = dict(self.metadata)
        if self.name:
            metadata["ds_name"] = self.name
        if total > 1:
            metadata["langchain_qwen_vl_part"] = f"{number}/{total}"
        metadata[PART_TAG_KEY] = part.tag
        body: dict[str, Any] = {
            "input_file_id": file_id,
            "endpoint": CHAT_ENDPOINT,
            "completion_window": self.completion_window,
        }
        if metadata:
            body["metadata"] = metadata
        return body

    def _partial(self, subs: list[SubJob], parts: list[Part], error: Exception) -> QwenVLBatchError:
        done = "; no job was created"
        if subs:
            done = (
                f"; the first {len(subs)} part(s) were created as job id {_id(subs)} — collect "
                "or cancel it with QwenVLBatch(llm).job(id)"
            )
        return QwenVLBatchError(
            f"submitting part {len(subs) + 1} of {len(parts)} failed: {error}{done}.",
            job_id=_id(subs) if subs else None,
            code="submit_failed",
        )

    # --- public API ----------------------------------------------------------------------

    def submit(self, inputs: Iterable[Any], *, on_part: OnPart | None = None) -> QwenVLBatchJob:
        """Submit ``inputs`` (each what ``invoke`` accepts, or ``(input, kwargs)``) as a job.

        ``on_part(job)`` is called with the job of each service batch (its ``id`` and
        ``sub_jobs[0].start``/``count``, the inputs it holds) as soon as the service has
        created it, before the next file goes up: store its id there and a crash later on loses
        nothing. If a file fails, :class:`QwenVLBatchError` names the batches created so far.
        """
        http = self._http()
        files = self._write_parts(inputs)
        subs: list[SubJob] = []
        batches: dict[str, dict[str, Any]] = {}
        parts = files.parts
        try:
            existing = self._existing(http, parts) if self.adopt_existing else {}
            for number, part in enumerate(parts, 1):
                try:
                    batch = existing.get(part.tag)
                    if batch is None:
                        uploaded = http.upload(part.path, f"batch-{number}.jsonl")
                        body = self._create_body(str(uploaded["id"]), part, number, len(parts))
                        batch = http.request("POST", "/batches", json=body, retries=False)
                except QwenVLError as error:
                    raise self._partial(subs, parts, error) from error
                one = _part_job(http, part, batch, subs, batches)
                if on_part is not None:
                    on_part(one)
        finally:
            files.close()
        return QwenVLBatchJob(http, subs, batches)

    async def asubmit(
        self, inputs: Iterable[Any], *, on_part: OnPart | None = None
    ) -> QwenVLBatchJob:
        """Async :meth:`submit` (lines are built in a worker thread; ``on_part`` may be async)."""
        http = self._http()
        files = await asyncio.to_thread(self._write_parts, inputs)
        subs: list[SubJob] = []
        batches: dict[str, dict[str, Any]] = {}
        parts = files.parts
        try:
            existing = await self._aexisting(http, parts) if self.adopt_existing else {}
            for number, part in enumerate(parts, 1):
                try:
                    batch = existing.get(part.tag)
                    if batch is None:
                        uploaded = await http.aupload(part.path, f"batch-{number}.jsonl")
                        body = self._create_body(str(uploaded["id"]), part, number, len(parts))
                        batch = await http.arequest("POST", "/batches", json=body, retries=False)
                except QwenVLError as error:
                    raise self._partial(subs, parts, error) from error
                one = _part_job(http, part, batch, subs, batches)
                if on_part is not None and inspect.isawaitable(done := on_part(one)):
                    await done
        finally:
            files.close()
        return QwenVLBatchJob(http, subs, batches)

    def _existing(self, http: BatchHttp, parts: list[Part]) -> dict[str, dict[str, Any]]:
        """Batches of the account tagged with one of ``parts``' hashes (``tag -> batch``)."""
        wanted, found = {p.tag for p in parts}, dict[str, dict[str, Any]]()
        params: dict[str, Any] = {"limit": 100}
        while after := _adoptable(http.request("GET", "/batches", params=params), wanted, found):
            params["after"] = after
        return found

    async def _aexisting(self, http: BatchHttp, parts: list[Part]) -> dict[str, dict[str, Any]]:
        """Async :meth:`_existing`."""
        wanted, found = {p.tag for p in parts}, dict[str, dict[str, Any]]()
        params: dict[str, Any] = {"limit": 100}
        while after := _adoptable(
            await http.arequest("GET", "/batches", params=params), wanted, found
        ):
            params["after"] = after
        return found

    def job(self, job_id: str) -> QwenVLBatchJob:
        """The handle of a job submitted earlier (any process); no request until refresh()."""
        return QwenVLBatchJob(self._http(), decode_job_id(job_id))

    def list_jobs(
        self, *, limit: int = 20, status: str | None = None, after: str | None = None
    ) -> list[dict[str, Any]]:
        """The account's service batches, newest first (raw Batch objects)."""
        params = _list_params(limit, status, after)
        page = self._http().request("GET", "/batches", params=params)
        return list(page.get("data") or [])  # the service sends data: null when empty

    async def alist_jobs(
        self, *, limit: int = 20, status: str | None = None, after: str | None = None
    ) -> list[dict[str, Any]]:
        """Async :meth:`list_jobs`."""
        params = _list_params(limit, status, after)
        page = await self._http().arequest("GET", "/batches", params=params)
        return list(page.get("data") or [])


def _id(subs: list[SubJob]) -> str:
    return encode_job_id(subs)


def _part_job(
    http: BatchHttp,
    part: Part,
    batch: dict[str, Any],
    subs: list[SubJob],
    batches: dict[str, dict[str, Any]],
) -> QwenVLBatchJob:
    """Add ``part``'s service batch to ``subs``/``batches``; the job of that batch alone."""
    sub = SubJob(str(batch["id"]), part.start, part.count)
    subs.append(sub)
    batches[sub.batch_id] = batch
    return QwenVLBatchJob(http, [sub], {sub.batch_id: batch})


def _adoptable(
    page: Mapping[str, Any], wanted: set[str], found: dict[str, dict[str, Any]]
) -> str | None:
    """Note in ``found`` the batches of one list page tagged with a ``wanted`` hash (newest
    first wins; a ``failed`` batch ran nothing and is not adopted); the ``after`` cursor of
    the next page, or None when the listing is done or every hash is found."""
    data = page.get("data") or []  # the service sends data: null when empty
    for batch in data:
        tag = (batch.get("metadata") or {}).get(PART_TAG_KEY)
        if tag in wanted and tag not in found and batch.get("status") != "failed":
            found[tag] = dict(batch)
    if not page.get("has_more") or not data or len(found) == len(wanted):
        return None
    return str(page.get("last_id") or data[-1]["id"])


def _list_params(limit: int, status: str | None, after: str | None) -> dict[str, Any]:
    if not 1 <= limit <= 100:
        raise QwenVLInputError(f"limit={limit!r}: the service lists 1 to 100 batches per page.")
    params: dict[str, Any] = {"limit": limit}
    if status:
        params["status"] = status
    if after:
        params["after"] = after
    return params
