"""Visual localization: typed boxes, points and 3D boxes from Qwen-VL answers, in pixels, drawn.

- :func:`parse_grounding` reads what the model writes (```json fences, prose, one object or a
  list, several blocks, answers cut short) into :class:`Box2D`, :class:`Point2D` and
  :class:`Box3D`.
- :class:`GroundingOutputParser` does the same at the end of a chain
  (``prompt | model | GroundingOutputParser()``), streaming included.
- ``ChatQwenVL.detect`` / ``point`` / ``detect_3d`` (and ``a``-prefixed twins) ask the model and
  return results that map onto the picture you passed, however it was downscaled for sending.
- :func:`draw` draws results on a copy of a picture; :func:`crop_region` cuts a 0–1000 box out
  of the original at full resolution.

Coordinates: Qwen3-VL answers on a 0–1000 grid relative to the image (``"relative_1000"``);
Qwen2.5-VL answers in pixels of the image as it saw it, resized to multiples of 28 px
(``"absolute_resized"``). ``to_pixels(width, height)`` converts either to pixels of the
original picture.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from langchain_core.messages import BaseMessage
from langchain_core.output_parsers.transform import BaseTransformOutputParser
from langchain_core.outputs import Generation
from pydantic import field_validator

from langchain_qwen_vl._grounding_draw import crop_region, draw, label_colour
from langchain_qwen_vl._grounding_methods import grounding_prompt
from langchain_qwen_vl._grounding_parse import (
    GroundingParseError,
    find_results,
    parse_grounding,
)
from langchain_qwen_vl._grounding_types import (
    QWEN25_DEFAULT_MAX_PIXELS,
    QWEN25_GRID,
    QWEN25_HIGH_RESOLUTION_MAX_PIXELS,
    QWEN25_MIN_PIXELS,
    RELATIVE_GRID,
    Box2D,
    Box3D,
    Coordinates,
    GroundingResult,
    Intrinsics,
    Point2D,
    coordinates_for_model,
    qwen25_resized_dimensions,
)

__all__ = [
    "QWEN25_DEFAULT_MAX_PIXELS",
    "QWEN25_GRID",
    "QWEN25_HIGH_RESOLUTION_MAX_PIXELS",
    "QWEN25_MIN_PIXELS",
    "RELATIVE_GRID",
    "Box2D",
    "Box3D",
    "Coordinates",
    "GroundingOutputParser",
    "GroundingParseError",
    "GroundingResult",
    "Intrinsics",
    "Point2D",
    "coordinates_for_model",
    "crop_region",
    "draw",
    "grounding_prompt",
    "label_colour",
    "parse_grounding",
    "qwen25_resized_dimensions",
]


class GroundingOutputParser(BaseTransformOutputParser[list[GroundingResult]]):
    """LangChain output parser: a model's answer -> ``list[Box2D | Point2D | Box3D]``.

    ``prompt | model | GroundingOutputParser()`` works with ``invoke`` and ``stream``. When
    streaming, a list is emitted each time a JSON value in the answer is complete (so usually
    once); items of a list still being written are never emitted. The final parse is
    :func:`parse_grounding`'s: ``[]`` when the answer says nothing was found, else a
    :class:`GroundingParseError` (an ``OutputParserException``) carrying the raw text.

    Example:
        >>> GroundingOutputParser().invoke('```json\\n[{"point_2d": [925, 618], "label": "spot"}]\\n```')
        [Point2D(label='spot', coordinates='relative_1000', frame_size=None, image_size=None, x=925.0, y=618.0)]
    """  # noqa: E501

    coordinates: Coordinates = "relative_1000"
    """The convention the model answers in (``"absolute_resized"`` for Qwen2.5-VL)."""
    frame_size: tuple[int, int] | None = None
    """For ``absolute_resized``: the (width, height) the model saw."""
    image_size: tuple[int, int] | None = None
    """(width, height) of the original picture, so ``to_pixels()`` needs no arguments."""
    intrinsics: Intrinsics | None = None
    """Camera intrinsics stored on 3D boxes (None: a 60° field of view)."""

    @field_validator("intrinsics", mode="before")
    @classmethod
    def _camera(cls, value: Any) -> Intrinsics | None:
        return None if value is None else Intrinsics.coerce(value)

    @property
    def _type(self) -> str:
        return "qwen_vl_grounding"

    def _context(self) -> dict[str, Any]:
        return {
            "coordinates": self.coordinates,
            "frame_size": self.frame_size,
            "image_size": self.image_size,
            "intrinsics": self.intrinsics,
        }

    def parse_result(
        self, result: list[Generation], *, partial: bool = False
    ) -> list[GroundingResult]:
        """``partial=True``: the items of the JSON values complete so far (never raises)."""
        text = result[0].text
        if partial:
            return self._complete_so_far(text)
        return parse_grounding(text, **self._context())

    def _complete_so_far(self, text: str) -> list[GroundingResult]:
        try:
            return find_results(text, strict=True, **self._context())[0]
        except GroundingParseError:
            return []

    def parse(self, text: str) -> list[GroundingResult]:
        return parse_grounding(text, **self._context())

    def get_format_instructions(self) -> str:
        return (
            'Answer in JSON inside a ```json fence: [{"bbox_2d": [x1, y1, x2, y2], "label": '
            '"..."}] for boxes or [{"point_2d": [x, y], "label": "..."}] for points, with '
            "coordinates on a 0–1000 grid of the image."
        )

    # Streaming: emit a list whenever a JSON value completes, then the final parse (so the last
    # item streamed equals what ``invoke`` returns, ``[]`` for "nothing found" included).

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[list[GroundingResult]]:
        stream = _Accumulator(self)
        for chunk in input:
            found = stream.feed(chunk)
            if found is not None:
                yield found
        final = stream.finish()
        if final is not None:
            yield final

    async def _atransform(
        self, input: AsyncIterator[str | BaseMessage]
    ) -> AsyncIterator[list[GroundingResult]]:
        stream = _Accumulator(self)
        async for chunk in input:
            found = stream.feed(chunk)
            if found is not None:
                yield found
        final = stream.finish()
        if final is not None:
            yield final


class _Accumulator:
    """The text streamed so far and the last list emitted for it."""

    def __init__(self, parser: GroundingOutputParser) -> None:
        self._parser = parser
        self._text: list[str] = []
        self._last: list[GroundingResult] | None = None

    def _emit(self, found: list[GroundingResult] | None) -> list[GroundingResult] | None:
        if found is None or found == self._last:
            return None
        self._last = found
        return found

    def feed(self, chunk: str | BaseMessage) -> list[GroundingResult] | None:
        self._text.append(chunk if isinstance(chunk, str) else chunk.text)
        text = "".join(self._text)
        return self._emit(self._parser._complete_so_far(text) or None)

    def finish(self) -> list[GroundingResult] | None:
        return self._emit(self._parser.parse("".join(self._text)))
