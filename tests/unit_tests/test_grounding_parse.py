"""parse_grounding and GroundingOutputParser on real Qwen3-VL answers and on malformed text."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from langchain_qwen_vl.grounding import (
    Box2D,
    Box3D,
    GroundingOutputParser,
    GroundingParseError,
    Point2D,
    parse_grounding,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "grounding"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "grounding-outputs"


def _cells(name: str) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return cells


def _answer(output: str) -> str:
    """The model's answer inside a printed cell output ('Answer:' up to the plotting prints)."""
    answer = output.split("\nAnswer:\n", 1)[1]
    return answer.split("\nParsed points:", 1)[0]


def test_fixture_copies_match_shared() -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/grounding-outputs is not beside this checkout")
    names = sorted(p.name for p in SHARED.iterdir())
    assert names == sorted(p.name for p in FIXTURES.iterdir())
    for name in names:
        assert (FIXTURES / name).read_bytes() == (SHARED / name).read_bytes(), name


# --- the real answers ----------------------------------------------------------------------


def test_point_answer_in_a_tab_indented_fence() -> None:
    cell = next(c for c in _cells("spatial_understanding.outputs.json") if c["cell"] == 11)
    text = _answer(cell["output"])
    assert text.startswith("```json\n[\n\t{")
    (point,) = parse_grounding(text)
    assert isinstance(point, Point2D)
    assert (point.label, point.x, point.y) == ("point_1", 925.0, 618.0)
    assert point.to_pixels(2000, 1000) == (1850.0, 618.0)


EXPECTED_3D = {
    11: [
        ("car", [2.88, 0.56, 6.28, 4.45, 1.7, 1.84, 0.75, 0.49, 0.75]),
        ("car", [2.83, 0.58, 14.78, 4.43, 1.56, 1.77, 0.82, 0.49, 0.82]),
    ],
    14: [("black chair", [-0.4, -0.26, 2.71, 0.76, 0.96, 0.78, 0.16, 0.13, 0.08])],
    17: [
        ("桌子", [0.27, 0.13, 2.21, 0.69, 0.76, 1.8, 0.87, 0.09, 0.94]),
        ("椅子", [0.18, 0.26, 1.71, 0.57, 0.78, 0.52, 0.13, -0.09, -0.06]),
        ("椅子", [-0.04, -0.01, 2.39, 0.52, 0.76, 0.5, 0.13, -0.07, -0.05]),
        ("沙发", [-0.83, -0.18, 2.87, 0.76, 0.76, 1.86, 0.28, 0.33, 0.23]),
    ],
    20: [("bottle", [0.04, -0.03, 0.66, 0.07, 0.22, 0.08, 0.76, 0.08, 0.94])],
}
FIELDS_3D = ("x", "y", "z", "x_size", "y_size", "z_size", "roll", "pitch", "yaw")


def _as_tuples(results: list[Any]) -> list[tuple[str, list[float]]]:
    assert all(isinstance(r, Box3D) for r in results)
    return [(r.label, [getattr(r, f) for f in FIELDS_3D]) for r in results]


@pytest.mark.parametrize("cell", sorted(EXPECTED_3D))
def test_3d_answers_as_printed_and_as_json(cell: int) -> None:
    output = next(c for c in _cells("3d_grounding.outputs.json") if c["cell"] == cell)["output"]
    # As the cookbook printed them (Python literals after a prefix) ...
    assert _as_tuples(parse_grounding(output)) == EXPECTED_3D[cell]
    # ... and as the JSON the model wrote, in a fence with prose around it.
    listed = ast.literal_eval(output.split(": ", 1)[1])
    fenced = f"Here are the boxes:\n```json\n{json.dumps(listed, ensure_ascii=False)}\n```\nDone."
    assert _as_tuples(parse_grounding(fenced)) == EXPECTED_3D[cell]


def test_prose_answers_without_json() -> None:
    cells = {c["cell"]: c for c in _cells("spatial_understanding.outputs.json")}
    with pytest.raises(GroundingParseError) as caught:
        parse_grounding(_answer(cells[8]["output"]))  # "C. window"
    assert caught.value.raw_text == "C. window\n"
    assert caught.value.llm_output == "C. window\n"
    # "No, the speaker cannot fit ..." reads as nothing located: an empty list, not an error.
    assert parse_grounding(_answer(cells[12]["output"])) == []


# --- shapes the model writes -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '[{"bbox_2d": [10, 20, 30, 40], "label": "cat"}]',
        '```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "cat"}]\n```',
        'Sure! ```json\n{"bbox_2d": [10, 20, 30, 40], "label": "cat"}\n``` Anything else?',
        'The cat is at {"bbox": [10, 20, 30, 40], "label": "cat"} in the picture.',
        '```\n[{"bbox_2d": [10, 20, 30, 40], "label": "cat",},]\n```',  # trailing commas
        '[{"bbox_2d": [30, 40, 10, 20], "label": "cat"}]',  # corners swapped
        '{"objects": [{"bbox_2d": [10, 20, 30, 40], "label": "cat"}]}',  # wrapped in an object
    ],
)
def test_one_box_in_many_shapes(text: str) -> None:
    (box,) = parse_grounding(text)
    assert isinstance(box, Box2D)
    assert (box.label, box.x1, box.y1, box.x2, box.y2) == ("cat", 10, 20, 30, 40)


def test_several_blocks_keep_order_kinds_and_extra_keys() -> None:
    text = (
        'Boxes:\n```json\n[{"bbox_2d": [1, 2, 3, 4], "label": "a", "color": "red", '
        '"score": 0.9}]\n```\nand points:\n```json\n[{"point_2d": [5, 6], "label": "b"}]\n```'
    )
    box, point = parse_grounding(text)
    assert isinstance(box, Box2D)
    assert isinstance(point, Point2D)
    assert box.score == 0.9
    assert box.model_extra == {"color": "red"}
    assert (point.label, point.x, point.y) == ("b", 5, 6)


def test_answer_cut_short_keeps_complete_items() -> None:
    text = '```json\n[\n\t{"bbox_2d": [1, 2, 3, 4], "label": "a"},\n\t{"bbox_2d": [5, 6'
    results = parse_grounding(text)
    assert [(r.label, r.x1) for r in results if isinstance(r, Box2D)] == [("a", 1)]


def test_values_outside_the_grid_are_clipped_not_wrapped() -> None:
    (box,) = parse_grounding('[{"bbox_2d": [-20, 500, 1040, 1200], "label": "big"}]')
    assert isinstance(box, Box2D)
    assert (box.x1, box.y1, box.x2, box.y2) == (0, 500, 1000, 1000)


@pytest.mark.parametrize(
    "text",
    [
        "```json\n[]\n```",
        "There are no red objects in this image.",
        "图中没有汽车。",
        "[]",
        "No cars.",
        "None found.",
        "No red car is visible in the picture.",
        "I don't see any dog here.",
        "I could not find a bicycle.",
        "The image does not contain a cat.",
    ],
)
def test_nothing_found_is_an_empty_list(text: str) -> None:
    assert parse_grounding(text) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("The cat sits on a mat.", "holds no bbox_2d"),
        # "no" in prose that places the object without coordinates is not "nothing found".
        ("I see a cat, no doubt about it, on the left side.", "holds no bbox_2d"),
        ("The cat is on the left; there is nothing else to say.", "holds no bbox_2d"),
        ('{"answer": "cat"}', "holds no bbox_2d"),
        ('[{"bbox_2d": [1, 2, 3], "label": "short"}]', "bbox_2d must be a list of 4 numbers"),
        ('[{"point_2d": ["a", "b"], "label": "x"}]', "point_2d must be a list of 2 numbers"),
        ('[{"bbox_3d": [1, 2, 3], "label": "x"}]', "bbox_3d must be a list of 9 numbers"),
    ],
)
def test_malformed_text_raises_with_the_raw_text(text: str, message: str) -> None:
    with pytest.raises(GroundingParseError, match=message) as caught:
        parse_grounding(text)
    assert caught.value.raw_text == text


# --- the LangChain output parser ---------------------------------------------------------------


ANSWER = (
    'I found two:\n```json\n[\n\t{"bbox_2d": [100, 200, 300, 400], "label": "red"},\n'
    '\t{"bbox_2d": [500, 600, 700, 800], "label": "blue"}\n]\n```'
)


def test_output_parser_invoke_remembers_the_image_size() -> None:
    parser = GroundingOutputParser(image_size=(640, 480))
    red, blue = parser.invoke(ANSWER)
    assert isinstance(red, Box2D)
    assert isinstance(blue, Box2D)
    assert red.to_pixels() == (64.0, 96.0, 192.0, 192.0)


def test_output_parser_gives_3d_boxes_the_camera() -> None:
    parser = GroundingOutputParser(intrinsics=(100, 100, 50, 50))
    (cube,) = parser.invoke('[{"bbox_3d": [0, 0, 5, 2, 2, 2, 0, 0, 0], "label": "c"}]')
    assert isinstance(cube, Box3D)
    assert cube.project()[1] == pytest.approx((75, 75))
    with pytest.raises(ValueError, match="intrinsics"):
        GroundingOutputParser(intrinsics=(1, 2))


def test_output_parser_streams_once_the_json_is_complete() -> None:
    pieces = [ANSWER[i : i + 7] for i in range(0, len(ANSWER), 7)]
    emitted = list(GroundingOutputParser().transform(iter(pieces)))
    assert len(emitted) == 1  # never the first box alone while the list is being written
    assert [r.label for r in emitted[0]] == ["red", "blue"]


async def test_output_parser_astream_and_nothing_found() -> None:
    async def chunks() -> Any:
        for piece in ["There are ", "no cats ", "here."]:
            yield piece

    emitted = [x async for x in GroundingOutputParser().atransform(chunks())]
    assert emitted == [[]]


def test_output_parser_stream_raises_like_invoke_for_unparseable_text() -> None:
    with pytest.raises(GroundingParseError):
        list(GroundingOutputParser().transform(iter(["Just ", "a cat."])))
