"""Every image and video input form -> what the service accepts, prepared once, by one set of rules.

Users give images as http(s) URLs, data URIs, paths (``str``, ``Path``, ``file://``), raw
bytes, PIL images, or content blocks of LangChain (v1 and v0), OpenAI or DashScope. This
package turns each into an http(s) URL or a ``data:`` URI and checks the service's image rules
*before* anything is sent, raising :class:`~langchain_qwen_vl.errors.QwenVLImageError` with the
location, the offending value and the fix.

The service resizes every image to the grid of :func:`resized_dimensions` and throws away the
pixels beyond its cap. So an image over the cap is downscaled here to exactly that grid: the
service counts the same tokens for it, and the upload is a fraction of the bytes. Images within
the cap are sent byte for byte.

One module per concern: ``_geometry`` (the resize formula, the downscale target, the size
checks), ``_budget`` (the per-image pixel budget and its precedence), ``_codec`` (decode,
resize, encode; Pillow is imported lazily there), ``_sources`` and ``_files`` (where bytes
come from; the local-file policy), ``_prepare`` (one image), ``_content`` (whole messages),
``_video``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import _codec
from langchain_qwen_vl.media import _sources as _src
from langchain_qwen_vl.media._blocks import image_source_from_block
from langchain_qwen_vl.media._budget import (
    ImageBudget,
    MediaOptions,
    check_pixel_count,
    effective_max_pixels,
    resolve_budget,
)
from langchain_qwen_vl.media._content import (
    MAX_BASE64_IMAGES_PER_REQUEST,
    MAX_IMAGES_PER_REQUEST,
    ImagePart,
    ImageRef,
    PreparedMessage,
    TextPart,
    VideoPart,
    aprepare_messages,
    count_tokens,
    prepare_messages,
)
from langchain_qwen_vl.media._files import FileProblem, LocalFilePolicy, normalise_dirs
from langchain_qwen_vl.media._geometry import (
    DEFAULT_MAX_PIXELS,
    HIGH_RESOLUTION_MAX_PIXELS,
    MIN_PIXELS,
    PATCH_SIZE,
    downscale_target,
    image_tokens_for_size,
    resized_dimensions,
)
from langchain_qwen_vl.media._prepare import (
    MAX_IMAGE_BYTES,
    PreparedImage,
    check_size,
    prepare_located,
    prepared_block,
)

if TYPE_CHECKING:
    from typing import TypeAlias

    from PIL import Image

    ImageSource: TypeAlias = str | os.PathLike[str] | bytes | bytearray | Image.Image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "HIGH_RESOLUTION_MAX_PIXELS",
    "MAX_BASE64_IMAGES_PER_REQUEST",
    "MAX_IMAGES_PER_REQUEST",
    "MAX_IMAGE_BYTES",
    "MIN_PIXELS",
    "PATCH_SIZE",
    "SUPPORTED_IMAGE_FORMATS",
    "FileProblem",
    "ImageBudget",
    "ImagePart",
    "ImageSource",
    "LocalFilePolicy",
    "MediaOptions",
    "PreparedImage",
    "PreparedMessage",
    "TextPart",
    "VideoPart",
    "aprepare_messages",
    "check_pixel_count",
    "count_tokens",
    "decode_data_uri",
    "downscale_target",
    "effective_max_pixels",
    "estimate_image_tokens",
    "image_block",
    "image_size",
    "image_source_from_block",
    "image_tokens_for_size",
    "normalise_dirs",
    "prepare_image",
    "prepare_messages",
    "prepared_block",
    "resized_dimensions",
]

#: PIL format names the service accepts. HEIF is always listed: without a Pillow HEIF plugin
#: its bytes are sent unchanged (not measured, not downscaled).
SUPPORTED_IMAGE_FORMATS = _codec.SUPPORTED_FORMATS


if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        # ImageSource names PIL.Image.Image; build it on first use to keep the import lazy.
        if name == "ImageSource":
            from PIL import Image

            alias = str | os.PathLike[str] | bytes | bytearray | Image.Image
            globals()["ImageSource"] = alias
            return alias
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _policy(allowed_dirs: Sequence[str | os.PathLike[str]] | None) -> LocalFilePolicy:
    try:
        return LocalFilePolicy(normalise_dirs(allowed_dirs))
    except ValueError as error:
        raise QwenVLImageError(str(error)) from None


def decode_data_uri(uri: str, *, where: str = "data URI") -> tuple[str, bytes]:
    """Split a ``data:`` URI into (mime type, raw bytes), validating the base64.

    The mime type is lower-cased and may be empty (``data:;base64,...``). Raises
    :class:`QwenVLImageError` (naming ``where``) on a malformed URI or bad base64.

    Example:
        >>> decode_data_uri("data:image/png;base64,aGk=")
        ('image/png', b'hi')
    """
    mime, raw, _ = _src.decode(uri, where)
    return mime, raw


def prepare_image(
    source: ImageSource,
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    vl_high_resolution_images: bool = False,
    where: str = "image",
    allowed_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> PreparedImage:
    """Validate one image and turn it into the URL to send, downscaled to the service's cap.

    http(s) URLs pass through untouched (the service downloads them; we never do). Data URIs,
    paths (``str``, ``os.PathLike``, ``file://``; only inside ``allowed_dirs`` when given),
    bytes and PIL images become a data URI. An image larger than the cap
    (:func:`effective_max_pixels`) is resized to exactly the grid the service would resize it
    to (same token count, far fewer bytes) and re-encoded: PNG for transparency and for
    synthetic pictures (screenshots, diagrams: text stays exact), else JPEG (grey when the
    picture has no colour); EXIF orientation is baked in. Smaller encoded images are sent byte
    for byte, unless over 10 MB as a data URI or over 4K in a format other than JPEG/PNG. PIL
    images are always encoded by the same rule. Raises :class:`QwenVLImageError` naming
    ``where``.

    Example:
        >>> prepare_image("https://example.com/cat.jpg").is_remote
        True
        >>> p = prepare_image(PIL.Image.new("RGB", (4032, 3024)))  # doctest: +SKIP
        >>> (p.width, p.height, p.resized)  # doctest: +SKIP
        (1856, 1376, True)
    """
    budget = resolve_budget(
        {"max_pixels": max_pixels, "min_pixels": min_pixels},
        MediaOptions(vl_high_resolution_images=vl_high_resolution_images),
        where,
    )
    policy = _policy(allowed_dirs)
    return prepare_located(_src.locate(source, where, policy), budget, policy, where)


def _image_ref(
    image: ImageSource | Mapping[str, Any], options: MediaOptions, where: str
) -> ImageRef:
    if isinstance(image, Mapping):
        source = image_source_from_block(image, where=where)
        if source is None:
            raise QwenVLImageError(
                f"{where}: block of type {image.get('type')!r} is not an image block — pass an "
                "image block ({'type': 'image', 'url': ...}) or an image."
            )
        return ImageRef(source, image, resolve_budget(image, options, where), where)
    return ImageRef(image, None, resolve_budget(None, options, where), where)


def estimate_image_tokens(
    image: ImageSource | Mapping[str, Any],
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    vl_high_resolution_images: bool = False,
    where: str = "image",
    allowed_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> int:
    """Input tokens the service will count for one image, without sending it.

    Reads only the image header (no pixel decoded) of paths, bytes and data URIs. ``image``
    may also be a content block (any form a message takes); its budget follows the same
    precedence as a request's: the block's own ``max_pixels``/``min_pixels``, then those
    nested in ``image_url``, then the arguments given here. An http(s) URL is never
    downloaded, so its size is unknown: the result is then the upper bound, the tokens of a
    full cap (``cap // 1024 + 2``, e.g. 2,562 at the default cap). Same for HEIC that Pillow
    cannot read.

    Example:
        >>> estimate_image_tokens(PIL.Image.new("RGB", (4032, 3024)))  # doctest: +SKIP
        2496
        >>> estimate_image_tokens("https://example.com/cat.jpg")
        2562
    """
    options = MediaOptions(max_pixels, min_pixels, vl_high_resolution_images)
    return _image_ref(image, options, where).tokens(_policy(allowed_dirs))


def image_size(
    image: ImageSource | Mapping[str, Any],
    *,
    where: str = "image",
    allowed_dirs: Sequence[str | os.PathLike[str]] | None = None,
) -> tuple[int, int] | None:
    """The (width, height) of an image as displayed (EXIF orientation applied), from its
    header only; None for an http(s) URL (never downloaded) or an undecodable HEIC.

    Example:
        >>> image_size("https://example.com/cat.jpg") is None
        True
    """
    from langchain_qwen_vl.media._prepare import measure_located

    ref = _image_ref(image, MediaOptions(), where)
    trusted = ref.trusted()
    if trusted is not None and trusted.original_size is not None:
        return trusted.original_size
    policy = _policy(allowed_dirs)
    return measure_located(ref.locate(policy), policy, where)


def image_block(
    source: ImageSource,
    *,
    max_pixels: int | None = None,
    min_pixels: int | None = None,
    vl_high_resolution_images: bool = False,
) -> dict[str, Any]:
    """A LangChain standard image block for any image input, small enough for traces.

    - A path (``str``, ``Path``, ``file://``) gives a block that references the file
      (``{"type": "image", "url": "file:///abs/path.jpg", "mime_type": ...}``): no bytes in the
      message; the file is read (and downscaled) when the request is sent. Best for traces,
      LLM caches and saved agent state.
    - Bytes, a data URI or a PIL image give the image already prepared for the budget
      (``max_pixels``, ``min_pixels``, ``vl_high_resolution_images``; default cap 2,621,440 px):
      never more pixels than will be sent, with its sizes in ``extras`` so that the request
      does not decode it again.
    - An http(s) URL is kept as it is.

    The header is checked here (format, sides, aspect ratio), so a bad image fails at once.
    ``max_pixels``/``min_pixels`` stay in the block as its own budget.

    Example:
        >>> image_block("https://example.com/cat.jpg", max_pixels=1_000_000)
        {'type': 'image', 'url': 'https://example.com/cat.jpg', 'max_pixels': 1000000}
        >>> HumanMessage([{"type": "text", "text": "What is this?"},
        ...               image_block("photo.jpg")])  # doctest: +SKIP
    """
    where = "image_block"
    options = MediaOptions(max_pixels, min_pixels, vl_high_resolution_images)
    budget = resolve_budget(None, options, where)
    keys = {"max_pixels": max_pixels, "min_pixels": min_pixels}
    located = _src.locate(source, where)
    if located.remote is not None:
        block: dict[str, Any] = {"type": "image", "url": located.remote}
        return block | {key: value for key, value in keys.items() if value is not None}
    if located.path is not None:
        try:
            handle = open(located.path, "rb")  # noqa: SIM115 - closed right below
        except OSError as error:
            raise QwenVLImageError(
                f"{located.subject} cannot be read ({error.strerror or error}) — check that it "
                "is a readable file."
            ) from None
        with handle:
            info = _codec.inspect(handle, located.subject)
        if info.size is not None:
            check_size(*info.size, located.subject)
        block = {"type": "image", "url": Path(os.path.abspath(located.path)).as_uri()}
        block["mime_type"] = info.mime
        return block | {key: value for key, value in keys.items() if value is not None}
    prepared = prepare_located(located, budget, _src.ANY_FILE, where)
    return prepared_block(prepared, **keys)
