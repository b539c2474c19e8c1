"""Pictures for localization results: the original image, boxes drawn on it, regions cut from it.

Images are read the way users hand them over: a path (``str``, ``os.PathLike``, ``file://``),
raw bytes, a ``data:`` URI or a PIL image; EXIF orientation is applied, so coordinates refer to
the picture as it is displayed (and as the model sees it). http(s) URLs are never downloaded.
"""

from __future__ import annotations

import colorsys
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from langchain_qwen_vl._grounding_types import RELATIVE_GRID, Box2D, Box3D, GroundingResult, Point2D

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

__all__ = ["crop_region", "draw", "label_colour", "load_image"]

#: Distinct, saturated hues (golden-angle steps) so neighbouring labels never look alike.
_GOLDEN_ANGLE = 0.381966


def _open(source: Any, where: str) -> Image.Image:
    """Open (lazily, header only) the image ``source``; the caller must close it.

    Every input form is located by the media package's rules (paths, ``file://``, bytes,
    data URIs, standard blocks' values); http(s) URLs are refused: they are never downloaded.
    """
    from PIL import Image as PILImage

    from langchain_qwen_vl.media import _sources

    if isinstance(source, PILImage.Image):
        return source
    located = _sources.locate(source, where)
    if located.remote is not None:
        raise ValueError(
            f"{where}: {located.remote[:80]!r} is an http(s) URL, which is never downloaded — "
            "pass the picture itself (a path, bytes or a PIL image)."
        )
    try:
        if located.path is not None:
            return PILImage.open(located.path)
        return PILImage.open(io.BytesIO(located.data or b""))
    except (OSError, PILImage.DecompressionBombError) as exc:
        raise ValueError(f"{located.subject} cannot be read as an image ({exc})") from exc


def load_image(source: Any, *, where: str = "image") -> Image.Image:
    """A new, fully loaded copy of the picture as displayed (EXIF orientation applied)."""
    from PIL import ImageOps

    image = _open(source, where)
    try:
        return ImageOps.exif_transpose(image)  # always a copy, even without EXIF
    finally:
        if image is not source:
            image.close()


def _box_values(box: Box2D | Sequence[float]) -> tuple[float, float, float, float]:
    if isinstance(box, Box2D):
        if box.coordinates != "relative_1000":
            raise ValueError("region: crop_region needs a 0–1000 box; this Box2D is absolute")
        return box.x1, box.y1, box.x2, box.y2
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ValueError(
            f"region must be 4 numbers [x1, y1, x2, y2] on the 0–1000 grid, got {box!r} — "
            "e.g. [250, 250, 750, 750] for the centre."
        )
    x1, y1, x2, y2 = values
    return x1, y1, x2, y2


def crop_region(image: Any, box_1000: Box2D | Sequence[float]) -> Image.Image:
    """The part of the original picture inside a 0–1000 box, at full resolution.

    Corners are ordered and clipped to the picture; the crop is at least 1×1 px.

    Example:
        >>> crop_region("examples/assets/scene.jpg", [575, 367, 775, 633]).size  # doctest: +SKIP
        (128, 128)
    """
    x1, y1, x2, y2 = _box_values(box_1000)
    picture = load_image(image, where="crop_region: image")
    width, height = picture.size

    def edges(low: float, high: float, side: int) -> tuple[int, int]:
        low, high = sorted((low, high))
        start = math.floor(min(max(low, 0.0), RELATIVE_GRID) / RELATIVE_GRID * side)
        stop = math.ceil(min(max(high, 0.0), RELATIVE_GRID) / RELATIVE_GRID * side)
        start = min(start, side - 1)
        return start, max(stop, start + 1)

    left, right = edges(x1, x2, width)
    top, bottom = edges(y1, y2, height)
    return picture.crop((left, top, right, bottom))


# --- drawing ---------------------------------------------------------------------------------


def label_colour(index: int) -> tuple[int, int, int]:
    """The colour of the ``index``-th distinct label: saturated, spread around the hue circle.

    Example:
        >>> label_colour(0)
        (255, 38, 38)
    """
    hue = (index * _GOLDEN_ANGLE) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return round(red * 255), round(green * 255), round(blue * 255)


def _contrast(colour: tuple[int, int, int]) -> tuple[int, int, int]:
    red, green, blue = colour
    return (0, 0, 0) if 0.299 * red + 0.587 * green + 0.114 * blue > 140 else (255, 255, 255)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


class _Painter:
    def __init__(self, picture: Image.Image, line_width: int | None, font_size: int | None):
        from PIL import ImageDraw

        short = min(picture.size)
        self.width, self.height = picture.size
        self.line = line_width or max(2, round(short / 200))
        self.font = _font(font_size or max(12, round(short / 28)))
        self.canvas: ImageDraw.ImageDraw = ImageDraw.Draw(picture)
        self.colours: dict[str, tuple[int, int, int]] = {}

    def colour(self, label: str) -> tuple[int, int, int]:
        if label not in self.colours:
            self.colours[label] = label_colour(len(self.colours))
        return self.colours[label]

    def tag(self, label: str, x: float, y: float, colour: tuple[int, int, int]) -> None:
        """A filled tag above (x, y), kept inside the picture; text in a contrasting colour."""
        if not label:
            return
        left, top, right, bottom = self.canvas.textbbox((0, 0), label, font=self.font)
        pad = max(1, self.line)
        w, h = right - left + 2 * pad, bottom - top + 2 * pad
        tx = min(max(0.0, x), max(0.0, self.width - w))
        ty = y - h if y - h >= 0 else y
        ty = min(ty, max(0.0, self.height - h))
        self.canvas.rectangle((tx, ty, tx + w, ty + h), fill=colour)
        self.canvas.text(
            (tx + pad - left, ty + pad - top), label, fill=_contrast(colour), font=self.font
        )

    def segment(
        self, a: tuple[float, float], b: tuple[float, float], colour: tuple[int, int, int]
    ) -> None:
        self.canvas.line((a, b), fill=(0, 0, 0), width=self.line + 2)
        self.canvas.line((a, b), fill=colour, width=self.line)

    def box(self, result: Box2D) -> None:
        colour = self.colour(result.label)
        x1, y1, x2, y2 = result.to_pixels(self.width, self.height)
        self.canvas.rectangle(
            (x1 - 1, y1 - 1, x2 + 1, y2 + 1), outline=(0, 0, 0), width=self.line + 2
        )
        self.canvas.rectangle((x1, y1, x2, y2), outline=colour, width=self.line)
        self.tag(result.label, x1, y1, colour)

    def point(self, result: Point2D) -> None:
        colour = self.colour(result.label)
        x, y = result.to_pixels(self.width, self.height)
        radius = 2 * self.line + 2
        self.canvas.ellipse(
            (x - radius - 1, y - radius - 1, x + radius + 1, y + radius + 1), fill=(0, 0, 0)
        )
        self.canvas.ellipse(
            (x - radius, y - radius, x + radius, y + radius), fill=colour, outline=(255, 255, 255)
        )
        self.tag(result.label, x + radius, y - radius, colour)

    def box_3d(self, result: Box3D) -> None:
        from langchain_qwen_vl._grounding_types import BOX3D_EDGES

        colour = self.colour(result.label)
        try:
            corners = result.project(self.width, self.height)
        except ValueError:
            return  # a corner behind the camera: nothing sensible to draw
        for i, j in BOX3D_EDGES:
            self.segment(corners[i], corners[j], colour)
        top = min(corners, key=lambda c: c[1])
        self.tag(result.label, top[0], top[1], colour)


def draw(
    image: Any,
    results: Sequence[GroundingResult],
    *,
    line_width: int | None = None,
    font_size: int | None = None,
) -> Image.Image:
    """A new picture with every result drawn: labelled boxes, points and 3D wireframes.

    ``image`` is the original picture (path, bytes, data URI or PIL image; it is not changed).
    Each label gets its own colour; lines have a dark halo and labels sit on a filled tag, so
    both read on light and dark pictures. Line width and font size scale with the picture
    unless given. A 3D box with a corner behind the camera is skipped.

    Example:
        >>> from langchain_qwen_vl.grounding import Box2D, draw
        >>> red = Box2D(label="red", x1=575, y1=367, x2=775, y2=633)
        >>> draw("examples/assets/scene.jpg", [red])  # doctest: +SKIP
        <PIL.Image.Image image mode=RGB size=640x480 at ...>
    """
    picture = load_image(image, where="draw: image").convert("RGB")
    painter = _Painter(picture, line_width, font_size)
    for result in results:
        if isinstance(result, Box3D):
            painter.box_3d(result)
        elif isinstance(result, Box2D):
            painter.box(result)
        elif isinstance(result, Point2D):
            painter.point(result)
        else:
            raise TypeError(
                f"draw: results must be Box2D, Point2D or Box3D, got {type(result).__name__}"
            )
    return picture
