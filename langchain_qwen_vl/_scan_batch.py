"""The scan loader's Batch API mode: plan, submit what is not cached or pending, collect, emit.

1. Plan every page: a cached page is read back; a page with a *pending* record (submitted by an
   earlier run that crashed or stopped) waits for that job; every other page is new.
2. New pages are rendered and encoded exactly as in real-time mode, one at a time, and streamed
   into one :class:`~langchain_qwen_vl.batch.QwenVLBatch` submission. The moment the service
   creates the batch of one file, the pending records (job id, index, image size) of its pages
   go into the cache store, before the next file goes up. A crash between create and record
   is covered by ``adopt_existing``: the next run builds the same file (same pages, same
   bytes), finds the batch tagged with its hash and adopts it. If a file fails to go up, its
   pages and the later ones are flagged failed (submitted again by a later run); the files
   already created are collected.
3. Each job's results are collected as they stream in, all jobs at once: a page is cached and
   its pending record dropped at once. A failed page is flagged like in real-time mode.
4. Documents are emitted in file and page order, each as soon as it and every page before it
   are done (a job holding early pages does not wait for the job holding the last ones).

Without a cache store nothing can be resumed (a warning says so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_core.document_loaders import Blob
from langchain_core.documents import Document
from langchain_core.messages import AIMessage

from langchain_qwen_vl._batch_lines import QwenVLBatchError
from langchain_qwen_vl._scan_cache import CachedPage, page_cache_key
from langchain_qwen_vl._scan_encode import encode_page
from langchain_qwen_vl._scan_errors import QwenVLScanError, QwenVLScanInputError, ScanFailure
from langchain_qwen_vl._scan_inputs import blob_name, hash_blob, open_blob
from langchain_qwen_vl._scan_pipeline import (
    PipelineConfig,
    ScanRunStats,
    _error_document,
    _FileContext,
    _join,
    _metadata,
    _name_page,
    _strip_fence,
    page_message,
)
from langchain_qwen_vl._scan_render import ScanSource, pdfium_executor
from langchain_qwen_vl._scan_sync import Progress
from langchain_qwen_vl.errors import QwenVLInputError

if TYPE_CHECKING:
    from langchain_qwen_vl.batch import QwenVLBatch, QwenVLBatchJob

__all__ = ["BatchRun", "batch_run_for", "run_batch_pipeline"]

logger = logging.getLogger("langchain_qwen_vl.document_loaders")


@dataclass(frozen=True, slots=True)
class BatchRun:
    """How the batch mode submits and waits."""

    batch: QwenVLBatch
    call_kwargs: Mapping[str, Any]
    poll_interval: float
    timeout: float | None


def batch_run_for(
    model: Any,
    call_kwargs: Mapping[str, Any],
    options: Mapping[str, Any],
    poll_interval: float,
    timeout: float | None,
) -> BatchRun:
    """A :class:`BatchRun` for the loader's model; a clear error for a model other than ours."""
    from langchain_qwen_vl.batch import QwenVLBatch
    from langchain_qwen_vl.chat_models import ChatQwenVL

    if not isinstance(model, ChatQwenVL):
        raise QwenVLInputError(
            f"use_batch_api=True needs a ChatQwenVL, got {type(model).__name__} — batch is a "
            "DashScope API; use real-time mode (use_batch_api=False) with other models."
        )
    batch = QwenVLBatch(model, **{"adopt_existing": True, **options})
    return BatchRun(batch, dict(call_kwargs), poll_interval, timeout)


@dataclass(slots=True)
class _Page:
    file: _FileContext
    page: int
    key: str | None
    entry: CachedPage | None = None
    cached: bool = False
    failure: ScanFailure | None = None
    job_id: str | None = None
    index: int | None = None
    image: dict[str, Any] | None = None
    ready: asyncio.Event | None = None  # set when the page's result is in or its job ended


def _plan(
    blobs: Iterable[Blob], config: PipelineConfig, stats: ScanRunStats
) -> tuple[list[_Page], list[ScanFailure], dict[int, ScanSource]]:
    """Open every input, key every page, and sort pages into cached / pending / new."""
    pages: list[_Page] = []
    failures: list[ScanFailure] = []
    sources: dict[int, ScanSource] = {}
    cache = config.cache
    for number, blob in enumerate(blobs):
        name = blob_name(blob, number)
        stats.files += 1
        try:
            source = (
                pdfium_executor()
                .submit(
                    open_blob,
                    blob,
                    name,
                    password=config.settings.pdf_password,
                    reopen_every=config.reopen_every,
                )
                .result()
            )
            file_hash = hash_blob(blob) if cache is not None else None
        except (QwenVLScanInputError, OSError) as exc:
            failures.append(ScanFailure(name, None, exc))
            continue
        file = _FileContext(number, name, source.total_pages, file_hash)
        sources[number] = source
        stats.pages_total += file.total_pages
        keys = [
            page_cache_key(
                file_hash=file_hash,
                page=page,
                model=config.model,
                prompt=config.prompt,
                output=config.output,
                render=config.settings.cache_fields(),
                max_tokens=config.max_tokens,
                request=config.cache_request_fields,
            )
            if file_hash is not None
            else None
            for page in range(file.total_pages)
        ]
        pending = cache.pending([k for k in keys if k]) if cache is not None else []
        pending_by_key = dict(zip([k for k in keys if k], pending, strict=True))
        for page, key in enumerate(keys):
            item = _Page(file, page, key)
            entry = cache.get(key) if cache is not None and key else None
            record = pending_by_key.get(key) if key else None
            if entry is not None:
                item.entry, item.cached = entry, True
                stats.pages_cached += 1
            elif record is not None:
                item.job_id, item.index = str(record["job_id"]), int(record["index"])
                item.image = dict(record.get("image") or {})
            pages.append(item)
    return pages, failures, sources


def _lines(
    new: list[_Page],
    sources: Mapping[int, ScanSource],
    config: PipelineConfig,
    run: BatchRun,
    stats: ScanRunStats,
) -> Iterator[tuple[Any, dict[str, Any]]]:
    """Render and encode each new page as the submission asks for it (one page in memory)."""
    index = 0
    for item in new:
        try:
            raw = (
                pdfium_executor()
                .submit(sources[item.file.number].load, item.page, config.settings)
                .result()
            )
            stats.render_cpu_s += raw.render_cpu_s
            encoded = encode_page(raw, config.settings, name=item.file.name)
            del raw
        except (QwenVLScanInputError, OSError, ValueError) as exc:
            item.failure = ScanFailure(
                item.file.name, item.page, _name_page(exc, item.file, item.page)
            )
            continue
        stats.encode_cpu_s += encoded.encode_cpu_s
        stats.how[encoded.how] = stats.how.get(encoded.how, 0) + 1
        stats.requests += 1
        stats.bytes_sent += len(encoded.url)
        item.index = index
        item.image = {
            "width": encoded.width,
            "height": encoded.height,
            "mime_type": encoded.mime_type,
            "dpi": encoded.dpi,
        }
        index += 1
        yield [page_message(encoded, config)], dict(run.call_kwargs)


def _entry(answer: AIMessage, image: Mapping[str, Any], model: str) -> CachedPage:
    usage: Mapping[str, Any] = answer.usage_metadata or {}
    finish = answer.response_metadata.get("finish_reason")
    return CachedPage(
        text=_strip_fence(answer.text),
        model=str(answer.response_metadata.get("model_name") or model),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        total_tokens=usage.get("total_tokens"),
        image_width=int(image.get("width") or 0),
        image_height=int(image.get("height") or 0),
        image_mime_type=str(image.get("mime_type") or ""),
        dpi=image.get("dpi"),
        finish_reason=str(finish) if finish else None,
    )


async def _submit(
    new: list[_Page],
    sources: Mapping[int, ScanSource],
    config: PipelineConfig,
    run: BatchRun,
    stats: ScanRunStats,
) -> None:
    """Submit ``new``; each file's pages get their job id (and pending record) as it is created."""
    by_index: dict[int, _Page] = {}

    async def record(job: QwenVLBatchJob) -> None:
        if not by_index:  # every line is written before the first file goes up
            by_index.update((p.index, p) for p in new if p.index is not None)
        [sub] = job.sub_jobs
        held = [by_index[i] for i in range(sub.start, sub.start + sub.count)]
        for item in held:
            item.job_id = job.id
        if config.cache is not None:
            records = {
                p.key: {"job_id": job.id, "index": p.index, "image": p.image}
                for p in held
                if p.key is not None
            }
            await asyncio.to_thread(config.cache.set_pending, records)

    try:
        await run.batch.asubmit(_lines(new, sources, config, run, stats), on_part=record)
    except QwenVLBatchError as error:
        if error.code != "submit_failed":
            raise
        for item in new:  # not sent (or sent without an answer: adopted by the next run)
            if item.index is not None and item.job_id is None and item.failure is None:
                item.failure = ScanFailure(
                    item.file.name, item.page, _name_page(error, item.file, item.page)
                )


async def _collect(
    job_id: str, group: list[_Page], config: PipelineConfig, run: BatchRun, stats: ScanRunStats
) -> None:
    by_index = {item.index: item for item in group}
    job = run.batch.job(job_id)
    try:
        async for index, result in job.aiter_results(
            poll_interval=run.poll_interval, timeout=run.timeout
        ):
            item = by_index.get(index)
            if item is None:
                continue
            if isinstance(result, AIMessage):
                item.entry = _entry(result, item.image or {}, config.model)
                stats.input_tokens += item.entry.input_tokens or 0
                stats.output_tokens += item.entry.output_tokens or 0
                if config.cache is not None and item.key is not None:
                    await asyncio.to_thread(config.cache.put, item.key, item.entry)
            else:
                item.failure = ScanFailure(
                    item.file.name, item.page, _name_page(result, item.file, item.page)
                )
            if config.cache is not None and item.key is not None:
                await asyncio.to_thread(config.cache.clear_pending, [item.key])
            if item.ready is not None:
                item.ready.set()
    finally:
        for item in group:  # ended, or failed: the emitter looks at the task
            if item.ready is not None:
                item.ready.set()


async def run_batch_pipeline(
    blobs: Iterable[Blob], config: PipelineConfig, stats: ScanRunStats, run: BatchRun
) -> AsyncGenerator[Document, None]:
    """Transcribe every page of ``blobs`` through the Batch API; Documents in page order."""
    if config.cache is None:
        logger.warning(
            "use_batch_api without cache_dir/cache_store: a crashed run cannot resume its batch "
            "jobs and would submit (and bill) its pages again — pass cache_store=... or cache_dir."
        )
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    pages, failures, sources = await asyncio.to_thread(_plan, list(blobs), config, stats)
    try:
        new = [p for p in pages if not p.cached and p.job_id is None]
        if new:
            await _submit(new, sources, config, run, stats)
    finally:
        for source in sources.values():
            pdfium_executor().submit(source.close)
    groups: dict[str, list[_Page]] = {}
    for item in pages:
        if item.job_id is not None and not item.cached and item.failure is None:
            item.ready = asyncio.Event()
            groups.setdefault(item.job_id, []).append(item)
    tasks = {
        job_id: asyncio.create_task(_collect(job_id, group, config, run, stats))
        for job_id, group in groups.items()
    }
    progress = Progress(config.show_progress)
    progress.add_total(len(pages))
    try:
        for failure in failures:
            logger.warning("%s", failure.error)
            if config.on_error == "include":
                yield _error_document(failure, 0)
        async for document in _emit(pages, config, stats, failures, tasks, progress):
            yield document
    finally:
        progress.close()
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
    stats.request_wall_s = stats.wall_s = time.perf_counter() - started_wall
    stats.process_cpu_s = time.process_time() - started_cpu
    if failures and config.on_error == "raise":
        raise QwenVLScanError(failures)


async def _settled(item: _Page, tasks: Mapping[str, asyncio.Task[None]]) -> None:
    """Wait for ``item``'s result; re-raise its job's error if the job failed first."""
    if item.ready is None or item.job_id is None:
        return
    await item.ready.wait()
    if item.entry is None and item.failure is None:
        await tasks[item.job_id]  # the job ended without this page: raises its error, if any


async def _emit(
    pages: list[_Page],
    config: PipelineConfig,
    stats: ScanRunStats,
    failures: list[ScanFailure],
    tasks: Mapping[str, asyncio.Task[None]],
    progress: Progress,
) -> AsyncGenerator[Document, None]:
    pending: list[Document] = []
    for item in pages:
        await _settled(item, tasks)
        stats.pages_done += 1
        progress.advance(stats.input_tokens + stats.output_tokens)
        if item.failure is None and item.entry is None:
            item.failure = ScanFailure(
                item.file.name,
                item.page,
                QwenVLScanInputError(
                    f"{item.file.name}: page {item.page}: no batch result came back",
                    source=item.file.name,
                    page=item.page,
                ),
            )
        if item.failure is not None:
            stats.pages_failed += 1
            failures.append(item.failure)
            logger.warning("%s", item.failure.error)
            document: Document | None = None
            if config.on_error == "include":
                document = _error_document(item.failure, item.file.total_pages)
        else:
            assert item.entry is not None
            meta = _metadata(item.file, item.page, item.entry, config.output, item.cached)
            document = Document(item.entry.text, metadata=meta)
        if config.mode == "page":
            if document is not None:
                yield document
        else:
            if document is not None:
                pending.append(document)
            if item.page == item.file.total_pages - 1:
                yield _join(pending, item.file, config)
                pending = []
