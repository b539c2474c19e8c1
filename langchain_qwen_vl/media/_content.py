"""Messages -> prepared messages: the one step that touches files and pixels.

Three stages, so that each costs only what it must:

1. :func:`parse_content` reads a message's content into ordered parts: text, and references
   to images and videos with their pixel budget resolved. Pure: no file read, no decode.
2. :func:`prepare_messages` / :func:`aprepare_messages` turn every reference into what the
   wire needs (a URL or data URI, downscaled to what the service keeps). The async twin runs
   the parts that read files or decode pixels in worker threads, several images at once; a
   URL-only or already prepared message never leaves the event loop.
3. :func:`count_tokens` plans the same preparation from image headers only: the same
   numbers as the request, without decoding a pixel.

``_wire`` then builds the request body from prepared messages and does no I/O at all.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage

from langchain_qwen_vl.errors import QwenVLImageError, QwenVLUnsupportedFeatureError
from langchain_qwen_vl.media import _sources as _src
from langchain_qwen_vl.media import _video
from langchain_qwen_vl.media import _video_rules as video_rules
from langchain_qwen_vl.media._blocks import image_source_from_block, video_source_from_block
from langchain_qwen_vl.media._budget import ImageBudget, MediaOptions, resolve_budget
from langchain_qwen_vl.media._files import LocalFilePolicy
from langchain_qwen_vl.media._prepare import (
    PreparedImage,
    measure_located,
    prepare_located,
    remote_prepared,
    tokens_for,
    trusted_prepared,
)

__all__ = [
    "ImagePart",
    "ImageRef",
    "Part",
    "PreparedMessage",
    "TextPart",
    "VideoPart",
    "VideoRef",
    "aprepare_messages",
    "count_tokens",
    "parse_content",
    "prepare_messages",
]

MAX_IMAGES_PER_REQUEST = 256
MAX_BASE64_IMAGES_PER_REQUEST = 250

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


# --- parts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """A prepared image and the budget sent beside it."""

    image: PreparedImage
    budget: ImageBudget


@dataclass(frozen=True, slots=True)
class VideoPart:
    """A video as a file URL (``frames`` is None) or as a list of prepared frames;
    ``max_pixels`` is the per-frame cap the block asked for (sent beside the part)."""

    url: str | None
    frames: tuple[PreparedImage, ...] | None
    fps: float | None
    max_pixels: int | None = None


Part = TextPart | ImagePart | VideoPart


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image not prepared yet: its raw value, the block it came in, its budget."""

    source: Any
    block: Mapping[str, Any] | None
    budget: ImageBudget
    where: str

    def trusted(self) -> PreparedImage | None:
        return trusted_prepared(self.block, self.budget) if self.block is not None else None

    def is_remote(self) -> bool:
        """An http(s) URL: the service downloads it, we never do."""
        return isinstance(self.source, str) and _src.is_http(self.source.strip())

    def is_light(self) -> bool:
        """True when preparing it reads no file and decodes nothing (no thread needed)."""
        return self.is_remote() or self.trusted() is not None

    def locate(self, policy: LocalFilePolicy) -> _src.Located:
        return _src.locate(self.source, self.where, policy)

    def prepare(self, policy: LocalFilePolicy) -> PreparedImage:
        if self.is_remote():
            return remote_prepared(_src.check_remote(self.source.strip(), self.where))
        trusted = self.trusted()
        if trusted is not None:
            return trusted
        return prepare_located(self.locate(policy), self.budget, policy, self.where)

    def size(self, policy: LocalFilePolicy) -> tuple[int, int] | None:
        """The (width, height) the service receives, from the header (or the prepared block's
        sizes); None when unknown (a URL, an undecodable HEIC)."""
        trusted = self.trusted()
        if trusted is None:
            return measure_located(self.locate(policy), policy, self.where)
        return (trusted.width, trusted.height) if trusted.width and trusted.height else None

    def tokens(self, policy: LocalFilePolicy) -> int:
        return tokens_for(self.size(policy), self.budget)


@dataclass(frozen=True, slots=True)
class VideoRef:
    """A video not prepared yet: frames (each an :class:`ImageRef`), a URL the service
    downloads, or a local file (path, bytes, data URI) to sample into frames."""

    source: Any
    frames: tuple[ImageRef, ...] | None
    options: _video.VideoOptions
    where: str

    def is_remote(self) -> bool:
        text = self.source.strip() if isinstance(self.source, str) else ""
        return _src.is_http(text) or text[:6].lower() == "oss://"

    def is_light(self) -> bool:
        if self.frames is not None:
            return all(frame.is_light() for frame in self.frames)
        return self.is_remote()

    def prepare(self, policy: LocalFilePolicy) -> VideoPart:
        if self.frames is not None:
            frames = tuple(frame.prepare(policy) for frame in self.frames)
            return VideoPart(None, frames, self.options.fps, self.options.max_pixels)
        if self.is_remote():
            url = self.source.strip()
            if _src.is_http(url):
                _src.check_remote(url, self.where, "video")
            return VideoPart(url, None, self.options.fps, self.options.max_pixels)
        frames, fps = _video.sample_local_video(self.source, self.options, policy, self.where)
        return VideoPart(None, frames, fps, self.options.max_pixels)

    def tokens(self, policy: LocalFilePolicy) -> int:
        cap = self.options.max_pixels
        if self.frames is None:
            if self.is_remote():  # never downloaded: the most any video at this fps can cost
                return video_rules.url_video_tokens_upper_bound(self.options.fps, cap)
            return _video.video_file_tokens(self.source, self.options, policy, self.where)
        size = self.frames[0].size(policy)
        if size is None:  # frame URLs: the bound of every frame at the per-frame cap
            return video_rules.video_tokens_upper_bound(len(self.frames), max_pixels=cap)
        width, height = size
        return video_rules.video_tokens(len(self.frames), height, width, max_pixels=cap)


RawPart = TextPart | ImageRef | VideoRef


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    """A message and its content as prepared parts, in order."""

    message: BaseMessage
    parts: tuple[Part, ...]


# --- stage 1: parse (pure) -------------------------------------------------------------------


def video_ref(block: Mapping[str, Any], where: str) -> VideoRef:
    source = video_source_from_block(block, where)
    options = _video.VideoOptions.from_block(block, where)
    if isinstance(source, (list, tuple)):
        video_rules.check_frame_count(len(source), where=where)
        budget = _video.frame_budget(len(source), options.max_pixels)
        frames = []
        for index, frame in enumerate(source):
            frame_where = f"{where}.video[{index}]"
            frame_block = frame if isinstance(frame, Mapping) else None
            value = frame
            if frame_block is not None:
                value = image_source_from_block(frame_block, where=frame_where)
                if value is None:
                    raise QwenVLImageError(
                        f"{frame_where}: a video frame must be an image (any image form, e.g. "
                        f"image_block(...)), got a block of type {frame_block.get('type')!r}."
                    )
            frames.append(ImageRef(value, frame_block, budget, frame_where))
        return VideoRef(None, tuple(frames), options, where)
    return VideoRef(source, None, options, where)


def parse_content(
    content: str | Sequence[Any], *, where: str, options: MediaOptions
) -> list[RawPart]:
    """One message's content as ordered parts; refuses bad blocks before any I/O.

    Example:
        >>> parse_content("hi", where="messages[0]", options=MediaOptions())
        [TextPart(text='hi')]
    """
    if isinstance(content, str):
        return [TextPart(content)] if content else []
    parts: list[RawPart] = []
    for index, item in enumerate(content):
        item_where = f"{where}.content[{index}]"
        if isinstance(item, str):
            if item:
                parts.append(TextPart(item))
            continue
        if type(item) is not dict and not isinstance(item, Mapping):  # ABC check: slow path
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
            parts.append(video_ref(item, item_where))
            continue
        source = image_source_from_block(item, where=item_where)
        if source is None:
            if block_type is None and "text" in item:  # DashScope-native {"text": ...}
                parts.append(TextPart(str(item["text"])))
                continue
            raise QwenVLImageError(
                f"{item_where}: unknown content block type {block_type!r} — use 'text', "
                "'image', 'image_url' or 'video'."
            )
        parts.append(ImageRef(source, item, resolve_budget(item, options, item_where), item_where))
    return parts


def _parse_messages(messages: Sequence[BaseMessage], options: MediaOptions) -> list[list[RawPart]]:
    parsed = [
        parse_content(message.content, where=f"messages[{index}]", options=options)
        for index, message in enumerate(messages)
    ]
    _check_image_count(parsed)
    return parsed


def _check_image_count(parsed: Sequence[Sequence[RawPart]]) -> None:
    """The per-request image limits, before anything is read or sent."""
    images = inline = 0
    for parts in parsed:
        for part in parts:
            if type(part) is ImageRef:
                images += 1
                inline += not part.is_remote()
    if images > MAX_IMAGES_PER_REQUEST:
        raise QwenVLImageError(
            f"messages: {images} images in one request, the service takes at most "
            f"{MAX_IMAGES_PER_REQUEST} — split the conversation into several requests."
        )
    if inline > MAX_BASE64_IMAGES_PER_REQUEST:
        raise QwenVLImageError(
            f"messages: {inline} inline (base64) images in one request, the service takes at "
            f"most {MAX_BASE64_IMAGES_PER_REQUEST} — send some as http(s) URLs or split the "
            "request."
        )


# --- stage 2: prepare (I/O) --------------------------------------------------------------------


def _prepare_part(part: RawPart, policy: LocalFilePolicy) -> Part:
    if type(part) is TextPart:
        return part
    if isinstance(part, ImageRef):
        return ImagePart(part.prepare(policy), part.budget)
    if isinstance(part, VideoRef):
        return part.prepare(policy)
    return part


def prepare_messages(
    messages: Sequence[BaseMessage], options: MediaOptions, policy: LocalFilePolicy
) -> list[PreparedMessage]:
    """Prepare every image and video of ``messages`` (reads files, decodes when it must).

    Example:
        >>> from langchain_core.messages import HumanMessage
        >>> [p.parts for p in prepare_messages([HumanMessage("hi")], MediaOptions(),
        ...                                    LocalFilePolicy(None))]
        [(TextPart(text='hi'),)]
    """
    return _prepared(messages, _parse_messages(messages, options), policy, {})


async def aprepare_messages(
    messages: Sequence[BaseMessage], options: MediaOptions, policy: LocalFilePolicy
) -> list[PreparedMessage]:
    """:func:`prepare_messages` without blocking the event loop.

    Every part that reads a file or decodes pixels runs in the media worker thread (see
    ``_preparation_pool``; large resizes use a second one); a request of text, URLs and
    already prepared images is handled on the loop.
    """
    parsed = _parse_messages(messages, options)
    heavy = [
        part
        for parts in parsed
        for part in parts
        if type(part) is not TextPart and not part.is_light()  # type: ignore[union-attr]
    ]
    if not heavy:
        return _prepared(messages, parsed, policy, {})
    loop = asyncio.get_running_loop()
    pool = _preparation_pool()
    results = await asyncio.gather(
        *(loop.run_in_executor(pool, _prepare_part, part, policy) for part in heavy)
    )
    return _prepared(
        messages, parsed, policy, {id(p): r for p, r in zip(heavy, results, strict=True)}
    )


def _prepared(
    messages: Sequence[BaseMessage],
    parsed: Sequence[Sequence[RawPart]],
    policy: LocalFilePolicy,
    done: Mapping[int, Part],
) -> list[PreparedMessage]:
    """The messages with every part prepared (``done``: parts already prepared, by id)."""
    return [
        PreparedMessage(
            message,
            tuple([done[id(p)] if id(p) in done else _prepare_part(p, policy) for p in parts]),
        )
        for message, parts in zip(messages, parsed, strict=True)
    ]


@functools.cache
def _preparation_pool() -> ThreadPoolExecutor:
    """The thread that prepares media for async calls: one, measured against two (bench, 2
    cores, 12 MP photos). Decoding and encoding hold the GIL in stretches, and every extra
    thread waiting for it delays the event loop's next turn: the longest loop stall with 4
    concurrent ``ainvoke`` was 18-19 ms with one thread and 32-36 ms with two (418 ms when
    preparing on the loop). One request of 4 photos took 394 ms with one thread, 449 ms with
    two; the large resizes split over two threads anyway (``_codec.resize``)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qwen-vl-media")


# --- stage 3: count from headers ----------------------------------------------------------------


def count_tokens(
    messages: Sequence[BaseMessage],
    options: MediaOptions,
    policy: LocalFilePolicy,
    text_tokens: Callable[[str], int],
) -> int:
    """Input tokens of ``messages``: images and videos by the service's formulas from their
    headers (no pixel decoded), text by ``text_tokens``, plus 4 per message for the role."""
    total = 0
    for parts in _parse_messages(messages, options):
        total += 4
        for part in parts:
            if isinstance(part, TextPart):
                total += text_tokens(part.text)
            else:
                total += part.tokens(policy)
    return total
