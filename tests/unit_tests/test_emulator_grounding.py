"""The emulator's localization answers (pure parts): prompts, colour regions, the JSON it writes.

Values are pinned literally: the emulator stands in for the service and keeps its own rules.
"""

from __future__ import annotations

import base64
import io
import json

import pytest
from PIL import Image, ImageDraw

from langchain_qwen_vl.emulator._answers import build_answer, image_facts
from langchain_qwen_vl.emulator._grounding import (
    colour_targets,
    find_regions,
    grounding_answer,
    localization_kind,
)
from langchain_qwen_vl.emulator._validation import parse_request


def _picture() -> Image.Image:
    """250×125 (the sample size, so no resampling): white, a red block at x 25–75, y 25–75,
    a blue block at x 125–225, y 50–100 (end-exclusive pixels)."""
    picture = Image.new("RGB", (250, 125), "white")
    pen = ImageDraw.Draw(picture)
    pen.rectangle((25, 25, 74, 74), fill=(220, 20, 20))
    pen.rectangle((125, 50, 224, 99), fill=(20, 40, 200))
    return picture


def _data_uri(picture: Image.Image) -> str:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(
    ("prompt", "kind"),
    [
        ('Locate every "red". Report bbox coordinates in JSON format.', "box"),
        ("框出红色方块，输出边界框坐标", "box"),
        ('Output the point coordinates in JSON format: [{"point_2d": [x, y]}]', "point"),
        ('provide its 3D bounding box: [{"bbox_3d": [...]}]', "box_3d"),
        ("What colour is the square?", None),
        ("Locate the cat.", None),  # no coordinates asked for: the usual free-text answer
    ],
)
def test_which_prompts_are_localization(prompt: str, kind: str | None) -> None:
    assert localization_kind(prompt) == kind


def test_colour_targets_from_the_categories_list() -> None:
    prompt = 'following categories: "red block, dark gray bar, Blue circle". Report bbox'
    assert colour_targets(prompt) == {
        "red": "red block",
        "dark grey": "dark gray bar",
        "blue": "Blue circle",
    }
    assert colour_targets("Where is the green thing? bbox please") == {"green": "green"}


def test_regions_are_exact_on_the_grid() -> None:
    regions = {r.name: r for r in find_regions(_picture())}
    assert sorted(regions) == ["blue", "red", "white"]
    red, blue = regions["red"], regions["blue"]
    assert (red.x1, red.y1, red.x2, red.y2, red.pixels) == (100.0, 200.0, 300.0, 600.0, 2500)
    assert (blue.x1, blue.y1, blue.x2, blue.y2) == (500.0, 400.0, 900.0, 800.0)


def test_answer_in_the_real_models_fenced_shape() -> None:
    uri = _data_uri(_picture())
    prompt = 'Locate every instance of the following categories: "blue box, red box". bbox JSON'
    assert grounding_answer(prompt, [uri]) == (
        "```json\n[\n"
        '\t{"bbox_2d": [100, 200, 300, 600], "label": "red box"},\n'
        '\t{"bbox_2d": [500, 400, 900, 800], "label": "blue box"}\n'
        "]\n```"
    )
    points = grounding_answer("point_2d of the red one", [uri])
    assert points == '```json\n[\n\t{"point_2d": [200, 400], "label": "red"}\n]\n```'
    # No colour named: every region but the background (the largest colour).
    anything = grounding_answer("Report bbox coordinates of all objects", [uri])
    assert anything is not None
    assert [i["label"] for i in json.loads(anything.strip("`json\n"))] == ["red", "blue"]
    assert grounding_answer("bbox of the green one", [uri]) == "```json\n[]\n```"


def test_3d_boxes_front_face_projects_onto_the_2d_box() -> None:
    answer = grounding_answer('3D bounding box of "red"', [_data_uri(_picture())])
    assert answer is not None
    (item,) = json.loads(answer.strip("`json\n"))
    # Box x 100–300, y 200–600 at 3 m, 60° FOV: 2·tan30°·3/1000 = 0.003464 m per grid unit,
    # so centre (-300, -100) units -> (-1.04, -0.35) m, size 0.69 × 1.39 m, depth min = 0.69.
    assert item == {
        "bbox_3d": [-1.04, -0.35, 3.35, 0.69, 1.39, 0.69, 0, 0, 0],
        "label": "red",
    }


def test_images_it_cannot_read_here_get_the_usual_answer() -> None:
    assert grounding_answer("bbox of red", ["https://example.com/a.png"]) is None
    assert grounding_answer("bbox of red", []) is None


def test_hook_in_the_answer_builder() -> None:
    uri = _data_uri(_picture())
    request = parse_request(
        {
            "model": "qwen3-vl-flash",
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": uri}},
                        {"type": "text", "text": 'categories: "red". Report bbox coordinates'},
                    ],
                }
            ],
        }
    )
    facts = image_facts(
        250, 125, max_pixels=None, min_pixels=None, vl_high_resolution_images=False, url=uri
    )
    answer = build_answer(request, [facts])
    assert answer.content.startswith('```json\n[\n\t{"bbox_2d": [100, 200, 300, 600]')
    assert answer.finish_reason == "stop"
