"""Typed localization results and the two coordinate conventions they can be written in.

Qwen3-VL (and Qwen2-VL) write coordinates on a 0–1000 grid relative to the image
(``"relative_1000"``); Qwen2.5-VL writes absolute pixels of the image *as the model saw it*
(``"absolute_resized"``): the uploaded image resized to a 28-px grid by
:func:`qwen25_resized_dimensions`. Each result remembers its convention, the size its numbers
are measured in (``frame_size``, for ``absolute_resized``) and, when known, the original
picture's size (``image_size``), so ``to_pixels()`` maps it onto the user's picture.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = [
    "QWEN25_DEFAULT_MAX_PIXELS",
    "QWEN25_GRID",
    "QWEN25_HIGH_RESOLUTION_MAX_PIXELS",
    "QWEN25_MIN_PIXELS",
    "RELATIVE_GRID",
    "Box2D",
    "Box3D",
    "Coordinates",
    "GroundingResult",
    "Intrinsics",
    "Point2D",
    "coordinates_for_model",
    "qwen25_resized_dimensions",
]

Coordinates: TypeAlias = Literal["relative_1000", "absolute_resized"]

#: Qwen3-VL / Qwen2-VL coordinates run from 0 to 1000 across each side (some docs say 0–999;
#: both fit inside this range, and 1000 is the divisor the Qwen3-VL docs give).
RELATIVE_GRID = 1000

# --- Qwen2.5-VL's resize rule (a different model family from Qwen3-VL's 32-px rule in media) --
#: Qwen2.5-VL resizes every image to sides that are multiples of 28 px (14-px patches, 2×2 merge).
QWEN25_GRID = 28
#: Qwen2.5-VL's pixel floor: 4 tokens of 28×28 px.
QWEN25_MIN_PIXELS = 4 * QWEN25_GRID * QWEN25_GRID
#: Qwen2.5-VL's default cap on DashScope: 1,280 tokens of 28×28 px.
QWEN25_DEFAULT_MAX_PIXELS = 1280 * QWEN25_GRID * QWEN25_GRID
#: Qwen2.5-VL's cap with ``vl_high_resolution_images``: 16,384 tokens of 28×28 px.
QWEN25_HIGH_RESOLUTION_MAX_PIXELS = 16384 * QWEN25_GRID * QWEN25_GRID


def qwen25_resized_dimensions(
    height: int,
    width: int,
    *,
    max_pixels: int = QWEN25_DEFAULT_MAX_PIXELS,
    min_pixels: int = QWEN25_MIN_PIXELS,
) -> tuple[int, int]:
    """(height, width) of the image a Qwen2.5-VL model sees: its absolute coordinates' frame.

    Each side is rounded to a multiple of 28; over ``max_pixels`` both shrink (floor), under
    ``min_pixels`` both grow (ceil), keeping the aspect ratio.

    Example:
        >>> qwen25_resized_dimensions(480, 640)
        (476, 644)
    """
    from langchain_qwen_vl.media import resized_dimensions

    # The same formula as Qwen3-VL's, on Qwen2.5-VL's 28-px grid.
    return resized_dimensions(
        height, width, max_pixels=max_pixels, min_pixels=min_pixels, factor=QWEN25_GRID
    )


def coordinates_for_model(model: str) -> Coordinates:
    """The convention a model family answers in: Qwen2.5-VL absolute, everything else relative.

    Example:
        >>> coordinates_for_model("qwen3-vl-flash"), coordinates_for_model("qwen2.5-vl-72b")
        ('relative_1000', 'absolute_resized')
    """
    name = model.lower().replace("_", ".").replace("-", ".")
    return "absolute_resized" if "qwen2.5" in name else "relative_1000"


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _size(value: Any, name: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in value)
    except (TypeError, ValueError):
        width = height = 0
    if width <= 0 or height <= 0:
        raise ValueError(
            f"{name} must be a (width, height) pair of positive integers, got {value!r}"
        )
    return width, height


class _Located(BaseModel):
    """Fields every result shares; unknown keys the model wrote are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    label: str = ""
    coordinates: Coordinates = "relative_1000"
    """The convention the numbers are written in (see the module docstring)."""
    frame_size: tuple[int, int] | None = None
    """(width, height) the numbers are measured in for ``absolute_resized``: the image as the
    model saw it. None: computed from the size given to ``to_pixels`` by Qwen2.5-VL's rule."""
    image_size: tuple[int, int] | None = None
    """(width, height) of the original picture when known (None for http(s) URLs)."""

    def _target(self, width: int | None, height: int | None) -> tuple[int, int]:
        if width is None and height is None:
            if self.image_size is None:
                raise ValueError(
                    f"{type(self).__name__}.to_pixels: the original image size is unknown "
                    "(an http(s) URL is never downloaded) — pass to_pixels(width, height)."
                )
            return self.image_size
        return _size((width, height), "to_pixels(width, height)")

    def _frame(self, width: int, height: int) -> tuple[float, float]:
        """(width, height) of the coordinate frame for a picture of ``width``×``height``."""
        if self.coordinates == "relative_1000":
            return float(RELATIVE_GRID), float(RELATIVE_GRID)
        if self.frame_size is not None:
            return float(self.frame_size[0]), float(self.frame_size[1])
        seen_h, seen_w = qwen25_resized_dimensions(height, width)
        return float(seen_w), float(seen_h)

    def _map(self, x: float, y: float, width: int, height: int) -> tuple[float, float]:
        frame_w, frame_h = self._frame(width, height)
        return (
            _clip(x, 0.0, frame_w) / frame_w * width,
            _clip(y, 0.0, frame_h) / frame_h * height,
        )


def _check_sizes(data: Any) -> Any:
    if isinstance(data, Mapping):
        for name in ("frame_size", "image_size"):
            if data.get(name) is not None:
                data = {**data, name: _size(data[name], name)}
    return data


class Box2D(_Located):
    """A 2D box ``(x1, y1, x2, y2)`` as the model wrote it (corners ordered, clipped to range).

    Example:
        >>> Box2D(label="cat", x1=500, y1=0, x2=250, y2=1200).to_pixels(640, 480)
        (160.0, 0.0, 320.0, 480.0)
    """

    x1: float
    y1: float
    x2: float
    y2: float
    score: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        data = _check_sizes(data)
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        for low, high in (("x1", "x2"), ("y1", "y2")):
            pair = data.get(low), data.get(high)
            if all(isinstance(v, int | float) for v in pair) and pair[0] > pair[1]:
                data[low], data[high] = pair[1], pair[0]
        limit_w, limit_h = _limits(data)
        for name, limit in (("x1", limit_w), ("x2", limit_w), ("y1", limit_h), ("y2", limit_h)):
            if isinstance(data.get(name), int | float):
                data[name] = _clip(float(data[name]), 0.0, limit)
        return data

    def to_pixels(
        self, width: int | None = None, height: int | None = None
    ) -> tuple[float, float, float, float]:
        """``(x1, y1, x2, y2)`` in pixels of the original picture of ``width``×``height``.

        Without arguments, the remembered ``image_size`` is used (unknown for http(s) URLs).
        """
        w, h = self._target(width, height)
        x1, y1 = self._map(self.x1, self.y1, w, h)
        x2, y2 = self._map(self.x2, self.y2, w, h)
        return x1, y1, x2, y2


class Point2D(_Located):
    """A point ``(x, y)`` as the model wrote it (clipped to range).

    Example:
        >>> Point2D(label="cup", x=925, y=618).to_pixels(1000, 500)
        (925.0, 309.0)
    """

    x: float
    y: float

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        data = _check_sizes(data)
        if not isinstance(data, Mapping):
            return data
        data = dict(data)
        limit_w, limit_h = _limits(data)
        for name, limit in (("x", limit_w), ("y", limit_h)):
            if isinstance(data.get(name), int | float):
                data[name] = _clip(float(data[name]), 0.0, limit)
        return data

    def to_pixels(self, width: int | None = None, height: int | None = None) -> tuple[float, float]:
        """``(x, y)`` in pixels of the original picture of ``width``×``height``."""
        w, h = self._target(width, height)
        return self._map(self.x, self.y, w, h)


def _limits(data: Mapping[str, Any]) -> tuple[float, float]:
    """Largest valid coordinate per axis for the convention in ``data`` (inf when unknown)."""
    if data.get("coordinates", "relative_1000") == "relative_1000":
        return float(RELATIVE_GRID), float(RELATIVE_GRID)
    frame = data.get("frame_size")
    if frame is None:
        return math.inf, math.inf
    return float(frame[0]), float(frame[1])


class Intrinsics(BaseModel):
    """Pinhole camera intrinsics in pixels of the original picture."""

    model_config = ConfigDict(frozen=True)

    fx: float = Field(gt=0)
    fy: float = Field(gt=0)
    cx: float
    cy: float

    @classmethod
    def from_fov(cls, width: int, height: int, fov_degrees: float = 60.0) -> Intrinsics:
        """Intrinsics of a camera with this field of view on both axes (the cookbook's default).

        Example:
            >>> Intrinsics.from_fov(640, 480)
            Intrinsics(fx=554.2562584220408, fy=415.69219381653056, cx=320.0, cy=240.0)
        """
        width, height = _size((width, height), "Intrinsics.from_fov(width, height)")
        half = math.tan(math.radians(fov_degrees) / 2)
        return cls(fx=width / (2 * half), fy=height / (2 * half), cx=width / 2, cy=height / 2)

    @classmethod
    def coerce(cls, value: Any) -> Intrinsics:
        """An :class:`Intrinsics` from itself, a mapping with fx/fy/cx/cy, or a 4-sequence."""
        if isinstance(value, Intrinsics):
            return value
        try:
            if isinstance(value, Mapping):
                return cls(**{k: value[k] for k in ("fx", "fy", "cx", "cy")})
            if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 4:
                return cls(fx=value[0], fy=value[1], cx=value[2], cy=value[3])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"intrinsics: {value!r} is not valid ({exc})") from None
        raise ValueError(
            f"intrinsics must be Intrinsics, a mapping with fx, fy, cx, cy or a (fx, fy, cx, cy) "
            f"tuple in pixels, got {value!r}"
        )


#: Local corner signs in the cookbook's order: x, then y, then z, each + before -.
_CORNER_SIGNS = tuple((sx, sy, sz) for sx in (1, -1) for sy in (1, -1) for sz in (1, -1))
#: The 12 edges of a box: corner pairs whose signs differ on exactly one axis.
BOX3D_EDGES = tuple(
    (i, j)
    for i in range(8)
    for j in range(i + 1, 8)
    if sum(a != b for a, b in zip(_CORNER_SIGNS[i], _CORNER_SIGNS[j], strict=True)) == 1
)


class Box3D(_Located):
    """A 3D box in camera coordinates (metres; x right, y down, z forward from the camera).

    The model writes ``[x, y, z, x_size, y_size, z_size, roll, pitch, yaw]`` and the fields
    keep those names. The angles are fractions of π. The official cookbook, whose drawings the
    model's answers are made to match, reads the last three numbers in (pitch, yaw, roll)
    order: the 7th number (``roll`` here) turns the box about the camera's X axis, then the 8th
    (``pitch``) about Y, then the 9th (``yaw``) about Z. :meth:`project` follows the cookbook.
    """

    x: float
    y: float
    z: float
    x_size: float
    y_size: float
    z_size: float
    roll: float = 0.0
    pitch: float = 0.0
    yaw: float = 0.0
    intrinsics: Intrinsics | None = None
    """Camera intrinsics given to ``detect_3d``; None means a 60° field of view."""

    @model_validator(mode="before")
    @classmethod
    def _sizes(cls, data: Any) -> Any:
        return _check_sizes(data)

    def corners_3d(self) -> list[tuple[float, float, float]]:
        """The 8 corners in camera coordinates (metres), in the cookbook's order."""
        angles = (self.roll * math.pi, self.pitch * math.pi, self.yaw * math.pi)
        about_x, about_y, about_z = ((math.cos(a), math.sin(a)) for a in angles)
        corners = []
        for sx, sy, sz in _CORNER_SIGNS:
            x0, y0, z0 = sx * self.x_size / 2, sy * self.y_size / 2, sz * self.z_size / 2
            c, s = about_x
            y1, z1 = y0 * c - z0 * s, y0 * s + z0 * c
            c, s = about_y
            x2, z2 = x0 * c + z1 * s, -x0 * s + z1 * c
            c, s = about_z
            x3, y3 = x2 * c - y1 * s, x2 * s + y1 * c
            corners.append((x3 + self.x, y3 + self.y, z2 + self.z))
        return corners

    def project(
        self,
        width: int | None = None,
        height: int | None = None,
        intrinsics: Intrinsics | Mapping[str, float] | Sequence[float] | None = None,
    ) -> list[tuple[float, float]]:
        """The 8 corners in pixels of a ``width``×``height`` picture (cookbook order).

        ``intrinsics`` (fx, fy, cx, cy in pixels) default to the ones given to ``detect_3d``,
        else a 60° field of view: ``fx = w/(2·tan 30°)``, ``fy = h/(2·tan 30°)``, ``cx = w/2``,
        ``cy = h/2``. Raises ``ValueError`` if a corner is not in front of the camera.

        Example:
            >>> box = Box3D(x=0, y=0, z=5, x_size=2, y_size=2, z_size=2)
            >>> box.project(100, 100, intrinsics=(100, 100, 50, 50))[0]
            (66.66666666666667, 66.66666666666667)
        """
        chosen = intrinsics if intrinsics is not None else self.intrinsics
        if chosen is None:
            w, h = self._target(width, height)
            camera = Intrinsics.from_fov(w, h)
        else:
            camera = Intrinsics.coerce(chosen)
        points = []
        for index, (x, y, z) in enumerate(self.corners_3d()):
            if z <= 0:
                raise ValueError(
                    f"Box3D {self.label!r}: corner {index} is behind the camera (z = {z:.3f} m); "
                    "it cannot be projected."
                )
            points.append((camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy))
        return points

    def to_pixels(
        self, width: int | None = None, height: int | None = None
    ) -> list[tuple[float, float]]:
        """The 8 projected corners in pixels (same as :meth:`project` with its defaults)."""
        return self.project(width, height)


GroundingResult: TypeAlias = Box2D | Point2D | Box3D
