"""Content blocks of every shape users hand us -> the image or video source inside them.

LangChain v1 blocks, v0 data blocks, OpenAI parts, DashScope-native items and our own blocks
carrying paths, bytes or PIL images. Pure: no file is read, no pixel decoded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._sources import describe
from langchain_qwen_vl.media._video_rules import QwenVLVideoError

__all__ = ["image_source_from_block", "video_source_from_block"]


def _unsupported_id(where: str) -> QwenVLImageError:
    return QwenVLImageError(
        f"{where}: image blocks with a file id are not supported — DashScope has no file store "
        "for chat input; send the image as 'url' (http(s) or data: URI), 'base64' with "
        "'mime_type', or a path."
    )


def _base64_source(block: Mapping[str, Any], where: str) -> str:
    data = block.get("base64", block.get("data"))
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("ascii", "replace")
    if not isinstance(data, str) or not data.strip():
        raise QwenVLImageError(
            f"{where}: base64 image block has no data ({describe(data)}) — put the "
            "base64 text in 'base64' (or 'data' with source_type='base64')."
        )
    data = data.strip()
    if data[:5].lower() == "data:":  # a whole data URI where bare base64 was expected
        return data
    # An empty mime is fine: prepare_image sniffs the format and writes the right one.
    return f"data:{block.get('mime_type') or ''};base64,{data}"


def image_source_from_block(block: Mapping[str, Any], *, where: str) -> Any:
    """The image inside a content block, or None if the block is not an image.

    Reads LangChain v1 blocks (``{"type": "image", "url" | "base64" + "mime_type"}``), v0
    data blocks (``"source_type": "url" | "base64"``), OpenAI parts
    (``{"type": "image_url", "image_url": {"url": ...}}`` or a bare string; Responses-style
    ``input_image``), DashScope-native ``{"image": ...}``, and ours: ``"image"``/``"path"``/
    ``"url"`` holding a path, bytes or PIL image. A base64 block becomes a data URI. A
    ``file_id`` block raises :class:`QwenVLImageError`: DashScope cannot read file ids.

    Example:
        >>> image_source_from_block({"type": "image_url", "image_url": {"url": "https://x/a.png"}},
        ...                         where="messages[0].content[1]")
        'https://x/a.png'
        >>> image_source_from_block({"type": "text", "text": "hi"}, where="m") is None
        True
    """
    block_type = block.get("type")
    if block_type in ("image_url", "input_image") or (block_type is None and "image_url" in block):
        inner = block.get("image_url")
        value = inner.get("url") if isinstance(inner, Mapping) else inner
        if value is None and "file_id" in block:
            raise _unsupported_id(where)
        if value is None:
            raise QwenVLImageError(
                f"{where}: image_url block has no URL — use "
                "{'type': 'image_url', 'image_url': {'url': 'https://... or data:...'}}."
            )
        return value
    if block_type is None:
        return block.get("image")
    if block_type != "image":
        return None
    for key in ("url", "image", "path"):
        if block.get(key) is not None:
            return block[key]
    if "base64" in block or block.get("source_type") == "base64":
        return _base64_source(block, where)
    if "file_id" in block or block.get("source_type") == "id":
        raise _unsupported_id(where)
    raise QwenVLImageError(
        f"{where}: image block has no source — give 'url' (http(s) URL or data: URI), "
        "'base64' with 'mime_type', or 'path'."
    )


def video_source_from_block(block: Mapping[str, Any], where: str) -> Any:
    """The video inside a video block: a URL, data URI, path, bytes, or a list of frames."""
    source: Any
    if block.get("type") == "video_url" or "video_url" in block:
        inner = block.get("video_url")
        source = inner.get("url") if isinstance(inner, Mapping) else inner
    elif "video" in block:
        source = block["video"]
    elif "url" in block:
        source = block["url"]
    elif "base64" in block or block.get("source_type") == "base64":
        data = block.get("base64") or block.get("data")
        mime = block.get("mime_type") or "video/mp4"
        source = f"data:{mime};base64,{data}"
    elif "path" in block:
        source = block["path"]
    else:
        raise QwenVLVideoError(
            f"{where}: video block has no source — give 'url' (http(s) or data URI), 'base64' "
            "with 'mime_type', 'path', or 'video' as a list of frames."
        )
    if source is None:
        raise QwenVLVideoError(f"{where}: video block has an empty source — give a URL or a path.")
    return source
