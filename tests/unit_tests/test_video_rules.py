"""The service's video rules: limits, frame count and the token formula, against hand values."""

from __future__ import annotations

import pytest

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import _video_rules as rules
from langchain_qwen_vl.media._video_rules import QwenVLVideoError


def test_limits_are_the_services_figures() -> None:
    assert (rules.MIN_FRAMES, rules.MAX_FRAMES) == (4, 2000)
    assert (rules.MIN_FPS, rules.MAX_FPS, rules.DEFAULT_FPS) == (0.1, 10.0, 2.0)
    assert (rules.MIN_DURATION_S, rules.MAX_DURATION_S) == (2.0, 3600.0)
    # max_pixels of video frames for the qwen3-vl-plus/flash series: default 655,360, at most
    # 2,048,000 (Model Studio API reference, "max_pixels", 输入视频文件或图像列表).
    assert (rules.FRAME_MIN_PIXELS, rules.FRAME_MAX_PIXELS) == (65_536, 655_360)
    assert rules.FRAME_MAX_PIXELS_LIMIT == 2_048_000
    assert rules.TOTAL_PIXELS == 134_217_728
    assert issubclass(QwenVLVideoError, QwenVLImageError)
    assert issubclass(QwenVLVideoError, ValueError)


@pytest.mark.parametrize(
    ("frames", "height", "width", "tokens"),
    [
        # 480x640 is on the grid and under the cap: 2 pairs x 15x20 patches + 2.
        (4, 480, 640, 2 * 15 * 20 + 2),
        # An odd count still pays for a full last pair: ceil(5/2) = 3.
        (5, 480, 640, 3 * 15 * 20 + 2),
        # 1080p, 4 frames, cap 655,360: beta = sqrt(2073600/655360) = 1.7788 -> 18x33 patches.
        (4, 1080, 1920, 2 * 18 * 33 + 2),
        # 10 min at 1 fps of 720p: cap = floor(134217728/600*2) = 447,392;
        # beta = sqrt(921600/447392) = 1.4352 -> 720/1.4352/32 = 15.7 -> 15, 1280/... = 27.9 -> 27.
        (600, 720, 1280, 300 * 15 * 27 + 2),
        # 1 h at 2 fps -> 2000 frames of 1080p: cap 134,217; beta = 3.9306 -> 8x15 patches.
        (2000, 1080, 1920, 1000 * 8 * 15 + 2),
        # Tiny frames go up to the 65,536 floor: beta = sqrt(65536/10000) = 2.56 -> 8x8 patches.
        (5, 100, 100, 3 * 8 * 8 + 2),
    ],
)
def test_video_tokens_hand_computed(frames: int, height: int, width: int, tokens: int) -> None:
    assert rules.video_tokens(frames, height, width) == tokens


def test_frame_pixel_cap_and_grid() -> None:
    assert rules.frame_pixel_cap(4) == 655_360
    assert rules.frame_pixel_cap(409) == 655_360  # the total budget bites above 409 frames
    assert rules.frame_pixel_cap(410) == 654_720
    assert rules.frame_pixel_cap(2000) == 134_217
    assert rules.frame_pixel_cap(4, max_pixels=100_000) == 100_000
    assert rules.frame_grid(720, 1280, 600) == (480, 864)
    assert rules.frame_grid(720, 1280, 4, max_pixels=100_000) == (224, 416)
    assert rules.video_tokens(4, 720, 1280, max_pixels=100_000) == 2 * 7 * 13 + 2


@pytest.mark.parametrize(
    ("clip", "fps", "kwargs", "count"),
    [
        (600, 1.0, {}, 600),
        (6, 2.0, {}, 12),
        (5, 0.1, {}, 4),  # at least 4
        (3600, 2.0, {}, 2000),  # at most 2000
        (10.5, 1.0, {}, 10),
        (7, 1.0, {}, 6),  # even: frames merge in pairs
        (60, 2.0, {"max_frames": 51}, 50),
        (60, 10.0, {"available_frames": 301}, 300),
        (3599, 0.1, {}, 360),  # never sparser than 0.1 fps over the clip
    ],
)
def test_sample_count(clip: float, fps: float, kwargs: dict[str, int], count: int) -> None:
    assert rules.sample_count(clip, fps, **kwargs) == count


def test_sample_count_refuses_impossible_clips() -> None:
    with pytest.raises(QwenVLVideoError, match=r"100 frames cannot cover a 3600 s clip.*360"):
        rules.sample_count(3600, 1.0, max_frames=100)
    with pytest.raises(QwenVLVideoError, match="only 3 frames"):
        rules.sample_count(3, 1.0, available_frames=3)


@pytest.mark.parametrize("fps", [0.05, 10.5, 0, -1, "2", True, float("nan")])
def test_fps_out_of_range(fps: object) -> None:
    with pytest.raises(QwenVLVideoError, match=r"fps=.* is out of range.*0\.1 to 10"):
        rules.check_fps(fps, where="block")


def test_fps_bounds_are_inclusive() -> None:
    assert rules.check_fps(0.1) == 0.1
    assert rules.check_fps(10) == 10.0


@pytest.mark.parametrize("count", [0, 3, 2001])
def test_frame_count_out_of_range(count: int) -> None:
    with pytest.raises(QwenVLVideoError, match=f"4 to 2000 frames, got {count}"):
        rules.check_frame_count(count)


@pytest.mark.parametrize("value", [3, 2001, 10.0, True, "8"])
def test_max_frames_invalid(value: object) -> None:
    with pytest.raises(QwenVLVideoError, match=r"max_frames=.* is invalid.*4 to 2000"):
        rules.check_max_frames(value)


@pytest.mark.parametrize("value", [4096, 65_535, 2_048_001, 1.5, True])
def test_max_pixels_invalid(value: object) -> None:
    message = r"max_pixels=.* is invalid.*from 65,536 to 2,048,000.*default 655,360"
    with pytest.raises(QwenVLVideoError, match=message):
        rules.check_max_pixels(value)


@pytest.mark.parametrize("value", [None, 65_536, 655_360, 655_361, 2_048_000])
def test_max_pixels_valid_up_to_the_services_maximum(value: int | None) -> None:
    assert rules.check_max_pixels(value) == value


def test_a_raised_max_pixels_raises_the_frame_cap_within_the_total_budget() -> None:
    assert rules.frame_pixel_cap(4, max_pixels=2_048_000) == 2_048_000
    # 134,217,728 / 131 * 2 = 2,049,125 > 2,048,000; at 132 frames the total budget bites.
    assert rules.frame_pixel_cap(131, max_pixels=2_048_000) == 2_048_000
    assert rules.frame_pixel_cap(132, max_pixels=2_048_000) == 2_033_601
    assert rules.frame_pixel_cap(600, max_pixels=2_048_000) == rules.frame_pixel_cap(600)
    # 1080p over 2,048,000: beta = sqrt(2073600/2048000) = 1.00623 -> 33x59 patches.
    assert rules.video_tokens(4, 1080, 1920, max_pixels=2_048_000) == 2 * 33 * 59 + 2


@pytest.mark.parametrize(
    ("duration", "start", "end", "message"),
    [
        (10.0, 12, None, r"start=12 s is not before the end of the video \(10\.00 s\)"),
        (10.0, 5, 5, r"end=5 s is not after start=5 s"),
        (10.0, 5, 6.5, r"clip lasts 1\.50 s.*at least 2 s"),
        (1.5, None, None, r"clip lasts 1\.50 s.*at least 2 s"),
        (4000.0, None, None, r"clip lasts 4000 s.*at most 3600 s"),
        (None, -1, None, r"start=-1 is invalid"),
        (None, None, "10", r"end='10' is invalid"),
    ],
)
def test_clip_errors(duration: float | None, start: object, end: object, message: str) -> None:
    with pytest.raises(QwenVLVideoError, match=message):
        rules.check_clip(duration, start, end, where="video")


def test_clip_defaults_and_end_past_the_video() -> None:
    assert rules.check_clip(60.0) == (0.0, 60.0)
    assert rules.check_clip(60.0, 10, 100) == (10.0, 60.0)
    assert rules.check_clip(None, 1, None) == (1.0, None)
    assert rules.check_clip(4000.0, 100, 3700) == (100.0, 3700.0)


def test_url_video_bound_is_the_worst_length_at_its_fps() -> None:
    # At 429 frames the cap is floor(134217728 / 429 * 2) = 625,723 px = 611 patches:
    # 215 pairs x 611 + 2 = 131,367, the most any frame count up to 2,000 costs.
    assert rules.url_video_tokens_upper_bound(2.0) == 215 * 611 + 2
    assert rules.url_video_tokens_upper_bound(0.12) == 215 * 611 + 2  # 432 frames in 1 h
    # fps 0.1: at most 360 frames in 1 h, each at the full 640-patch cap.
    assert rules.url_video_tokens_upper_bound(0.1) == 180 * 640 + 2
    # A cap under the total budget: 2,000 frames x 97 patches.
    assert rules.url_video_tokens_upper_bound(2.0, 100_000) == 1000 * (100_000 // 1024) + 2
    for frames in (4, 7, 120, 409, 410, 429, 1001, 2000):
        for height, width in ((1080, 1920), (2160, 3840), (4000, 20), (100, 100)):
            tokens = rules.video_tokens(frames, height, width)
            assert tokens <= rules.url_video_tokens_upper_bound(2.0), (frames, height, width)
