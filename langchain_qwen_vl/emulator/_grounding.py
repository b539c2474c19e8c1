"""Localization answers: the true boxes of solid-colour regions, in the real model's JSON shape.

When the last user message asks for coordinates (it mentions ``bbox``, "bounding box",
``point_2d``, "coordinates", 坐标 or 边界框) and the first image is a ``data:`` URI, the
emulator answers like Qwen3-VL: a ```json fence holding ``bbox_2d`` boxes on the 0–1000 grid
(``point_2d`` points at box centres when points are asked for, ``bbox_3d`` boxes when 3D is).

What it locates are connected regions of one colour, named like the colour report does
("red", "blue", "dark grey", ...). The colours named in the prompt pick the regions (each
labelled with the prompt's phrase that named it, e.g. "red square"); a prompt naming no colour
gets every region except the largest colour (the background). Regions are measured on a
nearest-neighbour sample of at most :data:`SAMPLE_SIDE` px per side, so boxes are exact to
about 0.4% of a side. Images the emulator cannot read here (remote or loopback URLs) get the
ordinary free-text answer.

3D boxes are made up to be consistent with the 2D ones: seen by a 60° field-of-view camera,
the front face of each box sits :data:`DEPTH_M` metres away and projects exactly onto the 2D
box; depth is the smaller of its width and height; angles are 0.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageOps

from langchain_qwen_vl.emulator._errors import ServiceError
from langchain_qwen_vl.emulator._images import colour_name, decode_data_uri_bytes

Kind = Literal["box", "point", "box_3d"]

#: Longest side of the sample the regions are measured on.
SAMPLE_SIDE = 250
#: A region smaller than this share of the picture is noise (grain, anti-aliased edges).
MIN_REGION_SHARE = 0.002
#: Distance of each 3D box's front face from the camera, in metres.
DEPTH_M = 3.0
_TAN_HALF_FOV = math.tan(math.radians(30))
_GRID = 1000

_ASKS_FOR_COORDINATES = re.compile(
    r"bbox|bounding\s+box|point_2d|coordinates|坐标|边界框", re.IGNORECASE
)
_ASKS_FOR_3D = re.compile(r"bbox_3d|3d\s+(?:bounding\s+)?box|三维", re.IGNORECASE)
_ASKS_FOR_POINTS = re.compile(r"point_2d|\bpoints?\b", re.IGNORECASE)
_CATEGORIES = re.compile(r"categories[^\"]{0,40}?:\s*\"([^\"]+)\"", re.IGNORECASE)
_COLOUR_NAMES = (
    "light grey",
    "dark grey",
    "dark red",
    "magenta",
    "orange",
    "yellow",
    "purple",
    "black",
    "brown",
    "green",
    "white",
    "grey",
    "pink",
    "cyan",
    "blue",
    "red",
)
_SPELLINGS = {"gray": "grey", "light gray": "light grey", "dark gray": "dark grey"}


@dataclass(frozen=True, slots=True)
class Region:
    """A connected one-colour region: its colour name and box in 0–1000 grid units."""

    name: str
    x1: float
    y1: float
    x2: float
    y2: float
    pixels: int


def localization_kind(text: str) -> Kind | None:
    """What a prompt asks to locate: ``"box"``, ``"point"``, ``"box_3d"`` or None.

    Example:
        >>> localization_kind('Report bbox coordinates in JSON'), localization_kind("Hi")
        ('box', None)
    """
    if not _ASKS_FOR_COORDINATES.search(text) and not _ASKS_FOR_3D.search(text):
        return None
    if _ASKS_FOR_3D.search(text):
        return "box_3d"
    if _ASKS_FOR_POINTS.search(text) and "bbox" not in text.lower():
        return "point"
    return "box"


def _colours_in(phrase: str) -> list[str]:
    lowered = phrase.lower()
    for spelling, name in _SPELLINGS.items():
        lowered = lowered.replace(spelling, name)
    found: list[str] = []
    for name in _COLOUR_NAMES:  # longest first: "dark red" before "red"
        pattern = re.compile(rf"\b{re.escape(name)}\b")
        if pattern.search(lowered):
            found.append(name)
            lowered = pattern.sub(" ", lowered)
    return found


def colour_targets(text: str) -> dict[str, str]:
    """Colour name -> label for every colour the prompt names (the categories list if any).

    Example:
        >>> colour_targets('categories: "red square, dark grey bar". Report bbox')
        {'red': 'red square', 'dark grey': 'dark grey bar'}
    """
    listed = _CATEGORIES.search(text)
    phrases = listed.group(1).split(",") if listed else [text]
    targets: dict[str, str] = {}
    for phrase in phrases:
        label = " ".join(phrase.split())
        for name in _colours_in(phrase):
            targets.setdefault(name, label if listed else name)
    return targets


def find_regions(image: Image.Image) -> list[Region]:
    """Connected one-colour regions of ``image`` (4-neighbour), largest-share noise removed."""
    scale = min(1.0, SAMPLE_SIDE / max(image.size))
    width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
    sample = image.convert("RGB").resize((width, height), Image.Resampling.NEAREST)
    names: dict[tuple[int, int, int], str] = {}
    raw = sample.tobytes()
    grid = [
        names[p] if p in names else names.setdefault(p, colour_name(*p))
        for p in zip(raw[0::3], raw[1::3], raw[2::3], strict=True)
    ]
    seen = bytearray(width * height)
    minimum = max(1, round(MIN_REGION_SHARE * width * height))
    regions: list[Region] = []
    for start in range(width * height):
        if seen[start]:
            continue
        name = grid[start]
        seen[start] = 1
        queue = deque([start])
        count, left, top, right, bottom = 0, width, height, -1, -1
        while queue:
            index = queue.popleft()
            y, x = divmod(index, width)
            count += 1
            left, right, top, bottom = min(left, x), max(right, x), min(top, y), max(bottom, y)
            for neighbour, inside in (
                (index - 1, x > 0),
                (index + 1, x < width - 1),
                (index - width, y > 0),
                (index + width, y < height - 1),
            ):
                if inside and not seen[neighbour] and grid[neighbour] == name:
                    seen[neighbour] = 1
                    queue.append(neighbour)
        if count >= minimum:
            regions.append(
                Region(
                    name,
                    left / width * _GRID,
                    top / height * _GRID,
                    (right + 1) / width * _GRID,
                    (bottom + 1) / height * _GRID,
                    count,
                )
            )
    return regions


def _picked(regions: list[Region], targets: dict[str, str]) -> list[tuple[str, Region]]:
    if targets:
        chosen = [(targets[r.name], r) for r in regions if r.name in targets]
    else:
        totals: dict[str, int] = {}
        for region in regions:
            totals[region.name] = totals.get(region.name, 0) + region.pixels
        background = max(totals, key=lambda n: totals[n]) if totals else None
        chosen = [(r.name, r) for r in regions if r.name != background]
    return sorted(chosen, key=lambda item: (round(item[1].y1), round(item[1].x1)))


def _item(kind: Kind, label: str, region: Region) -> dict[str, object]:
    if kind == "box_3d":
        spread = 2 * _TAN_HALF_FOV * DEPTH_M / _GRID  # metres per grid unit at the front face
        x_size = (region.x2 - region.x1) * spread
        y_size = (region.y2 - region.y1) * spread
        z_size = min(x_size, y_size)
        centre_x = ((region.x1 + region.x2) / 2 - _GRID / 2) * spread
        centre_y = ((region.y1 + region.y2) / 2 - _GRID / 2) * spread
        values = [centre_x, centre_y, DEPTH_M + z_size / 2, x_size, y_size, z_size, 0, 0, 0]
        return {"bbox_3d": [round(v, 2) for v in values], "label": label}
    box = [region.x1, region.y1, region.x2, region.y2]
    if kind == "point":
        return {
            "point_2d": [round((box[0] + box[2]) / 2), round((box[1] + box[3]) / 2)],
            "label": label,
        }
    return {"bbox_2d": [round(v) for v in box], "label": label}


def _first_picture(urls: Sequence[str]) -> Image.Image | None:
    """The first image, decoded as displayed, when it is a readable ``data:`` URI."""
    if not urls or not urls[0].startswith("data:"):
        return None
    try:
        with Image.open(io.BytesIO(decode_data_uri_bytes(urls[0]))) as opened:
            return ImageOps.exif_transpose(opened)
    except (ServiceError, OSError):
        return None


def grounding_answer(text: str, image_urls: Sequence[str]) -> str | None:
    """The fenced JSON answer to a localization prompt, or None when this is not one (or the
    image cannot be read here): then the emulator answers as usual."""
    kind = localization_kind(text)
    if kind is None:
        return None
    picture = _first_picture(image_urls)
    if picture is None:
        return None
    chosen = _picked(find_regions(picture), colour_targets(text))
    lines = ",\n".join(
        "\t" + json.dumps(_item(kind, label, region), ensure_ascii=False)
        for label, region in chosen
    )
    return f"```json\n[\n{lines}\n]\n```" if lines else "```json\n[]\n```"
