"""LangChain integration for Alibaba's Qwen3-VL-Flash vision-language model.

Public names only; see each module for details.
"""

import importlib
from typing import TYPE_CHECKING, Any

from langchain_qwen_vl.chat_models import ChatQwenVL
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
    QwenVLServerError,
    QwenVLStreamError,
    QwenVLTimeoutError,
    QwenVLUnsupportedFeatureError,
)
from langchain_qwen_vl.media import estimate_image_tokens, image_block

if TYPE_CHECKING:
    from langchain_qwen_vl.document_loaders import QwenVLScanLoader, QwenVLScanParser
    from langchain_qwen_vl.tools import QwenVLTool

__version__ = "0.1.0"

# Imported on first use, so that `import langchain_qwen_vl` stays fast and optional extras
# (pypdfium2, tqdm) are needed only by those who use them.
_LAZY = {
    "QwenVLTool": "langchain_qwen_vl.tools",
    "QwenVLScanLoader": "langchain_qwen_vl.document_loaders",
    "QwenVLScanParser": "langchain_qwen_vl.document_loaders",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'langchain_qwen_vl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

__all__ = [
    "ChatQwenVL",
    "QwenVLAPIStatusError",
    "QwenVLAuthenticationError",
    "QwenVLBadRequestError",
    "QwenVLConnectionError",
    "QwenVLContentModerationError",
    "QwenVLContextOverflowError",
    "QwenVLError",
    "QwenVLImageError",
    "QwenVLInputError",
    "QwenVLNotFoundError",
    "QwenVLPermissionDeniedError",
    "QwenVLRateLimitError",
    "QwenVLScanLoader",
    "QwenVLScanParser",
    "QwenVLServerError",
    "QwenVLStreamError",
    "QwenVLTimeoutError",
    "QwenVLTool",
    "QwenVLUnsupportedFeatureError",
    "__version__",
    "estimate_image_tokens",
    "image_block",
]
