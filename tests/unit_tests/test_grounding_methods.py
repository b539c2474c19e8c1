"""ChatQwenVL.detect/point/detect_3d without a network: what is sent, how answers map, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, BaseMessage
from PIL import Image

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.errors import QwenVLInputError
from langchain_qwen_vl.grounding import Box2D, GroundingParseError, Point2D


class _Recorder:
    """Stands in for ``invoke``: records the messages and kwargs, returns a fixed answer."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.calls: list[tuple[list[BaseMessage], dict[str, Any]]] = []

    def __call__(self, messages: list[BaseMessage], config: Any = None, **kw: Any) -> AIMessage:
        self.calls.append((messages, kw))
        return AIMessage(self.answer)


def _patch(monkeypatch: pytest.MonkeyPatch, answer: str) -> _Recorder:
    recorder = _Recorder(answer)
    monkeypatch.setattr(ChatQwenVL, "invoke", lambda _self, *a, **kw: recorder(*a, **kw))
    return recorder


def _model(**fields: Any) -> ChatQwenVL:
    return ChatQwenVL(api_key="sk-test", base_url="http://127.0.0.1:9/compatible-mode/v1", **fields)


def test_detect_sends_one_image_and_the_cookbook_style_prompt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _patch(monkeypatch, '```json\n[{"bbox_2d": [0, 0, 500, 1000], "label": "car"}]\n```')
    boxes = _model().detect(Image.new("RGB", (640, 480), "white"), ["car", "bus"], max_tokens=99)
    ((messages, kwargs),) = recorder.calls
    image, text = messages[0].content  # type: ignore[misc]
    assert image["type"] == "image"
    assert image["url"].startswith("data:image/")
    assert text["text"] == (
        'Locate every instance that belongs to the following categories: "car, bus". '
        'Report bbox coordinates in JSON format: [{"bbox_2d": [x1, y1, x2, y2], '
        '"label": "category"}].'
    )
    assert kwargs == {"max_tokens": 99}
    assert boxes == [Box2D(label="car", x1=0, y1=0, x2=500, y2=1000, image_size=(640, 480))]
    assert boxes[0].to_pixels() == (0.0, 0.0, 320.0, 480.0)


def test_qwen25_answers_map_through_both_resizes(monkeypatch: pytest.MonkeyPatch) -> None:
    # 4000×3000 is sent as 1856×1376 (the client's downscale to the Qwen3-VL cap); Qwen2.5-VL
    # then sees it on its 28-px grid: 1148×840. Its answer is in pixels of that.
    _patch(monkeypatch, '[{"bbox_2d": [287, 210, 1148, 840], "label": "x"}]')
    llm = _model(model="qwen2.5-vl-72b-instruct")
    (box,) = llm.detect(Image.new("RGB", (4000, 3000)), "x")
    assert (box.coordinates, box.frame_size, box.image_size) == (
        "absolute_resized",
        (1148, 840),
        (4000, 3000),
    )
    assert box.to_pixels() == pytest.approx((1000, 750, 4000, 3000))
    # The override wins over the model family.
    (same,) = llm.detect(Image.new("RGB", (4000, 3000)), "x", coordinates="relative_1000")
    assert same.to_pixels() == pytest.approx((1148, 630, 4000, 2520))  # x2 clipped at 1000


def test_point_and_3d_keep_only_their_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = (
        '[{"point_2d": [500, 500], "label": "a"}, {"bbox_2d": [1, 2, 3, 4], "label": "b"}, '
        '{"bbox_3d": [0, 0, 5, 1, 1, 1, 0, 0, 0], "label": "c"}]'
    )
    _patch(monkeypatch, answer)
    picture = Image.new("RGB", (100, 50))
    assert _model().point(picture, "a") == [Point2D(label="a", x=500, y=500, image_size=(100, 50))]
    (cube,) = _model().detect_3d(picture, "c", intrinsics={"fx": 1, "fy": 2, "cx": 3, "cy": 4})
    assert cube.label == "c"
    assert (cube.intrinsics.fx, cube.intrinsics.cy) == (1, 4)  # type: ignore[union-attr]


def test_an_answer_without_boxes_raises_with_the_text(monkeypatch: pytest.MonkeyPatch) -> None:
    _patch(monkeypatch, "A red square.")
    with pytest.raises(GroundingParseError) as caught:
        _model().detect(Image.new("RGB", (100, 50)), "square")
    assert caught.value.raw_text == "A red square."


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m, img: m.detect(img, []), "detect: targets must be a non-empty string"),
        (lambda m, img: m.point(img, ["  "]), "point: targets"),
        (lambda m, img: m.detect(img, "x", coordinates="pixels"), "coordinates must be"),
        (lambda m, img: m.detect_3d(img, "x", intrinsics=(1, 2)), "intrinsics"),
        (lambda m, img: m.detect("no/such/file.png", "x"), "no/such/file.png"),
    ],
)
def test_bad_input_fails_before_any_request(call: Any, message: str) -> None:
    # Sockets are disabled in unit tests: reaching the network would fail differently.
    with pytest.raises(QwenVLInputError, match=message):
        call(_model(), Image.new("RGB", (100, 50)))
