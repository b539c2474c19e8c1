"""The async page pipeline behind the scan loader, and the bridge that drives it from sync code.

Per page: cache lookup -> render (the one PDFium thread) -> encode (a worker thread) -> token
budget and rate limiter -> ``llm.ainvoke`` -> cache write. Pages enter the pipeline in order,
under two limits:

- ``max_concurrency`` pages between "rendering starts" and "answer received": so at most that
  many page images exist, and rendering never runs further ahead of the API than the window;
- ``REORDER_FACTOR x max_concurrency`` pages between "entered" and "handed to the caller": a
  finished page (a few KB of text) may wait for a slower earlier page without stalling the
  requests behind it (no head-of-line blocking), yet a stuck page cannot make the buffer grow
  without bound.

Documents come out in file and page order.

Sync callers get the same pipeline through :func:`iterate_in_background_loop`: an event loop
in a private thread runs it, and each Document crosses over through a queue with a hand-back
credit, so a slow consumer pauses the pipeline instead of letting results pile up. This works
from plain scripts, from threads without an event loop, and from code already inside a running
loop (Jupyter), because the caller's loop is never touched.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncGenerator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from langchain_core.document_loaders import Blob
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import Runnable

from langchain_qwen_vl._scan_cache import CachedPage, PageCache, page_cache_key
from langchain_qwen_vl._scan_encode import EncodedPage, encode_page, prepared_image
from langchain_qwen_vl._scan_errors import QwenVLScanError, QwenVLScanInputError, ScanFailure
from langchain_qwen_vl._scan_inputs import blob_name, hash_blob, open_blob
from langchain_qwen_vl._scan_pacing import TokenBudget
from langchain_qwen_vl._scan_render import (
    RawPage,
    RenderSettings,
    ScanSource,
    pdfium_executor,
)
from langchain_qwen_vl._scan_sync import Progress
from langchain_qwen_vl.errors import QwenVLError
from langchain_qwen_vl.media import image_tokens_for_size, prepared_block

__all__ = [
    "PipelineConfig",
    "ScanRunStats",
    "page_message",
    "run_pipeline",
]

logger = logging.getLogger("langchain_qwen_vl.document_loaders")
#: Finished pages may wait for an earlier page up to this many times ``max_concurrency``.
REORDER_FACTOR = 4
T = TypeVar("T")
_FENCE = re.compile(r"\A\s*```[A-Za-z]*[ \t]*\n(?P<body>.*?)\n?```\s*\Z", re.DOTALL)


@dataclass(slots=True)
class ScanRunStats:
    """Live counters of one run; CPU times are per stage, ``request_wall_s`` is API wait."""

    pages_total: int = 0
    pages_done: int = 0
    pages_cached: int = 0
    pages_failed: int = 0
    files: int = 0
    requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    bytes_sent: int = 0
    render_cpu_s: float = 0.0
    encode_cpu_s: float = 0.0
    request_wall_s: float = 0.0
    budget_wait_s: float = 0.0
    process_cpu_s: float = 0.0
    wall_s: float = 0.0
    how: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Everything the pipeline needs, resolved once per run by the parser."""

    llm: Runnable[Any, BaseMessage]
    model: str
    prompt: str
    output: str
    settings: RenderSettings
    max_tokens: int
    image_block_extra: Mapping[str, Any]
    max_concurrency: int
    cache: PageCache | None
    cache_request_fields: Mapping[str, Any]
    rate_limiter: BaseRateLimiter | None
    max_tokens_per_minute: int | None
    on_error: Literal["include", "raise"]
    mode: Literal["page", "single"]
    page_separator: str
    show_progress: bool
    reopen_every: int
    prompt_tokens: int


@dataclass(slots=True)
class _FileContext:
    number: int
    name: str
    total_pages: int
    file_hash: str | None


@dataclass(slots=True)
class _PageResult:
    file: _FileContext
    page: int | None
    document: Document | None = None
    failure: ScanFailure | None = None
    tokens: int = 0


def _strip_fence(text: str) -> str:
    """Models sometimes wrap the whole transcription in a code fence; drop that one fence."""
    match = _FENCE.match(text)
    return (match.group("body") if match else text).strip()


def _metadata(
    file: _FileContext, page: int, entry: CachedPage, output: str, cached: bool
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "source": file.name,
        "page": page,
        "total_pages": file.total_pages,
        "model": entry.model,
        "output": output,
        "image_width": entry.image_width,
        "image_height": entry.image_height,
        "image_mime_type": entry.image_mime_type,
        "cached": cached,
    }
    if entry.dpi is not None:
        meta["dpi"] = entry.dpi
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        value = getattr(entry, key)
        if value is not None:
            meta[key] = value
    if entry.finish_reason == "length":
        meta["truncated"] = True
    return meta


def _error_document(failure: ScanFailure, total_pages: int) -> Document:
    meta: dict[str, Any] = {"source": failure.source, "total_pages": total_pages}
    if failure.page is not None:
        meta["page"] = failure.page
    meta["error"] = str(failure.error)
    # A page wrapper names the page; the model's own error (its cause) names what went wrong.
    cause = failure.error.__cause__
    real = cause if isinstance(cause, QwenVLError) else failure.error
    meta["error_type"] = type(real).__name__
    for key, attr in (("error_status", "status_code"), ("error_code", "code"), ("request_id",) * 2):
        if getattr(real, attr, None) is not None:
            meta[key] = getattr(real, attr)
    return Document(page_content="", metadata=meta)


def page_message(encoded: EncodedPage, config: PipelineConfig) -> HumanMessage:
    """The request message of one page: the prompt and the page image (pure).

    The page is handed over prepared: the chat model sends its data URI as it is, without
    decoding or sniffing it again."""
    image = prepared_block(prepared_image(encoded, None), **config.image_block_extra)
    return HumanMessage(content=[{"type": "text", "text": config.prompt}, image])


async def _transcribe(
    encoded: EncodedPage, config: PipelineConfig, budget: TokenBudget | None, stats: ScanRunStats
) -> CachedPage:
    estimate = image_tokens_for_size(
        encoded.height,
        encoded.width,
        max_pixels=config.settings.max_pixels,
        min_pixels=config.settings.min_pixels,
    )
    reservation = (
        await budget.acquire(estimate + config.prompt_tokens + config.max_tokens)
        if budget
        else None
    )
    if config.rate_limiter is not None:
        await config.rate_limiter.aacquire()
    message = page_message(encoded, config)
    started = time.perf_counter()
    stats.requests += 1
    stats.bytes_sent += len(encoded.url)
    try:
        answer = await config.llm.ainvoke([message])
    finally:
        stats.request_wall_s += time.perf_counter() - started
    usage = getattr(answer, "usage_metadata", None) or {}
    if budget is not None and reservation is not None:
        budget.settle(reservation, usage.get("total_tokens"))
    response_metadata = getattr(answer, "response_metadata", None) or {}
    finish_reason = response_metadata.get("finish_reason")
    return CachedPage(
        text=_strip_fence(answer.text),
        model=str(response_metadata.get("model_name") or config.model),
        input_tokens=usage.get("input_tokens"),
        output_tokens=usage.get("output_tokens"),
        total_tokens=usage.get("total_tokens"),
        image_width=encoded.width,
        image_height=encoded.height,
        image_mime_type=encoded.mime_type,
        dpi=encoded.dpi,
        finish_reason=str(finish_reason) if finish_reason else None,
    )


async def _process_page(
    rendering: asyncio.Future[RawPage],
    file: _FileContext,
    page: int,
    key: str | None,
    config: PipelineConfig,
    budget: TokenBudget | None,
    stats: ScanRunStats,
) -> _PageResult:
    try:
        raw = await rendering
        stats.render_cpu_s += raw.render_cpu_s
        encoded = await asyncio.to_thread(encode_page, raw, config.settings, name=file.name)
        del raw
        stats.encode_cpu_s += encoded.encode_cpu_s
        stats.how[encoded.how] = stats.how.get(encoded.how, 0) + 1
        entry = await _transcribe(encoded, config, budget, stats)
    except (asyncio.CancelledError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # one page failing must not stop the others
        return _PageResult(
            file, page, failure=ScanFailure(file.name, page, _name_page(exc, file, page))
        )
    if entry.finish_reason == "length":
        logger.warning(
            "%s page %d: the transcription hit max_tokens=%d and is cut short (metadata "
            "truncated=True) — raise max_tokens.",
            file.name,
            page,
            config.max_tokens,
        )
    if config.cache is not None and key is not None:
        try:
            await asyncio.to_thread(config.cache.put, key, entry)
        except OSError as exc:
            logger.warning(
                "could not write the scan cache entry for %s page %d: %s", file.name, page, exc
            )
    stats.input_tokens += entry.input_tokens or 0
    stats.output_tokens += entry.output_tokens or 0
    return _PageResult(
        file,
        page,
        Document(entry.text, metadata=_metadata(file, page, entry, config.output, False)),
    )


def _name_page(exc: Exception, file: _FileContext, page: int) -> Exception:
    """Errors from the model do not know the file: say which page they belong to."""
    if isinstance(exc, QwenVLScanInputError):
        return exc
    wrapped = QwenVLScanInputError(
        f"{file.name}: page {page} failed: {type(exc).__name__}: {exc}", source=file.name, page=page
    )
    wrapped.__cause__ = exc
    return wrapped


async def run_pipeline(
    blobs: Iterable[Blob], config: PipelineConfig, stats: ScanRunStats
) -> AsyncGenerator[Document, None]:
    """Transcribe every page of ``blobs``, yielding Documents in file and page order."""
    loop = asyncio.get_running_loop()
    inflight = asyncio.Semaphore(config.max_concurrency)
    slots = asyncio.Semaphore(REORDER_FACTOR * config.max_concurrency)
    order: asyncio.Queue[asyncio.Future[_PageResult] | None] = asyncio.Queue()
    tasks: set[asyncio.Future[_PageResult]] = set()
    budget = TokenBudget(config.max_tokens_per_minute) if config.max_tokens_per_minute else None
    progress = Progress(config.show_progress)
    started_wall, started_cpu = time.perf_counter(), time.process_time()

    def _open(blob: Blob, name: str) -> ScanSource:
        password, every = config.settings.pdf_password, config.reopen_every
        return open_blob(blob, name, password=password, reopen_every=every)

    def done(result: _PageResult) -> asyncio.Future[_PageResult]:
        future: asyncio.Future[_PageResult] = loop.create_future()
        future.set_result(result)
        return future

    async def produce() -> None:
        for number, blob in enumerate(blobs):
            name = blob_name(blob, number)
            stats.files += 1
            await slots.acquire()
            try:
                source = await loop.run_in_executor(pdfium_executor(), _open, blob, name)
                file_hash = await asyncio.to_thread(hash_blob, blob) if config.cache else None
            except (QwenVLScanInputError, OSError) as exc:  # anything else is a bug: raise it
                failure = ScanFailure(name, None, exc)
                await order.put(
                    done(_PageResult(_FileContext(number, name, 0, None), None, failure=failure))
                )
                continue
            slots.release()
            file = _FileContext(number, name, source.total_pages, file_hash)
            stats.pages_total += file.total_pages
            progress.add_total(file.total_pages)
            try:
                for page in range(file.total_pages):
                    await slots.acquire()
                    key = None
                    if config.cache is not None and file_hash is not None:
                        key = page_cache_key(
                            file_hash=file_hash,
                            page=page,
                            model=config.model,
                            prompt=config.prompt,
                            output=config.output,
                            render=config.settings.cache_fields(),
                            max_tokens=config.max_tokens,
                            request=config.cache_request_fields,
                        )
                        entry = await asyncio.to_thread(config.cache.get, key)
                        if entry is not None:
                            meta = _metadata(file, page, entry, config.output, True)
                            stats.pages_cached += 1
                            await order.put(
                                done(_PageResult(file, page, Document(entry.text, metadata=meta)))
                            )
                            continue
                    await inflight.acquire()
                    # Submitted here, not inside the task, so the PDFium thread sees the loads
                    # of a file in page order and always before that file's close().
                    rendering = loop.run_in_executor(
                        pdfium_executor(), source.load, page, config.settings
                    )
                    task = asyncio.ensure_future(
                        _process_page(rendering, file, page, key, config, budget, stats)
                    )
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    task.add_done_callback(lambda _: inflight.release())
                    await order.put(task)
            finally:
                pdfium_executor().submit(source.close)
        await order.put(None)

    producer = asyncio.ensure_future(produce())
    failures: list[ScanFailure] = []
    pending_pages: list[Document] = []
    try:
        while True:
            getter = asyncio.ensure_future(order.get())
            if not producer.done():
                await asyncio.wait({getter, producer}, return_when=asyncio.FIRST_COMPLETED)
            if (
                not getter.done()
                and producer.done()
                and (producer.cancelled() or producer.exception())
            ):
                getter.cancel()
                producer.result()  # the producer died: raise its exception here
            item = await getter
            if item is None:
                break
            result = await item
            slots.release()
            if result.page is not None:
                stats.pages_done += 1
                progress.advance(stats.input_tokens + stats.output_tokens)
            if result.failure is not None:
                stats.pages_failed += 1 if result.page is not None else 0
                failures.append(result.failure)
                logger.warning("%s", result.failure.error)
                if config.on_error == "include":
                    error_doc = _error_document(result.failure, result.file.total_pages)
                    if config.mode == "page" or result.page is None:
                        yield error_doc
                    else:
                        pending_pages.append(error_doc)
            elif result.document is not None:
                if config.mode == "page":
                    yield result.document
                else:
                    pending_pages.append(result.document)
            if (
                config.mode == "single"
                and result.page is not None
                and result.page == result.file.total_pages - 1
            ):
                yield _join(pending_pages, result.file, config)
                pending_pages = []
        if failures and config.on_error == "raise":
            raise QwenVLScanError(failures)
    finally:
        producer.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(producer, *tasks, return_exceptions=True)
        progress.close()
        stats.wall_s = time.perf_counter() - started_wall
        stats.process_cpu_s = time.process_time() - started_cpu
        stats.budget_wait_s = budget.waited_s if budget else 0.0


def _join(pages: list[Document], file: _FileContext, config: PipelineConfig) -> Document:
    """One Document per file (``mode="single"``): page texts joined, usage summed."""
    texts = [doc.page_content for doc in pages if "error" not in doc.metadata]
    meta: dict[str, Any] = {
        "source": file.name,
        "total_pages": file.total_pages,
        "output": config.output,
    }
    meta["model"] = next(
        (d.metadata["model"] for d in pages if "model" in d.metadata), config.model
    )
    for key in ("input_tokens", "output_tokens", "total_tokens"):
        values = [d.metadata[key] for d in pages if key in d.metadata]
        if values:
            meta[key] = sum(values)
    errors = [
        f"page {d.metadata.get('page')}: {d.metadata['error']}"
        for d in pages
        if "error" in d.metadata
    ]
    if errors:
        meta["error"] = "; ".join(errors)
        meta["failed_pages"] = [d.metadata.get("page") for d in pages if "error" in d.metadata]
    return Document(config.page_separator.join(texts), metadata=meta)
