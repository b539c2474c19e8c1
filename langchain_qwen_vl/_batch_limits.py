"""The Batch API's limits, where it is offered, and its price ratio: one place for each fact.

Facts (DashScope "OpenAI-compatible Batch (file input)", 2026 editions): at most 50,000 requests
and 500 MB per input file; one line at most 6 MB (older and English pages) or 1 MB (the newest
Chinese page) — unverified, so lines above 1 MB log a warning and lines above 6 MB are refused
unless ``max_line_bytes`` says otherwise; ``custom_id`` at most 256 characters; one model and one
thinking mode per file; completion window 24 h to 336 h; billed at 50 % of the real-time price
for successful requests only. Batch for vision models is offered in the Beijing region only.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from langchain_qwen_vl._endpoints import REGION_BASE_URLS
from langchain_qwen_vl.errors import QwenVLUnsupportedFeatureError

MAX_REQUESTS_PER_FILE = 50_000
MAX_FILE_BYTES = 500 * 1024 * 1024
#: The documented line limit (S1/S4: 6 MB); the newest Chinese page says 1 MB.
MAX_LINE_BYTES = 6 * 1024 * 1024
#: Above this a line may be refused if the stricter (1 MB) reading is right: a warning is logged.
WARN_LINE_BYTES = 1024 * 1024
MAX_CUSTOM_ID_CHARS = 256
CHAT_ENDPOINT = "/v1/chat/completions"
#: Batch successful requests are billed at this fraction of the real-time price.
BATCH_PRICE_RATIO = 0.5
DEFAULT_COMPLETION_WINDOW = "24h"
_WINDOW = re.compile(r"\A(\d+)([hd])\Z")
MIN_WINDOW_HOURS, MAX_WINDOW_HOURS = 24, 336

#: Regions whose documentation lists vision models for batch.
BATCH_REGIONS = ("beijing",)
#: Model families listed for batch "image and video understanding" in Beijing (snapshots too).
BATCH_MODEL_PREFIXES = ("qwen3-vl-flash", "qwen3-vl-plus", "qwen-vl-max", "qwen-vl-plus")
#: The free dry-run model (no inference, fixed answer).
TEST_MODEL = "batch-test-model"

TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


def completion_window_hours(window: str) -> int:
    """Hours of a completion window such as ``"24h"`` or ``"14d"``; raises when out of range.

    Example:
        >>> completion_window_hours("14d")
        336
    """
    match = _WINDOW.match(window.strip()) if isinstance(window, str) else None
    hours = 0
    if match:
        hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    if not MIN_WINDOW_HOURS <= hours <= MAX_WINDOW_HOURS:
        raise ValueError(
            f"completion_window={window!r}: use a whole number of hours or days between "
            f"{MIN_WINDOW_HOURS}h and {MAX_WINDOW_HOURS}h, e.g. '24h' or '7d'."
        )
    return hours


def check_batch_supported(base_url: str, model: str) -> None:
    """Refuse, before any upload, a region or model the Batch API does not offer.

    A known regional endpoint other than Beijing is refused; any other base URL (a proxy, a
    workspace endpoint, the local emulator) is trusted, because its region cannot be told.
    """
    regions = {url: name for name, url in REGION_BASE_URLS.items()}
    region = regions.get(base_url)
    host = urlsplit(base_url).hostname or ""
    if region is None and host.endswith(".ap-southeast-1.maas.aliyuncs.com"):
        region = "singapore"
    if region is not None and region not in BATCH_REGIONS:
        raise QwenVLUnsupportedFeatureError(
            f"region={region!r}: the Batch API offers vision models only in "
            f"{', '.join(BATCH_REGIONS)} — create the model with region='beijing' and a Beijing "
            "API key (keys are per region), or use the real-time API (invoke/batch)."
        )
    if model != TEST_MODEL and not model.startswith(BATCH_MODEL_PREFIXES):
        raise QwenVLUnsupportedFeatureError(
            f"model={model!r}: not listed for the Batch API's image understanding; batch "
            f"offers {', '.join(BATCH_MODEL_PREFIXES)} (and {TEST_MODEL!r} for a free dry "
            "run) — pick one of those, or use the real-time API."
        )


#: Real-time list price of qwen3-vl-flash in Beijing, CNY per million tokens (input, output),
#: ≤32K-input tier — a third-party copy of the Bailian model page, not verified against the
#: official price list; batch is :data:`BATCH_PRICE_RATIO` of it.
REALTIME_PRICE_CNY_PER_M = (0.15, 1.5)
PRICE_SOURCE = "qwen3-vl-flash Beijing list price (third-party copy, unverified)"


def cost_cny(input_tokens: int, output_tokens: int, *, batch: bool) -> float:
    """Price in CNY of ``input_tokens`` + ``output_tokens``, real-time or batch.

    Example:
        >>> round(cost_cny(1_000_000, 1_000_000, batch=True), 3)
        0.825
    """
    per_in, per_out = REALTIME_PRICE_CNY_PER_M
    price = (input_tokens * per_in + output_tokens * per_out) / 1_000_000
    return price * BATCH_PRICE_RATIO if batch else price
