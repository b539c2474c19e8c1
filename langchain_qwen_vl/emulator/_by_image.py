"""Replies keyed by image: ``by_image({"photo.jpg": "A red car."})``.

Clients resize and re-encode images before sending them (``ChatQwenVL`` does), so the bytes the
emulator receives rarely equal the file on disk. Keys are therefore matched by a small
*fingerprint* of what the image looks like (448 bits: a difference hash of a 17×16 greyscale
thumbnail, plus which areas of an 8×8 thumbnail are above the mean of each colour channel),
which survives resizing and JPEG/PNG re-encoding but tells different pictures
(or different pages of a scan) apart. The key whose fingerprint is nearest wins, if it is
within :data:`MAX_DISTANCE` bits; otherwise ``default`` applies.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from langchain_qwen_vl.emulator._script import (
    Reply,
    ScriptedImage,
    ScriptedRequest,
    normalise_reply,
)

#: Bits (of 448) two fingerprints may differ by and still count as the same image.
MAX_DISTANCE = 32
_SIDE = 16
_COLOUR_SIDE = 8


def image_fingerprint(image: Any) -> int:
    """A 448-bit fingerprint of an image: a path, bytes, or a ``PIL.Image.Image``.

    Example:
        >>> from PIL import Image
        >>> a = Image.new("RGB", (64, 48), "white")
        >>> image_fingerprint(a) == image_fingerprint(a.resize((640, 480)))
        True
    """
    from PIL import Image

    if isinstance(image, str | Path):
        with Image.open(image) as opened:
            return image_fingerprint(opened.copy())
    if isinstance(image, bytes | bytearray):
        with Image.open(io.BytesIO(image)) as opened:
            return image_fingerprint(opened.copy())
    if not isinstance(image, Image.Image):
        raise TypeError(
            f"an image key should be a path, bytes or a PIL image, got {type(image).__name__}"
        )
    grey = image.convert("L").resize((_SIDE + 1, _SIDE), Image.Resampling.BILINEAR).tobytes()
    bits = 0
    for row in range(_SIDE):  # where brightness rises or falls: layout, text lines, edges
        for col in range(_SIDE):
            offset = row * (_SIDE + 1) + col
            bits = (bits << 1) | (grey[offset] > grey[offset + 1])
    colour = image.convert("RGB").resize((_COLOUR_SIDE, _COLOUR_SIDE), Image.Resampling.BILINEAR)
    channels = colour.tobytes()
    for channel in range(3):  # which areas are above the mean of each channel: the colours
        values = channels[channel::3]
        mean = sum(values) / len(values)
        for value in values:
            bits = (bits << 1) | (value > mean)
    return bits


def _distance(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def by_image(
    replies: Mapping[Any, Reply] | Iterable[tuple[Any, Reply]],
    *,
    default: Reply | Callable[[ScriptedRequest], Reply] = None,
    max_distance: int = MAX_DISTANCE,
) -> Callable[[ScriptedRequest], Reply]:
    """A reply function that answers by the request's first image that matches a key.

    Args:
        replies: ``{image: reply}`` or ``[(image, reply), ...]`` (PIL images are not hashable);
            an image is a path, bytes or a PIL image. Replies are as in
            ``run_emulator(replies=[...])`` (a string, a dict with content/tool_calls, or None).
        default: the reply when no image matches (``None``: the emulator's own answer), or a
            function ``request -> reply``.
        max_distance: how many of the 448 fingerprint bits may differ.

    Example:
        >>> from PIL import Image
        >>> chart = Image.new("RGB", (64, 48), "navy")
        >>> answer = by_image([(chart, "Q3 sold the most.")])  # run_emulator(replies=answer)
    """
    keyed: list[tuple[int, Reply]] = []
    pairs = replies.items() if isinstance(replies, Mapping) else replies
    for key, reply in pairs:
        normalise_reply(reply, f"by_image reply for {str(key)[:60]!r}")  # fail early
        keyed.append((image_fingerprint(key), reply))

    def _nearest(image: ScriptedImage) -> tuple[int, Reply] | None:
        if image.data is None:
            return None
        try:
            print_ = image_fingerprint(image.data)
        except Exception:  # an undecodable image matches nothing
            return None
        scored = [(_distance(print_, fp), reply) for fp, reply in keyed]
        return min(scored, key=lambda item: item[0]) if scored else None

    def reply_for(request: ScriptedRequest) -> Reply:
        for image in request.images:
            best = _nearest(image)
            if best is not None and best[0] <= max_distance:
                return best[1]
        return default(request) if callable(default) else default

    return reply_for
