"""The dry run: pages and estimated tokens of a set of inputs, without rendering or any request.

Each page's size is planned exactly as the pipeline would send it (pass-through size, or the
render size from the chosen DPI; the server's resize is applied by the token formula), so the
image tokens match what the service bills for the same page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.document_loaders import Blob

from langchain_qwen_vl._batch_limits import PRICE_SOURCE, cost_cny
from langchain_qwen_vl._scan_cache import PageCache
from langchain_qwen_vl._scan_errors import QwenVLScanInputError, ScanFailure
from langchain_qwen_vl._scan_inputs import blob_name, hash_blob, open_blob
from langchain_qwen_vl._scan_render import RenderSettings, pdfium_executor
from langchain_qwen_vl.media import image_tokens_for_size

__all__ = ["PageCostEstimate", "ScanCostEstimate", "estimate_blobs"]


@dataclass(frozen=True, slots=True)
class PageCostEstimate:
    """What one page would cost: the image size that would be sent and its input tokens."""

    source: str
    page: int
    width: int
    height: int
    dpi: float | None
    image_tokens: int
    cached: bool


@dataclass(frozen=True, slots=True)
class ScanCostEstimate:
    """A dry run: pages and estimated tokens, computed without rendering or calling the API.

    ``input_tokens`` is what the pages not yet cached would send (image + prompt, by the
    formula of the service); ``max_output_tokens`` the ceiling ``max_tokens`` puts on the output.
    """

    files: int
    pages: int
    cached_pages: int
    input_tokens: int
    max_output_tokens: int
    pages_detail: list[PageCostEstimate] = field(repr=False)
    failures: list[ScanFailure] = field(default_factory=list)

    @property
    def realtime_cost_cny(self) -> float:
        """Upper bound in CNY at the real-time price (input + ``max_output_tokens``)."""
        return cost_cny(self.input_tokens, self.max_output_tokens, batch=False)

    @property
    def batch_cost_cny(self) -> float:
        """The same at the Batch API price (half of real-time, successful requests only)."""
        return cost_cny(self.input_tokens, self.max_output_tokens, batch=True)

    def __str__(self) -> str:
        todo = self.pages - self.cached_pages
        text = (
            f"{self.files} file(s), {self.pages} page(s) ({self.cached_pages} cached): "
            f"{todo} request(s), ~{self.input_tokens:,} input tokens, at most "
            f"{self.max_output_tokens:,} output tokens"
        )
        text += (
            f"; cost ≈ ¥{self.realtime_cost_cny:.4f} real-time, ¥{self.batch_cost_cny:.4f} "
            f"with use_batch_api (half; both with every output token used; {PRICE_SOURCE})"
        )
        if self.failures:
            text += f"; {len(self.failures)} unreadable: " + "; ".join(map(str, self.failures))
        return text


def _planned_sizes(
    blob: Blob, name: str, settings: RenderSettings, reopen_every: int
) -> list[tuple[int, int, float | None]]:
    source = open_blob(blob, name, password=settings.pdf_password, reopen_every=reopen_every)
    try:
        return [source.planned_size(page, settings) for page in range(source.total_pages)]
    finally:
        source.close()


def estimate_blobs(
    blobs: Sequence[Blob],
    *,
    settings: RenderSettings,
    reopen_every: int,
    cache: PageCache | None,
    key_for: Callable[[str, int], str],
    prompt_tokens: int,
    max_tokens: int,
) -> ScanCostEstimate:
    """Plan every page of ``blobs`` (on the PDFium thread) and add up the tokens."""
    details: list[PageCostEstimate] = []
    failures: list[ScanFailure] = []
    for number, blob in enumerate(blobs):
        name = blob_name(blob, number)
        try:
            sizes = pdfium_executor().submit(_planned_sizes, blob, name, settings, reopen_every)
            planned = sizes.result()
        except (QwenVLScanInputError, OSError) as exc:
            failures.append(ScanFailure(name, getattr(exc, "page", None), exc))
            continue
        file_hash = hash_blob(blob) if cache is not None else None
        for page, (width, height, dpi) in enumerate(planned):
            cached = (
                cache is not None and file_hash is not None and key_for(file_hash, page) in cache
            )
            tokens = image_tokens_for_size(
                height, width, max_pixels=settings.max_pixels, min_pixels=settings.min_pixels
            )
            details.append(PageCostEstimate(name, page, width, height, dpi, tokens, cached))
    todo = [d for d in details if not d.cached]
    return ScanCostEstimate(
        files=len(blobs),
        pages=len(details),
        cached_pages=len(details) - len(todo),
        input_tokens=sum(d.image_tokens + prompt_tokens for d in todo),
        max_output_tokens=len(todo) * max_tokens,
        pages_detail=details,
        failures=failures,
    )
