"""LangChain integration for Alibaba's Qwen3-VL-Flash vision-language model.

Public names only; see each module for details.
"""

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

__version__ = "0.1.0"

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
    "QwenVLServerError",
    "QwenVLStreamError",
    "QwenVLTimeoutError",
    "QwenVLUnsupportedFeatureError",
    "__version__",
    "estimate_image_tokens",
    "image_block",
]
