"""The emulator's own copy of the video rules (pinned by literal values) and its timeline."""

from __future__ import annotations

import pytest

from langchain_qwen_vl.emulator._errors import ServiceError
from langchain_qwen_vl.emulator._validation import parse_request
from langchain_qwen_vl.emulator._video import (
    Segment,
    describe_video,
    frame_pixel_cap,
    nominal_video_frames,
    timeline,
    video_facts,
)


@pytest.mark.parametrize(
    ("frames", "width", "height", "seen", "tokens"),
    [
        (4, 640, 480, (640, 480), 602),
        (5, 640, 480, (640, 480), 902),
        (8, 1280, 720, (1056, 576), 2378),
        (600, 1280, 720, (864, 480), 121502),
        (2000, 1920, 1080, (480, 256), 120002),
        (5, 100, 100, (256, 256), 194),
        (12, 64, 48, (320, 224), 422),
    ],
)
def test_video_tokens_literal(
    frames: int, width: int, height: int, seen: tuple[int, int], tokens: int
) -> None:
    facts = video_facts(frames, width, height)
    assert (facts.seen_width, facts.seen_height) == seen
    assert facts.tokens == tokens


def test_frame_pixel_cap_literal() -> None:
    assert [frame_pixel_cap(n) for n in (4, 409, 410, 600, 2000)] == [
        655360,
        655360,
        654720,
        447392,
        134217,
    ]


def test_duration_is_frames_over_fps() -> None:
    assert video_facts(12, 64, 48, fps=2.0).seconds == 6.0
    assert video_facts(12, 64, 48, fps=0.5).seconds == 24.0
    assert video_facts(12, 64, 48, seconds=9.0).seconds == 9.0
    assert nominal_video_frames(2.0) == 20
    assert nominal_video_frames(0.1) == 4


def test_timeline_merges_runs_and_skips_unknown_frames() -> None:
    colours = ["red"] * 6 + ["green"] * 6 + ["blue"] * 6
    assert timeline(colours, 0.5) == (
        Segment(0.0, 3.0, "red"),
        Segment(3.0, 6.0, "green"),
        Segment(6.0, 9.0, "blue"),
    )
    assert timeline(["red", None, "red"], 1.0) == (
        Segment(0.0, 1.0, "red"),
        Segment(2.0, 3.0, "red"),
    )


def test_description_has_count_duration_size_and_timeline() -> None:
    colours = ["red"] * 2 + ["green"] * 2 + ["blue"] * 2
    facts = video_facts(6, 64, 48, fps=1.0, segments=timeline(colours, 1.0))
    assert describe_video(1, facts) == (
        "Video 1: 6 frames of 64×48 px at 1 fps, 6.0 s (model sees 320×224 per frame, "
        "212 tokens); timeline: 0.0–2.0 s: red, 2.0–4.0 s: green, 4.0–6.0 s: blue."
    )
    nominal = video_facts(20, 1024, 768, nominal=True, url="https://x/a.mp4")
    assert describe_video(2, nominal).startswith(
        "Video 2: not decoded (https://x/a.mp4), nominal 20 frames of 1024×768 px at 2 fps, 10.0 s"
    )


@pytest.mark.parametrize("max_pixels", [65_535, 2_048_001, "big", True])
def test_a_video_parts_max_pixels_outside_the_services_range_is_a_400(max_pixels: object) -> None:
    part = {"type": "video_url", "video_url": {"url": "https://x.test/a.mp4"}}
    body = {
        "model": "qwen3-vl-flash",
        "messages": [{"role": "user", "content": [part | {"max_pixels": max_pixels}]}],
    }
    with pytest.raises(ServiceError, match="max_pixels should be an integer in"):
        parse_request(body)
    (video,) = parse_request(
        body | {"messages": [{"role": "user", "content": [part | {"max_pixels": 2_048_000}]}]}
    ).videos
    assert video.max_pixels == 2_048_000
