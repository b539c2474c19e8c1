"""``detect`` / ``point`` / ``detect_3d`` (and async twins): ask the model where things are.

A mixin of :class:`~langchain_qwen_vl.ChatQwenVL`. Each method prepares the image once (the
client downscales it to the server's cap like any other image), sends one prompt modelled on
the Qwen3-VL cookbooks, and parses the answer into results that remember the original
picture's size, so ``to_pixels()`` lands on the picture you passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

from langchain_core.messages import HumanMessage

from langchain_qwen_vl.errors import QwenVLInputError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import RunnableConfig

    from langchain_qwen_vl._grounding_types import (
        Box2D,
        Box3D,
        Coordinates,
        GroundingResult,
        Intrinsics,
        Point2D,
    )
    from langchain_qwen_vl.media import ImageSource

__all__ = ["GroundingMethodsMixin", "grounding_prompt"]

Kind = Literal["box", "point", "box_3d"]
_R = TypeVar("_R", "Box2D", "Point2D", "Box3D")

_FORMATS: dict[Kind, str] = {
    "box": (
        'Locate every instance that belongs to the following categories: "{targets}". '
        'Report bbox coordinates in JSON format: [{{"bbox_2d": [x1, y1, x2, y2], '
        '"label": "category"}}].'
    ),
    "point": (
        'Locate every instance that belongs to the following categories: "{targets}". '
        'Output the point coordinates in JSON format: [{{"point_2d": [x, y], '
        '"label": "category"}}].'
    ),
    "box_3d": (
        'Find every instance of the following categories in the image: "{targets}". For each, '
        "provide its 3D bounding box. The output format required is JSON: "
        '[{{"bbox_3d": [x_center, y_center, z_center, x_size, y_size, z_size, roll, pitch, '
        'yaw], "label": "category"}}].'
    ),
}
_COORDINATES = ("relative_1000", "absolute_resized")


def _targets(targets: Any, method: str) -> list[str]:
    items = [targets] if isinstance(targets, str) else targets
    if isinstance(items, Sequence) and items and all(isinstance(t, str) for t in items):
        cleaned = [" ".join(t.split()) for t in items]
        if all(cleaned):
            return cleaned
    raise QwenVLInputError(
        f"{method}: targets must be a non-empty string or list of non-empty strings, got "
        f"{targets!r} — e.g. targets=['car', 'person']."
    )


def grounding_prompt(kind: Kind, targets: str | Sequence[str]) -> str:
    """The prompt sent for ``kind`` ("box", "point" or "box_3d") and these targets.

    Example:
        >>> grounding_prompt("point", ["cup", "spoon"])[:75]
        'Locate every instance that belongs to the following categories: "cup, spoon'
    """
    return _FORMATS[kind].format(targets=", ".join(_targets(targets, "grounding_prompt")))


def _parse(text: str, context: dict[str, Any]) -> list[GroundingResult]:
    from langchain_qwen_vl._grounding_parse import parse_grounding

    return parse_grounding(text, **context)


def _kind_class(name: str) -> Any:
    from langchain_qwen_vl import _grounding_types as types

    return getattr(types, name)


@dataclass(frozen=True, slots=True)
class _Call:
    message: HumanMessage
    context: dict[str, Any]


class GroundingMethodsMixin:
    """Localization methods for a vision chat model (mixed into ``ChatQwenVL``)."""

    def _grounding_call(
        self,
        method: str,
        kind: Kind,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        coordinates: Coordinates | None,
        intrinsics: Any,
        model: Any,
    ) -> _Call:
        # Imported here: ``import langchain_qwen_vl`` stays cheap until localization is used.
        from langchain_qwen_vl import _grounding_types as types
        from langchain_qwen_vl import media

        prompt = _FORMATS[kind].format(targets=", ".join(_targets(targets, method)))
        if coordinates is not None and coordinates not in _COORDINATES:
            raise QwenVLInputError(
                f"{method}: coordinates must be 'relative_1000' (Qwen3-VL, Qwen2-VL) or "
                f"'absolute_resized' (Qwen2.5-VL), got {coordinates!r}."
            )
        try:
            camera = types.Intrinsics.coerce(intrinsics) if intrinsics is not None else None
        except ValueError as exc:
            raise QwenVLInputError(f"{method}: {exc}") from None
        source: Any = image
        if isinstance(image, Mapping):
            source = media.image_source_from_block(image, where=f"{method}: image")
            if source is None:
                raise QwenVLInputError(
                    f"{method}: image block of type {image.get('type')!r} holds no image — pass "
                    "an image block ({'type': 'image', 'url': ...}), a path, bytes or a PIL image."
                )
        high_res = bool(getattr(self, "vl_high_resolution_images", None))
        max_pixels = getattr(self, "max_pixels", None)
        prepared = media.prepare_image(
            source,
            max_pixels=max_pixels,
            min_pixels=getattr(self, "min_pixels", None),
            vl_high_resolution_images=high_res,
            where=f"{method}: image",
            allowed_dirs=getattr(self, "allowed_dirs", None),
        )
        family = str(model or getattr(self, "model", ""))
        convention = coordinates or types.coordinates_for_model(family)
        frame = None
        if convention == "absolute_resized" and prepared.width and prepared.height:
            cap = types.QWEN25_HIGH_RESOLUTION_MAX_PIXELS if high_res else max_pixels
            seen_h, seen_w = types.qwen25_resized_dimensions(
                prepared.height,
                prepared.width,
                max_pixels=cap or types.QWEN25_DEFAULT_MAX_PIXELS,
                min_pixels=types.QWEN25_MIN_PIXELS,
            )
            frame = (seen_w, seen_h)
        # Handed over prepared: the request sends it as it is, without a second decode.
        message = HumanMessage(
            content=[media.prepared_block(prepared), {"type": "text", "text": prompt}]
        )
        context = {
            "coordinates": convention,
            "frame_size": frame,
            "image_size": prepared.original_size,
            "intrinsics": camera,
        }
        return _Call(message, context)

    @staticmethod
    def _only(results: list[GroundingResult], kind: type[_R]) -> list[_R]:
        return [r for r in results if isinstance(r, kind)]

    def _ground(
        self, method: str, kind: Kind, image: Any, targets: Any, coordinates: Any,
        intrinsics: Any, config: RunnableConfig | None, kwargs: dict[str, Any],
    ) -> list[GroundingResult]:  # fmt: skip
        call = self._grounding_call(
            method, kind, image, targets, coordinates, intrinsics, kwargs.get("model")
        )
        answer = cast("BaseChatModel", self).invoke([call.message], config, **kwargs)
        return _parse(answer.text, call.context)

    async def _aground(
        self, method: str, kind: Kind, image: Any, targets: Any, coordinates: Any,
        intrinsics: Any, config: RunnableConfig | None, kwargs: dict[str, Any],
    ) -> list[GroundingResult]:  # fmt: skip
        call = self._grounding_call(
            method, kind, image, targets, coordinates, intrinsics, kwargs.get("model")
        )
        answer = await cast("BaseChatModel", self).ainvoke([call.message], config, **kwargs)
        return _parse(answer.text, call.context)

    def detect(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        *,
        coordinates: Coordinates | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Box2D]:
        """2D boxes of every instance of ``targets`` (a name or a list of names) in ``image``.

        ``image``: a path, bytes, data URI, PIL image, http(s) URL or image block. Results
        remember the original picture's size, so ``box.to_pixels()`` gives pixels of it (for an
        http(s) URL the size is unknown: call ``box.to_pixels(width, height)``).
        ``coordinates`` overrides the convention chosen from the model id (Qwen2.5-VL:
        ``"absolute_resized"``, others ``"relative_1000"``). Other keyword arguments (e.g.
        ``max_tokens``) go to ``invoke``. Raises :class:`GroundingParseError` when the answer
        holds no boxes and does not say that nothing was found.

        Example:
            >>> boxes = llm.detect("examples/assets/scene.jpg", "red square")  # doctest: +SKIP
            >>> boxes[0].label, boxes[0].to_pixels()  # doctest: +SKIP
            ('red square', (368.0, 176.0, 496.0, 304.0))
        """
        found = self._ground("detect", "box", image, targets, coordinates, None, config, kwargs)
        return self._only(found, _kind_class("Box2D"))

    async def adetect(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        *,
        coordinates: Coordinates | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Box2D]:
        """Async :meth:`detect`."""
        found = await self._aground(
            "adetect", "box", image, targets, coordinates, None, config, kwargs
        )
        return self._only(found, _kind_class("Box2D"))

    def point(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        *,
        coordinates: Coordinates | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Point2D]:
        """One point on every instance of ``targets`` in ``image`` (see :meth:`detect`)."""
        found = self._ground("point", "point", image, targets, coordinates, None, config, kwargs)
        return self._only(found, _kind_class("Point2D"))

    async def apoint(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        *,
        coordinates: Coordinates | None = None,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Point2D]:
        """Async :meth:`point`."""
        found = await self._aground(
            "apoint", "point", image, targets, coordinates, None, config, kwargs
        )
        return self._only(found, _kind_class("Point2D"))

    def detect_3d(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        intrinsics: Intrinsics | Mapping[str, float] | Sequence[float] | None = None,
        *,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Box3D]:
        """3D boxes (camera coordinates, metres) of every instance of ``targets`` in ``image``.

        ``intrinsics`` (fx, fy, cx, cy in pixels of the original picture; an
        :class:`Intrinsics`, a mapping or a 4-tuple) are stored on each box and used by
        ``box.project()``; without them projection assumes a 60° field of view.
        """
        found = self._ground(
            "detect_3d", "box_3d", image, targets, None, intrinsics, config, kwargs
        )
        return self._only(found, _kind_class("Box3D"))

    async def adetect_3d(
        self,
        image: ImageSource | Mapping[str, Any],
        targets: str | Sequence[str],
        intrinsics: Intrinsics | Mapping[str, float] | Sequence[float] | None = None,
        *,
        config: RunnableConfig | None = None,
        **kwargs: Any,
    ) -> list[Box3D]:
        """Async :meth:`detect_3d`."""
        found = await self._aground(
            "adetect_3d", "box_3d", image, targets, None, intrinsics, config, kwargs
        )
        return self._only(found, _kind_class("Box3D"))
