"""Normalise the content of a LangChain message into text, image and video parts.

Users hand us content in many shapes (plain strings, LangChain v1 standard blocks, v0 data
blocks, OpenAI ``image_url`` parts, DashScope-native ``{"image": ...}`` items, and our own
blocks carrying paths, bytes or PIL images). Both wire formats need the same thing from them:
an ordered list of text and media parts, with every image validated and prepared (downscaled to
the server's pixel cap, local data turned into a data URI) before any network call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_qwen_vl import media
from langchain_qwen_vl.errors import QwenVLImageError, QwenVLUnsupportedFeatureError

# Blocks that carry no information for the model on the way back in: reasoning of an earlier
# turn (the service does not take it back), tool-use blocks (tool calls are sent from
# ``AIMessage.tool_calls``), and provider-specific markers.
_DROPPED_BLOCK_TYPES = frozenset(
    {
        "reasoning",
        "thinking",
        "redacted_thinking",
        "tool_use",
        "tool_call",
        "tool_call_chunk",
        "invalid_tool_call",
        "server_tool_call",
        "server_tool_result",
    }
)
_TEXT_BLOCK_TYPES = frozenset({"text", "input_text", "output_text"})
_VIDEO_BLOCK_TYPES = frozenset({"video", "video_url"})
_UNSUPPORTED_MEDIA = {
    "audio": "audio input",
    "input_audio": "audio input",
    "file": "file input (PDF and other documents)",
    "document": "document input",
}


@dataclass(frozen=True, slots=True)
class MediaOptions:
    """The per-request pixel budget that applies to every image unless a block overrides it."""

    max_pixels: int | None = None
    min_pixels: int | None = None
    vl_high_resolution_images: bool = False


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    image: media.PreparedImage
    max_pixels: int | None
    min_pixels: int | None


@dataclass(frozen=True, slots=True)
class VideoPart:
    """A video as a file URL (``frames`` is None) or as a list of frame URLs."""

    url: str | None
    frames: tuple[str, ...] | None
    fps: float | None


Part = TextPart | ImagePart | VideoPart


def _block_pixel_budget(
    block: Mapping[str, Any], options: MediaOptions
) -> tuple[int | None, int | None]:
    max_pixels = block.get("max_pixels", options.max_pixels)
    min_pixels = block.get("min_pixels", options.min_pixels)
    inner = block.get("image_url")
    if isinstance(inner, Mapping):  # some clients nest the budget inside image_url
        max_pixels = inner.get("max_pixels", max_pixels)
        min_pixels = inner.get("min_pixels", min_pixels)
    return max_pixels, min_pixels


def _video_part(block: Mapping[str, Any], where: str) -> VideoPart:
    fps = block.get("fps")
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
        raise QwenVLImageError(
            f"{where}: video block has no source — give 'url' (http(s) or data URI), 'base64' "
            "with 'mime_type', 'path', or 'video' as a list of frames."
        )
    if isinstance(source, (list, tuple)):
        if not 4 <= len(source) <= 2000:
            raise QwenVLImageError(
                f"{where}: a video given as frames needs 4 to 2000 frames, got {len(source)} — "
                "sample more or fewer frames."
            )
        frames = tuple(
            media.prepare_image(frame, where=f"{where}.video[{i}]").url
            for i, frame in enumerate(source)
        )
        return VideoPart(url=None, frames=frames, fps=fps)
    if source is None:
        raise QwenVLImageError(f"{where}: video block has an empty source — give a URL or a path.")
    return VideoPart(url=media.prepare_video(source, where=where), frames=None, fps=fps)


def content_parts(content: str | Sequence[Any], *, where: str, options: MediaOptions) -> list[Part]:
    """Turn one message's content into ordered parts; raise before any I/O on bad input.

    Example:
        >>> content_parts("hi", where="messages[0]", options=MediaOptions())
        [TextPart(text='hi')]
    """
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[Part] = []
    for index, item in enumerate(content):
        item_where = f"{where}.content[{index}]"
        if isinstance(item, str):
            if item:
                parts.append(TextPart(item))
            continue
        if not isinstance(item, Mapping):
            raise QwenVLImageError(
                f"{item_where}: unsupported content item of type {type(item).__name__} — "
                "use a string, a text block, or an image block (see langchain_qwen_vl.image_block)."
            )
        block_type = item.get("type")
        if block_type in _TEXT_BLOCK_TYPES:
            text = item.get("text")
            if isinstance(text, str) and text:
                parts.append(TextPart(text))
            continue
        if block_type in _DROPPED_BLOCK_TYPES:
            continue
        if block_type in _UNSUPPORTED_MEDIA:
            raise QwenVLUnsupportedFeatureError(
                f"{item_where}: {_UNSUPPORTED_MEDIA[block_type]} is not supported by Qwen3-VL — "
                "send images (render PDF pages with QwenVLScanLoader) or video instead."
            )
        if block_type in _VIDEO_BLOCK_TYPES or (block_type is None and "video" in item):
            parts.append(_video_part(item, item_where))
            continue
        source = media.image_source_from_block(item, where=item_where)
        if source is None:
            if block_type is None and "text" in item:  # DashScope-native {"text": ...}
                parts.append(TextPart(str(item["text"])))
                continue
            raise QwenVLImageError(
                f"{item_where}: unknown content block type {block_type!r} — use 'text', "
                "'image', 'image_url' or 'video'."
            )
        max_pixels, min_pixels = _block_pixel_budget(item, options)
        prepared = media.prepare_image(
            source,
            max_pixels=max_pixels,
            min_pixels=min_pixels,
            vl_high_resolution_images=options.vl_high_resolution_images,
            where=item_where,
        )
        parts.append(ImagePart(prepared, max_pixels, min_pixels))
    return parts


def text_of(parts: Sequence[Part]) -> str:
    """The text parts joined with newlines, media dropped."""
    return "\n".join(part.text for part in parts if isinstance(part, TextPart))


def check_image_count(parts_by_message: Sequence[Sequence[Part]]) -> None:
    """Enforce the per-request image limits of spec §4 before anything is sent."""
    images = [p for parts in parts_by_message for p in parts if isinstance(p, ImagePart)]
    if len(images) > media.MAX_IMAGES_PER_REQUEST:
        raise QwenVLImageError(
            f"messages: {len(images)} images in one request, the service takes at most "
            f"{media.MAX_IMAGES_PER_REQUEST} — split the conversation into several requests."
        )
    inline = sum(1 for p in images if not p.image.is_remote)
    if inline > media.MAX_BASE64_IMAGES_PER_REQUEST:
        raise QwenVLImageError(
            f"messages: {inline} inline (base64) images in one request, the service takes at most "
            f"{media.MAX_BASE64_IMAGES_PER_REQUEST} — send some as http(s) URLs or split the "
            "request."
        )
