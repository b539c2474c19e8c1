"""Locate things in pictures: 2D boxes, points and a 3D box, drawn onto the pictures as PNGs.

With DASHSCOPE_API_KEY set this asks the real Qwen3-VL-Flash service. Without it, it starts
the bundled emulator on 127.0.0.1, which locates solid-colour regions named by colour (it is
not the model, but its boxes are exact for pictures like these).

    python examples/grounding.py              # writes docs/images/grounding-*.png
    python examples/grounding.py --out /tmp   # somewhere else
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageDraw

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.grounding import draw

ASSETS = Path(__file__).parent / "assets"
PHOTO = ASSETS / "scene.jpg"  # a red square on a blue backdrop, 640×480
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "images"


def shapes_picture() -> Image.Image:
    """A 900×600 picture of four solid shapes on white (drawn here; nothing to download)."""
    picture = Image.new("RGB", (900, 600), "white")
    pen = ImageDraw.Draw(picture)
    pen.rectangle((60, 80, 300, 260), fill=(210, 30, 30))  # red rectangle
    pen.ellipse((380, 60, 560, 240), fill=(30, 70, 200))  # blue circle
    pen.rectangle((620, 300, 840, 540), fill=(30, 160, 60))  # green square
    pen.polygon([(120, 540), (240, 330), (360, 540)], fill=(240, 200, 20))  # yellow triangle
    return picture


@contextlib.contextmanager
def chat_model() -> Iterator[ChatQwenVL]:
    if os.environ.get("DASHSCOPE_API_KEY"):
        print("Using the real Qwen3-VL-Flash service (DASHSCOPE_API_KEY is set).")
        yield ChatQwenVL()
        return
    from langchain_qwen_vl.emulator import run_emulator

    with run_emulator() as emulator:
        print(f"No DASHSCOPE_API_KEY: using the local emulator at {emulator.base_url}.")
        yield ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url)


def main(out: Path = DEFAULT_OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    shapes = shapes_picture()
    targets = ["red rectangle", "blue circle", "green square", "yellow triangle"]
    written = []
    with chat_model() as llm:
        boxes = llm.detect(shapes, targets)
        print("\n== 2D boxes (pixels of the 900×600 picture)")
        for box in boxes:
            print(f"{box.label:>16}: {tuple(round(v) for v in box.to_pixels())}")
        written.append(out / "grounding-boxes.png")
        draw(shapes, boxes).save(written[-1])

        points = llm.point(shapes, targets)
        print("\n== Points")
        for point in points:
            print(f"{point.label:>16}: {tuple(round(v) for v in point.to_pixels())}")
        written.append(out / "grounding-points.png")
        draw(shapes, points).save(written[-1])

        cubes = llm.detect_3d(PHOTO, "red square")
        print("\n== 3D box (camera coordinates, metres; 60° field of view assumed)")
        for cube in cubes:
            print(f"{cube.label}: centre ({cube.x}, {cube.y}, {cube.z}), size ", end="")
            print(f"({cube.x_size}, {cube.y_size}, {cube.z_size})")
        written.append(out / "grounding-3d.png")
        draw(PHOTO, cubes).save(written[-1])
    print("\nWrote " + ", ".join(str(path) for path in written))
    return written


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the PNGs")
    main(parser.parse_args().out)
