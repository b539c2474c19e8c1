"""LangChain integration for Alibaba's Qwen3-VL-Flash vision-language model.

Public names only. Like ``langchain_core.language_models``, names are imported on first use:
``import langchain_qwen_vl`` is cheap, and ``from langchain_qwen_vl import ChatQwenVL`` loads
the chat model (and langchain-core's) machinery; optional extras (pypdfium2, tqdm, the
emulator's server stack) are needed only by those who use them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from langchain_qwen_vl.batch import QwenVLBatch, QwenVLBatchError, QwenVLBatchJob
    from langchain_qwen_vl.chat_models import ChatQwenVL
    from langchain_qwen_vl.document_loaders import (
        QwenVLScanError,
        QwenVLScanInputError,
        QwenVLScanLoader,
        QwenVLScanParser,
    )
    from langchain_qwen_vl.errors import (
        QwenVLAPIStatusError,
        QwenVLAuthenticationError,
        QwenVLBadRequestError,
        QwenVLConnectionError,
        QwenVLContentModerationError,
        QwenVLContextOverflowError,
        QwenVLError,
        QwenVLImageError,
        QwenVLInputError,
        QwenVLNotFoundError,
        QwenVLPermissionDeniedError,
        QwenVLRateLimitError,
        QwenVLResponseError,
        QwenVLServerError,
        QwenVLStreamError,
        QwenVLTimeoutError,
        QwenVLUnsupportedFeatureError,
    )
    from langchain_qwen_vl.media import estimate_image_tokens, image_block
    from langchain_qwen_vl.tools import QwenVLTool
    from langchain_qwen_vl.video import QwenVLVideoError, estimate_video_tokens, video_block

__version__ = "0.1.0"

_MODULE_OF: dict[str, str] = {
    "ChatQwenVL": "langchain_qwen_vl.chat_models",
    "QwenVLBatch": "langchain_qwen_vl.batch",
    "QwenVLBatchError": "langchain_qwen_vl.batch",
    "QwenVLBatchJob": "langchain_qwen_vl.batch",
    "QwenVLTool": "langchain_qwen_vl.tools",
    "QwenVLScanLoader": "langchain_qwen_vl.document_loaders",
    "QwenVLScanParser": "langchain_qwen_vl.document_loaders",
    "QwenVLScanError": "langchain_qwen_vl.document_loaders",
    "QwenVLScanInputError": "langchain_qwen_vl.document_loaders",
    "estimate_image_tokens": "langchain_qwen_vl.media",
    "image_block": "langchain_qwen_vl.media",
    "video_block": "langchain_qwen_vl.video",
    "estimate_video_tokens": "langchain_qwen_vl.video",
    "QwenVLVideoError": "langchain_qwen_vl.video",
}  # every other public name (the QwenVL*Error classes) lives in langchain_qwen_vl.errors

__all__ = [
    "ChatQwenVL",
    "QwenVLAPIStatusError",
    "QwenVLAuthenticationError",
    "QwenVLBadRequestError",
    "QwenVLBatch",
    "QwenVLBatchError",
    "QwenVLBatchJob",
    "QwenVLConnectionError",
    "QwenVLContentModerationError",
    "QwenVLContextOverflowError",
    "QwenVLError",
    "QwenVLImageError",
    "QwenVLInputError",
    "QwenVLNotFoundError",
    "QwenVLPermissionDeniedError",
    "QwenVLRateLimitError",
    "QwenVLResponseError",
    "QwenVLScanError",
    "QwenVLScanInputError",
    "QwenVLScanLoader",
    "QwenVLScanParser",
    "QwenVLServerError",
    "QwenVLStreamError",
    "QwenVLTimeoutError",
    "QwenVLTool",
    "QwenVLUnsupportedFeatureError",
    "QwenVLVideoError",
    "__version__",
    "estimate_image_tokens",
    "estimate_video_tokens",
    "image_block",
    "video_block",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name) or ("langchain_qwen_vl.errors" if name in __all__ else None)
    if module is None or name == "__version__":
        raise AttributeError(f"module 'langchain_qwen_vl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return list(__all__)
