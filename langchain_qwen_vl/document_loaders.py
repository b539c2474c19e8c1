"""Scanned documents -> LangChain Documents, one per page, transcribed by Qwen3-VL.

:class:`QwenVLScanLoader` takes a path, a list of paths (or blobs), a directory or a glob;
:class:`QwenVLScanParser` does the work on :class:`~langchain_core.documents.Blob` objects
(files or in-memory bytes) and plugs into LangChain's ``GenericLoader``. PDFs are rendered
page by page with pypdfium2 (the ``pdf`` extra); PNG, JPEG, TIFF (multi-page too), WEBP, BMP
and GIF files are read with Pillow. Each page becomes a Document whose text is the page in
Markdown (tables as Markdown tables, reading order kept) or plain text, with metadata:

============== ==========================================================================
``source``      the file path (or the blob's source)
``page``        0-based page number, like LangChain's PDF loaders
``total_pages`` pages in the file
``model``       the model that answered (``response_metadata["model_name"]``)
``input_tokens``, ``output_tokens``, ``total_tokens``   usage billed for the page
``image_width``, ``image_height``, ``image_mime_type``  the page image sent
``dpi``         render resolution (PDF pages only)
``cached``      True when the text came from the cache (no request made)
``truncated``   True when the answer hit ``max_tokens``
``error``       only on a failed page/file: what failed and where (``page_content`` is "")
============== ==========================================================================

See ``docs/scans.md`` for the pipeline, the DPI/token trade-off and the measured figures.
"""

from __future__ import annotations

import contextlib
import os
import urllib.parse
from collections.abc import AsyncGenerator, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from langchain_core.document_loaders import BaseBlobParser, BaseLoader, Blob
from langchain_core.documents import Document
from langchain_core.language_models import BaseChatModel
from langchain_core.rate_limiters import BaseRateLimiter
from langchain_core.runnables import Runnable, RunnableBinding
from langchain_core.stores import ByteStore
from typing_extensions import Unpack

from langchain_qwen_vl._extras import install_hint
from langchain_qwen_vl._scan_batch import BatchRun, batch_run_for, run_batch_pipeline
from langchain_qwen_vl._scan_cache import PageCache, page_cache_key
from langchain_qwen_vl._scan_errors import QwenVLScanError, QwenVLScanInputError, ScanFailure
from langchain_qwen_vl._scan_estimate import PageCostEstimate, ScanCostEstimate, estimate_blobs
from langchain_qwen_vl._scan_inputs import SCAN_SUFFIXES, ScanPath, resolve_scan_paths
from langchain_qwen_vl._scan_options import (
    ScanParserOptions,
    check_cache_and_batch,
    check_choice,
    check_positive,
    has_tqdm,
)
from langchain_qwen_vl._scan_pipeline import PipelineConfig, ScanRunStats, run_pipeline
from langchain_qwen_vl._scan_render import RenderSettings
from langchain_qwen_vl._scan_sync import iterate_in_background_loop, stderr_is_interactive
from langchain_qwen_vl.errors import QwenVLInputError
from langchain_qwen_vl.media import (
    MIN_PIXELS,
    check_pixel_count,
    effective_max_pixels,
)

__all__ = [
    "MARKDOWN_PROMPT",
    "SCAN_SUFFIXES",
    "TEXT_PROMPT",
    "PageCostEstimate",
    "QwenVLScanError",
    "QwenVLScanInputError",
    "QwenVLScanLoader",
    "QwenVLScanParser",
    "ScanCostEstimate",
    "ScanFailure",
    "ScanRunStats",
]

MARKDOWN_PROMPT = """\
Transcribe this scanned page into Markdown.
- Keep the reading order of the page: top to bottom, columns left to right.
- Headings as Markdown headings, lists as lists, tables as Markdown tables with every row \
and column (repeat the value of a merged cell).
- Copy the wording, numbers, dates and language exactly: do not translate, summarise or correct.
- Stamps, signatures, logos and handwriting: a short note in square brackets where they are, \
e.g. [stamp: APPROVED 2025-10-14], [signature].
- Output only the transcription: no commentary, no code fences.
- A page with no text: output nothing."""
"""Default prompt of ``output="markdown"``."""

TEXT_PROMPT = """\
Transcribe all text on this scanned page as plain text.
- Keep the reading order of the page: top to bottom, columns left to right; one line per line.
- Tables: one line per row, cells separated by " | ".
- Copy the wording, numbers, dates and language exactly: do not translate, summarise or correct.
- No Markdown, no commentary, no code fences. A page with no text: output nothing."""
"""Default prompt of ``output="text"``."""

DEFAULT_PAGE_MAX_TOKENS = 4096
_REQUEST_FIELDS = (
    "wire_format",
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "presence_penalty",
    "thinking_budget",
)


def _unwrap(llm: Runnable[Any, Any]) -> tuple[Any, dict[str, Any]]:
    """The chat model inside ``llm`` and the kwargs bound around it (``llm.bind(...)``)."""
    kwargs: dict[str, Any] = {}
    while isinstance(llm, RunnableBinding):
        kwargs = {**llm.kwargs, **kwargs}
        llm = llm.bound
    return llm, kwargs


class QwenVLScanParser(BaseBlobParser):
    """Transcribe scanned PDFs and page images into one Document per page with Qwen3-VL.

    Setup:
        The ``pdf`` and ``progress`` extras (pypdfium2 renders PDFs, tqdm draws the progress
        bar; both optional; see the README's Install section).

    Instantiate:
        .. code-block:: python

            from langchain_core.document_loaders import Blob
            from langchain_qwen_vl import ChatQwenVL
            from langchain_qwen_vl.document_loaders import QwenVLScanParser

            parser = QwenVLScanParser(ChatQwenVL(), cache_dir=".scan-cache")
            docs = parser.parse(Blob.from_path("invoice.pdf"))
            docs[0].metadata["page"], docs[0].page_content[:80]

    Key args:
        llm: the chat model (``ChatQwenVL(...)``; any LangChain chat model taking image blocks).
        output: ``"markdown"`` (default; tables as Markdown tables) or ``"text"``.
        prompt: overrides the output mode's prompt (:data:`MARKDOWN_PROMPT`, :data:`TEXT_PROMPT`).
        mode: ``"page"`` (a Document per page) or ``"single"`` (one per file, pages joined with
            ``page_separator``).
        max_concurrency: pages between "rendering starts" and "answer received" (default 8):
            at most that many page images exist. Finished pages may wait for a slower earlier
            page in a buffer of 4 x max_concurrency; Documents come out in page order.
        cache_dir: directory of finished pages; a re-run re-bills none of them. Off when None.
        cache_store: any LangChain ``ByteStore`` instead of ``cache_dir`` (``InMemoryByteStore``,
            a Redis/S3/database store) so workers share one cache; keys in ``docs/scans.md``.
        use_batch_api: transcribe through DashScope's Batch API (half price, results within
            the completion window) instead of real-time calls; see ``docs/batch.md``. Needs a
            ``ChatQwenVL``; with a cache a crashed run resumes its jobs (no page billed twice).
        batch_options: keyword arguments of ``QwenVLBatch`` (``media_url``,
            ``completion_window``, ...). batch_poll_interval / batch_timeout: how results wait.
        show_progress: tqdm bar (pages, tokens); None = only on an interactive terminal.
        on_error: ``"include"`` yields a failed page/file as a Document with
            ``metadata["error"]``; ``"raise"`` yields the good pages, then raises
            :class:`QwenVLScanError` listing the failures. Other files go on either way.
        max_tokens: output cap per page (default: the model's, else 4096).
        enable_thinking: False by default — thinking multiplies output tokens, not accuracy.
        max_tokens_per_minute: pace requests under a TPM quota (1,000,000 for qwen3-vl-flash);
            each page reserves its estimated input + ``max_tokens`` and is settled on usage.
        rate_limiter: a ``langchain_core`` rate limiter, acquired once per page request.

    Rendering args:
        dpi: fixed render DPI. Default None: the largest DPI that fits ``max_pixels`` (≈164 for
            A4 at the default cap), at most ``max_dpi`` (300) and at most a scanned page's own.
        max_pixels / min_pixels: pixel budget per page image (default: the model's, else
            2,621,440 ≈ 2,560 tokens). Tokens grow with DPI²: halving ``max_pixels`` halves
            the image tokens, and small print gets harder to read.
        image_format: ``"auto"`` (JPEG; 1-bit PNG for bilevel images), ``"jpeg"`` or ``"png"``.
        jpeg_quality: default 85. grayscale: ``"auto"`` sends pages without colour as grey.
        passthrough: send a scanned page's embedded JPEG as is (resized only over the cap).
        pdf_password: for encrypted PDFs. reopen_every: reopen a PDF every N pages (memory).
    """

    def __init__(
        self,
        llm: BaseChatModel | Runnable[Any, Any],
        *,
        output: Literal["markdown", "text"] = "markdown",
        prompt: str | None = None,
        mode: Literal["page", "single"] = "page",
        page_separator: str = "\n\n",
        max_concurrency: int = 8,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool | None = None,
        on_error: Literal["include", "raise"] = "include",
        cache_store: ByteStore | None = None,
        use_batch_api: bool = False,
        batch_options: Mapping[str, Any] | None = None,
        batch_poll_interval: float = 60.0,
        batch_timeout: float | None = None,
        max_tokens: int | None = None,
        enable_thinking: bool = False,
        max_tokens_per_minute: int | None = None,
        rate_limiter: BaseRateLimiter | None = None,
        dpi: float | None = None,
        max_dpi: float = 300.0,
        max_pixels: int | None = None,
        min_pixels: int | None = None,
        image_format: Literal["auto", "jpeg", "png"] = "auto",
        jpeg_quality: int = 85,
        grayscale: bool | Literal["auto"] = "auto",
        passthrough: bool = True,
        pdf_password: str | None = None,
        reopen_every: int = 32,
    ) -> None:
        check_choice("output", output, ("markdown", "text"))
        check_choice("mode", mode, ("page", "single"))
        check_choice("on_error", on_error, ("include", "raise"))
        check_choice("image_format", image_format, ("auto", "jpeg", "png"))
        check_choice("grayscale", grayscale, (True, False, "auto"))
        check_positive("max_concurrency", max_concurrency, integer=True)
        check_positive("reopen_every", reopen_every, integer=True)
        check_positive("max_dpi", max_dpi)
        optional_counts: dict[str, int | None] = {
            "max_tokens": max_tokens,
            "max_tokens_per_minute": max_tokens_per_minute,
            "max_pixels": max_pixels,
            "min_pixels": min_pixels,
        }
        for name, value in optional_counts.items():
            if value is not None:
                check_positive(name, value, integer=True)
        if dpi is not None:
            check_positive("dpi", dpi)
        if not 1 <= jpeg_quality <= 95:
            raise QwenVLInputError(f"jpeg_quality={jpeg_quality!r}: use 1-95 (default 85).")
        for name, value in (("max_pixels", max_pixels), ("min_pixels", min_pixels)):
            if value is not None:
                check_pixel_count(name, value, "QwenVLScanLoader")
        if rate_limiter is not None and not isinstance(rate_limiter, BaseRateLimiter):
            raise QwenVLInputError(
                "rate_limiter: pass a langchain_core.rate_limiters.BaseRateLimiter, e.g. "
                "InMemoryRateLimiter(requests_per_second=5)."
            )
        self.llm = llm
        self.output = output
        self.prompt = (
            prompt
            if prompt is not None
            else (MARKDOWN_PROMPT if output == "markdown" else TEXT_PROMPT)
        )
        self.mode = mode
        self.page_separator = page_separator
        self.max_concurrency = max_concurrency
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir is not None else None
        check_cache_and_batch(cache_dir, cache_store, batch_poll_interval, batch_timeout)
        self.cache_store = cache_store
        self.use_batch_api = use_batch_api
        self.batch_options = dict(batch_options or {})
        self.batch_poll_interval = batch_poll_interval
        self.batch_timeout = batch_timeout
        self.show_progress = show_progress
        self.on_error = on_error
        self.enable_thinking = enable_thinking
        self.max_tokens_per_minute = max_tokens_per_minute
        self.rate_limiter = rate_limiter
        self.reopen_every = reopen_every
        model, bound_kwargs = _unwrap(llm)
        self._model = model
        fields = set(getattr(type(model), "model_fields", {}))
        self._model_fields = fields
        self.max_tokens = (
            max_tokens
            or bound_kwargs.get("max_tokens")
            or getattr(model, "max_tokens", None)
            or DEFAULT_PAGE_MAX_TOKENS
        )
        high_res = bool(
            bound_kwargs.get(
                "vl_high_resolution_images", getattr(model, "vl_high_resolution_images", False)
            )
        )
        model_cap = effective_max_pixels(
            bound_kwargs.get("max_pixels", getattr(model, "max_pixels", None)), high_res
        )
        self._image_block_extra: dict[str, Any] = {}
        if (
            max_pixels is not None
            and "max_pixels" in fields
            and not high_res
            and max_pixels != model_cap
        ):
            self._image_block_extra["max_pixels"] = max_pixels
        floor = (
            min_pixels
            or bound_kwargs.get("min_pixels")
            or getattr(model, "min_pixels", None)
            or MIN_PIXELS
        )
        if min_pixels is not None and "min_pixels" in fields:
            self._image_block_extra["min_pixels"] = min_pixels
        self.settings = RenderSettings(
            max_pixels=max_pixels if max_pixels is not None and not high_res else model_cap,
            min_pixels=floor,
            dpi=dpi,
            max_dpi=max_dpi,
            image_format=image_format,
            jpeg_quality=jpeg_quality,
            grayscale=grayscale,
            passthrough=passthrough,
            pdf_password=pdf_password,
        )
        #: Counters of the current or last run (pages, tokens, CPU per stage), or None.
        self.last_run_stats: ScanRunStats | None = None

    # --- configuration ---------------------------------------------------------------------

    @property
    def model_name(self) -> str:
        """The model id used in the cache key and as fallback ``metadata["model"]``."""
        model = self._model
        return str(
            getattr(model, "model", None)
            or getattr(model, "model_name", None)
            or type(model).__name__
        )

    def _cache(self) -> PageCache | None:
        if self.cache_store is not None:
            return PageCache(self.cache_store)
        return PageCache(self.cache_dir) if self.cache_dir is not None else None

    def _batch_run(self) -> BatchRun:
        """The Batch API client for ``use_batch_api`` (built per run; fails before any I/O)."""
        model, bound_kwargs = _unwrap(self.llm)
        call = {**bound_kwargs, "enable_thinking": self.enable_thinking}
        call["max_tokens"] = self.max_tokens
        return batch_run_for(
            model, call, self.batch_options, self.batch_poll_interval, self.batch_timeout
        )

    def _bound_llm(self) -> Runnable[Any, Any]:
        call: dict[str, Any] = {}
        if "enable_thinking" in self._model_fields:
            call["enable_thinking"] = self.enable_thinking
        if "max_tokens" in self._model_fields:
            call["max_tokens"] = self.max_tokens
        return self.llm.bind(**call) if call else self.llm

    def _request_fields(self) -> dict[str, Any]:
        model, bound_kwargs = _unwrap(self.llm)
        fields = {name: getattr(model, name, None) for name in _REQUEST_FIELDS}
        # The host, not the port: answers of a local emulator (a new port each run) must not be
        # mistaken for the service's, yet a re-run against the same emulator should hit.
        endpoint = getattr(model, "resolved_base_url", None) or getattr(model, "base_url", None)
        fields["endpoint"] = (
            urllib.parse.urlsplit(endpoint).hostname if isinstance(endpoint, str) else None
        )
        fields["llm_type"] = getattr(model, "_llm_type", type(model).__name__)
        fields["enable_thinking"] = self.enable_thinking
        fields["bound"] = {
            k: v for k, v in sorted(bound_kwargs.items()) if k not in ("max_tokens",)
        }
        return fields

    def _config(self) -> PipelineConfig:
        show = self.show_progress
        if show is None:
            show = stderr_is_interactive() and has_tqdm()
        elif show and not has_tqdm():
            raise ImportError(f"show_progress=True needs tqdm: {install_hint('progress')}")
        return PipelineConfig(
            llm=self._bound_llm(),
            model=self.model_name,
            prompt=self.prompt,
            output=self.output,
            settings=self.settings,
            max_tokens=self.max_tokens,
            image_block_extra=dict(self._image_block_extra),
            max_concurrency=self.max_concurrency,
            cache=self._cache(),
            cache_request_fields=self._request_fields(),
            rate_limiter=self.rate_limiter,
            max_tokens_per_minute=self.max_tokens_per_minute,
            on_error=self.on_error,
            mode=self.mode,
            page_separator=self.page_separator,
            show_progress=show,
            reopen_every=self.reopen_every,
            prompt_tokens=len(self.prompt) // 3 + 12,
        )

    # --- parsing -------------------------------------------------------------------------------

    async def aparse_blobs(self, blobs: Iterable[Blob]) -> AsyncGenerator[Document, None]:
        """Transcribe several blobs as one pipeline (the window spans file boundaries)."""
        stats = ScanRunStats()
        self.last_run_stats = stats
        pipeline = (
            run_batch_pipeline(blobs, self._config(), stats, self._batch_run())
            if self.use_batch_api
            else run_pipeline(blobs, self._config(), stats)
        )
        async with contextlib.aclosing(pipeline) as documents:
            async for document in documents:
                yield document

    def parse_blobs(self, blobs: Iterable[Blob]) -> Iterator[Document]:
        """Sync :meth:`aparse_blobs`: works with or without a running event loop."""
        close = getattr(self._model, "aclose", None)
        # The pipeline's private loop gets its own HTTP client from ChatQwenVL; close it there.
        yield from iterate_in_background_loop(lambda: self.aparse_blobs(blobs), on_exit=close)

    def lazy_parse(self, blob: Blob) -> Iterator[Document]:
        """Documents of one blob, in page order, while later pages are still in flight."""
        yield from self.parse_blobs([blob])

    async def alazy_parse(self, blob: Blob) -> AsyncGenerator[Document, None]:
        """Async :meth:`lazy_parse`, run on the caller's event loop."""
        async with contextlib.aclosing(self.aparse_blobs([blob])) as documents:
            async for document in documents:
                yield document

    # --- dry run ----------------------------------------------------------------------------

    def estimate_cost(self, blobs: Blob | Iterable[Blob]) -> ScanCostEstimate:
        """Pages and estimated input tokens of ``blobs``, without rendering or any API call.

        Example:
            >>> parser.estimate_cost(Blob.from_path("scan.pdf"))  # doctest: +SKIP
            ScanCostEstimate(files=1, pages=4, cached_pages=0, input_tokens=8,720, ...)
        """
        cache = self._cache()
        request_fields = self._request_fields()

        def key_for(file_hash: str, page: int) -> str:
            return page_cache_key(
                file_hash=file_hash, page=page, model=self.model_name, prompt=self.prompt,
                output=self.output, render=self.settings.cache_fields(),
                max_tokens=self.max_tokens, request=request_fields,
            )  # fmt: skip

        return estimate_blobs(
            [blobs] if isinstance(blobs, Blob) else list(blobs),
            settings=self.settings,
            reopen_every=self.reopen_every,
            cache=cache,
            key_for=key_for,
            prompt_tokens=len(self.prompt) // 3 + 12,
            max_tokens=self.max_tokens,
        )


class QwenVLScanLoader(BaseLoader):
    """Load scanned PDFs and page images from paths, a directory or a glob, one Document per page.

    Instantiate:
        .. code-block:: python

            from langchain_qwen_vl import ChatQwenVL
            from langchain_qwen_vl.document_loaders import QwenVLScanLoader

            loader = QwenVLScanLoader(
                "scans/**/*.pdf",            # a path, a list of paths/blobs, a directory or a glob
                llm=ChatQwenVL(),
                max_concurrency=8,
                cache_dir=".scan-cache",     # a re-run bills zero finished pages
            )
            print(loader.estimate_cost())   # dry run: pages and input tokens, no API call
            for doc in loader.lazy_load():  # in page order, later pages in flight
                print(doc.metadata["source"], doc.metadata["page"], doc.page_content[:60])

    Async: ``async for doc in loader.alazy_load()`` runs on the caller's event loop.

    Directories are walked (``recursive=True``) for :data:`SCAN_SUFFIXES`, hidden files skipped;
    a glob takes every file it matches. A missing or unreadable file is a failure like any other
    (see ``on_error``), so the other files are still processed. Every option of
    :class:`QwenVLScanParser` is accepted as a keyword.
    """

    def __init__(
        self,
        file_path: ScanPath | Blob | Sequence[ScanPath | Blob],
        *,
        llm: BaseChatModel | Runnable[Any, Any],
        max_concurrency: int = 8,
        cache_dir: str | os.PathLike[str] | None = None,
        show_progress: bool | None = None,
        recursive: bool = True,
        **options: Unpack[ScanParserOptions],
    ) -> None:
        self.file_path = file_path
        self.recursive = recursive
        self.parser = QwenVLScanParser(
            llm,
            max_concurrency=max_concurrency,
            cache_dir=cache_dir,
            show_progress=show_progress,
            **options,
        )

    @property
    def last_run_stats(self) -> ScanRunStats | None:
        """Counters of the current or last run (pages, tokens, CPU per stage)."""
        return self.parser.last_run_stats

    def blobs(self) -> list[Blob]:
        """The inputs, resolved to blobs in a stable order (directories and globs sorted)."""
        items: Sequence[ScanPath | Blob]
        if isinstance(self.file_path, (str, os.PathLike, Blob)):
            items = [self.file_path]
        else:
            items = self.file_path
        blobs: list[Blob] = []
        for item in items:
            if isinstance(item, Blob):
                blobs.append(item)
            else:
                blobs.extend(
                    Blob.from_path(path)
                    for path in resolve_scan_paths(item, recursive=self.recursive)
                )
        return blobs

    def lazy_load(self) -> Iterator[Document]:
        """Documents in file and page order; works from sync code and inside a running loop."""
        yield from self.parser.parse_blobs(self.blobs())

    async def alazy_load(self) -> AsyncGenerator[Document, None]:
        """Async :meth:`lazy_load` on the caller's event loop."""
        async with contextlib.aclosing(self.parser.aparse_blobs(self.blobs())) as documents:
            async for document in documents:
                yield document

    def estimate_cost(self) -> ScanCostEstimate:
        """Dry run: pages and estimated input tokens of every input, without any API call."""
        return self.parser.estimate_cost(self.blobs())
