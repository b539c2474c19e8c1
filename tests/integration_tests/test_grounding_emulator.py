"""detect / point / detect_3d -> draw against the emulator over loopback, on pictures with known
shapes: boxes must land within 2% of the truth on the picture the caller passed."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from langchain_core.messages import HumanMessage
from PIL import Image, ImageDraw

from langchain_qwen_vl import ChatQwenVL, image_block
from langchain_qwen_vl.emulator import EmulatorHandle
from langchain_qwen_vl.grounding import (
    Box2D,
    GroundingOutputParser,
    draw,
    grounding_prompt,
    label_colour,
)

# Truth in pixels (x1, y1, x2, y2), end-exclusive, of a 2400×1500 picture: over the default
# pixel cap, so the client sends a downscaled copy and the results must still map back.
SIZE = (2400, 1500)
TRUTH = {
    "red": (300, 200, 900, 700),
    "blue": (1300, 150, 2100, 450),
    "green": (1000, 900, 1400, 1400),
}
TOLERANCE = 0.02


def _shapes() -> Image.Image:
    picture = Image.new("RGB", SIZE, "white")
    pen = ImageDraw.Draw(picture)
    colours = {"red": (210, 30, 30), "blue": (30, 70, 200), "green": (30, 160, 60)}
    for name, (x1, y1, x2, y2) in TRUTH.items():
        pen.rectangle((x1, y1, x2 - 1, y2 - 1), fill=colours[name])
    return picture


def _llm(emulator: EmulatorHandle) -> ChatQwenVL:
    return ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url)


def _close(found: tuple[float, ...], truth: tuple[int, ...]) -> bool:
    width, height = SIZE
    limits = (width, height) * (len(truth) // 2)
    return all(
        abs(f - t) <= TOLERANCE * side for f, t, side in zip(found, truth, limits, strict=True)
    )


def test_detect_maps_boxes_onto_the_original_picture(emulator: EmulatorHandle) -> None:
    picture = _shapes()
    boxes = _llm(emulator).detect(picture, ["red block", "blue bar", "green square"])
    assert sorted(b.label for b in boxes) == ["blue bar", "green square", "red block"]
    for box in boxes:
        assert box.image_size == SIZE
        truth = TRUTH[box.label.split()[0]]
        assert _close(box.to_pixels(), truth), (box.label, box.to_pixels(), truth)
    drawn = draw(picture, boxes)
    order = [b.label for b in boxes]  # colours go to labels in order of appearance
    _, y1, x2, y2 = boxes[order.index("red block")].to_pixels()
    colour = drawn.getpixel((round(x2) - 1, round((y1 + y2) / 2)))  # on the right edge
    assert colour == label_colour(order.index("red block"))
    assert picture.getpixel((5, 5)) == (255, 255, 255)  # the input is untouched


async def test_async_points_and_3d_boxes(emulator: EmulatorHandle, tmp_path: Path) -> None:
    path = tmp_path / "shapes.png"
    _shapes().save(path)
    llm = _llm(emulator)
    points = await llm.apoint(str(path), "green square")
    assert [p.label for p in points] == ["green square"]
    assert _close(points[0].to_pixels(), (1200, 1150))
    (cube,) = await llm.adetect_3d(path, "red block", intrinsics=(1000, 1000, 1200, 750))
    assert cube.intrinsics is not None
    assert cube.intrinsics.fx == 1000
    assert len(cube.project()) == 8
    boxes = await llm.adetect(path.read_bytes(), "blue")
    assert _close(boxes[0].to_pixels(), TRUTH["blue"])


def test_sync_3d_front_face_matches_the_2d_box(emulator: EmulatorHandle) -> None:
    (cube,) = _llm(emulator).detect_3d(_shapes(), "blue")
    # 60° field of view on the original picture; corners 1, 3, 5, 7 (z - z_size/2) face us.
    xs, ys = zip(*cube.project()[1::2], strict=True)
    assert _close((min(xs), min(ys), max(xs), max(ys)), TRUTH["blue"])


def test_chain_with_the_output_parser_streams_the_boxes(emulator: EmulatorHandle) -> None:
    message = HumanMessage(
        content=[
            image_block(_shapes()),
            {"type": "text", "text": grounding_prompt("box", ["red", "green"])},
        ]
    )
    chain = _llm(emulator) | GroundingOutputParser(image_size=SIZE)
    streamed = list(chain.stream([message]))
    assert len(streamed) == 1  # emitted once, when the JSON list is complete
    boxes = [b for b in streamed[0] if isinstance(b, Box2D)]
    assert [b.label for b in boxes] == ["red", "green"]
    assert _close(boxes[0].to_pixels(), TRUTH["red"])
    assert chain.invoke([message]) == streamed[0]


def test_bad_targets_fail_before_any_request(emulator: EmulatorHandle) -> None:
    with pytest.raises(ValueError, match="targets must be a non-empty string"):
        _llm(emulator).detect(_shapes(), [""])


def test_example_writes_the_pictures(
    emulator: EmulatorHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    path = Path(__file__).resolve().parents[2] / "examples" / "grounding.py"
    spec = importlib.util.spec_from_file_location("example_grounding", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(tmp_path)
    assert [p.name for p in written] == [
        "grounding-boxes.png",
        "grounding-points.png",
        "grounding-3d.png",
    ]
    for picture in written:
        with Image.open(picture) as opened:
            assert opened.size in {(900, 600), (640, 480)}
