"""video_block, prepare_video_block, plan_video and estimate_video_tokens."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.video import (
    QwenVLVideoError,
    estimate_video_tokens,
    plan_video,
    prepare_video_block,
    video_block,
)
from tests.video_clips import BLUE, GREEN, RED, grey_ramp, make_clip, segments

pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "rgb.mp4"
    make_clip(segments((RED, 30), (GREEN, 30), (BLUE, 30)), path=path)  # 9 s at 10 fps
    return path


def _png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "PNG")
    return buffer.getvalue()


# --- video_block ----------------------------------------------------------------------------


def test_block_for_a_path_references_it(clip_path: Path) -> None:
    block = video_block(clip_path, fps=1, start=1.5, end=8, max_frames=6)
    assert block == {
        "type": "video",
        "path": str(clip_path.resolve()),
        "mime_type": "video/mp4",
        "fps": 1.0,
        "start": 1.5,
        "end": 8.0,
        "max_frames": 6,
    }
    assert video_block(f"file://{clip_path}")["path"] == str(clip_path)


def test_block_for_a_file_url_decodes_it_as_images_do(clip_path: Path, tmp_path: Path) -> None:
    spaced = tmp_path / "my clip #1.mp4"
    spaced.write_bytes(clip_path.read_bytes())
    assert video_block(spaced.as_uri())["path"] == str(spaced)  # file:///…/my%20clip%20%231.mp4
    assert video_block(f"file://localhost{spaced.as_uri()[7:]}")["path"] == str(spaced)
    with pytest.raises(QwenVLVideoError, match="names a remote host"):
        video_block("file://server/share/clip.mp4")


def test_block_for_bytes_and_data_uri(clip_path: Path) -> None:
    data = clip_path.read_bytes()
    block = video_block(data)
    assert block == {
        "type": "video",
        "base64": base64.b64encode(data).decode(),
        "mime_type": "video/mp4",
        "fps": 2.0,
    }
    uri = "data:video/webm;base64," + block["base64"]
    assert video_block(uri, fps=0.5)["mime_type"] == "video/webm"


def test_block_for_a_url() -> None:
    assert video_block("https://example.com/a.mp4", fps=3) == {
        "type": "video",
        "url": "https://example.com/a.mp4",
        "fps": 3.0,
    }
    with pytest.raises(QwenVLVideoError, match="start, max_frames cannot apply to a URL"):
        video_block("https://example.com/a.mp4", start=1, max_frames=8)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 20}, r"video_block: fps=20 is out of range"),
        ({"max_frames": 1}, r"max_frames=1 is invalid"),
        ({"start": 5, "end": 2}, r"end=2 s is not after start=5 s"),
        ({"start": 1, "end": 2.5}, r"clip lasts 1\.50 s"),
    ],
)
def test_block_refuses_bad_options(clip_path: Path, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(QwenVLVideoError, match=message):
        video_block(clip_path, **kwargs)  # type: ignore[arg-type]


def test_block_refuses_bad_sources(tmp_path: Path) -> None:
    with pytest.raises(QwenVLVideoError, match="does not exist"):
        video_block(tmp_path / "nope.mp4")
    with pytest.raises(QwenVLVideoError, match="video bytes are empty"):
        video_block(b"")
    with pytest.raises(QwenVLVideoError, match="malformed video data URI"):
        video_block("data:image/png;base64,AAAA")


# --- prepare_video_block ----------------------------------------------------------------------


def test_prepare_samples_a_path_block(clip_path: Path) -> None:
    part = prepare_video_block(video_block(clip_path, fps=1, start=1.5, end=7.5))
    assert part["type"] == "video"
    assert part["fps"] == 1.0
    assert len(part["video"]) == 6
    assert all(f.startswith("data:image/jpeg;base64,") for f in part["video"])


def test_prepare_samples_base64_and_data_uri_url(clip_path: Path) -> None:
    block = video_block(clip_path.read_bytes(), fps=0.5)
    assert len(prepare_video_block(block)["video"]) == 4
    uri = f"data:video/mp4;base64,{block['base64']}"
    assert len(prepare_video_block({"type": "video", "url": uri, "fps": 2})["video"]) == 18


def test_prepare_passes_urls_and_keeps_frame_lists() -> None:
    url = "https://example.com/a.mp4"
    assert prepare_video_block({"type": "video", "url": url}) == {
        "type": "video_url",
        "video_url": {"url": url},
        "fps": 2.0,
    }
    frames = ["https://example.com/f.jpg"] * 4
    assert prepare_video_block({"type": "video", "video": frames, "fps": 1}) == {
        "type": "video",
        "video": frames,
        "fps": 1.0,
    }
    with pytest.raises(QwenVLVideoError, match=r"messages\[0\]\.content\[1\].*got 3"):
        prepare_video_block({"video": frames[:3]}, where="messages[0].content[1]")
    with pytest.raises(QwenVLVideoError, match="fps=0 is out of range"):
        prepare_video_block({"video": frames, "fps": 0})
    with pytest.raises(QwenVLVideoError, match="video block has no source"):
        prepare_video_block({"type": "video"})
    with pytest.raises(QwenVLImageError, match="invalid base64 payload"):
        prepare_video_block({"type": "video", "base64": "###", "mime_type": "video/mp4"})


# --- plan and tokens ------------------------------------------------------------------------


def test_plan_is_header_only_and_matches_sampling(clip_path: Path) -> None:
    plan = plan_video(clip_path, fps=2)
    assert (plan.frames, plan.fps, plan.width, plan.height) == (18, 2.0, 320, 224)
    # 64x48 frames go up to the 65,536 floor: 7x10 patches, 9 pairs.
    assert plan.tokens == 9 * 7 * 10 + 2
    assert str(plan) == "9.0 s of 64x48 video -> 18 frames at 2 fps, 320x224 each, 632 input tokens"
    part = prepare_video_block(video_block(clip_path, fps=2))
    assert len(part["video"]) == plan.frames
    assert part["fps"] == plan.fps


def test_estimate_for_every_form(clip_path: Path) -> None:
    assert estimate_video_tokens((600, 720, 1280)) == 300 * 15 * 27 + 2
    assert estimate_video_tokens(clip_path, fps=2) == 632
    assert estimate_video_tokens(clip_path.read_bytes(), fps=1, max_frames=4) == 2 * 70 + 2
    assert estimate_video_tokens(video_block(clip_path, fps=1, start=1, end=7)) == 3 * 70 + 2
    frames = ["data:image/png;base64," + base64.b64encode(_png(640, 480)).decode()] * 4
    assert estimate_video_tokens({"type": "video", "video": frames}) == 2 * 15 * 20 + 2
    assert estimate_video_tokens([_png(640, 480)] * 6) == 3 * 15 * 20 + 2
    assert estimate_video_tokens((4, 480, 640), max_pixels=100_000) == 2 * 8 * 11 + 2


def test_a_block_may_raise_max_pixels_to_the_services_maximum() -> None:
    frames = [_png(1920, 1080)] * 4
    # Default cap 655,360: 18x33 patches; at 2,048,000: 33x59 (beta = 1.00623).
    assert estimate_video_tokens(frames) == 2 * 18 * 33 + 2
    block = {"type": "video", "video": frames, "max_pixels": 2_048_000}
    assert estimate_video_tokens(block) == 2 * 33 * 59 + 2
    with pytest.raises(QwenVLVideoError, match="max_pixels=2048001 is invalid"):
        estimate_video_tokens({**block, "max_pixels": 2_048_001})


def test_estimate_of_urls_is_the_upper_bound() -> None:
    # Never downloaded: a file URL costs at most 131,367 at fps 2 (every length up to 1 h,
    # every frame at the cap), 115,202 at fps 0.1; frame URLs 1,282 (4 frames at the cap).
    url = "https://example.com/a.mp4"
    assert estimate_video_tokens(url) == 131_367
    assert estimate_video_tokens(video_block(url, fps=0.1)) == 115_202
    assert estimate_video_tokens({"type": "video_url", "video_url": {"url": url}}) == 131_367
    assert estimate_video_tokens(["https://example.com/f.jpg"] * 4) == 2 * 640 + 2


def test_estimate_refusals() -> None:
    with pytest.raises(QwenVLVideoError, match="4 to 2000 frames, got 2001"):
        estimate_video_tokens((2001, 480, 640))
    with pytest.raises(QwenVLVideoError, match="cannot estimate float"):
        estimate_video_tokens(1.5)  # type: ignore[arg-type]


def test_plan_of_a_long_video_reads_headers_only(tmp_path: Path) -> None:
    # 40 min at 1 fps of tiny frames: 2 fps asks for 4,800 frames, the service takes 2,000.
    path = tmp_path / "long.mp4"
    make_clip(grey_ramp(2400, first=0, step=0), fps=1, path=path)
    plan = plan_video(path, fps=2.0)
    assert (plan.frames, plan.fps) == (2000, pytest.approx(2000 / 2400))
    assert plan.tokens == 1000 * 7 * 10 + 2
    assert plan_video(path, fps=0.1).frames == 240
