"""Sampling local videos into frames (PyAV): counts, order, timestamps, sizes, and refusals."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from langchain_qwen_vl.media._sources import shorten
from langchain_qwen_vl.media._video_rules import QwenVLVideoError
from langchain_qwen_vl.media._video_sampling import (
    VideoInfo,
    _send_size,
    probe_video,
    sample_video,
)
from tests.video_clips import frame_level, grey_ramp, make_clip

av = pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")


@pytest.fixture(scope="module")
def ramp() -> bytes:
    """6 s at 10 fps, 64x48; frame i has grey level 20 + 3i."""
    return make_clip(grey_ramp(60))


def _index(jpeg: bytes) -> float:
    return (frame_level(jpeg) - 20) / 3


def test_probe_reads_headers(ramp: bytes) -> None:
    info = probe_video(ramp)
    assert (info.duration, info.width, info.height) == (6.0, 64, 48)
    assert (info.frame_rate, info.frame_count) == (10.0, 60)


def test_samples_at_fps_in_order_with_timestamps(ramp: bytes) -> None:
    video = sample_video(ramp, fps=2.0)
    assert len(video.frames) == 12
    assert video.fps == 2.0
    assert (video.start, video.end) == (0.0, 6.0)
    times = [frame.source_time for frame in video.frames]
    assert times == pytest.approx([i * 0.5 for i in range(12)])
    # Each JPEG shows the source frame at its time: grey level encodes the frame index.
    for frame in video.frames:
        assert _index(frame.jpeg) == pytest.approx(frame.source_time * 10, abs=0.4)
        assert frame.jpeg[:2] == b"\xff\xd8"
    assert {(f.width, f.height) for f in video.frames} == {(64, 48)}


def test_clip_range_and_effective_fps(ramp: bytes) -> None:
    video = sample_video(ramp, fps=2.0, start=1.0, end=4.0)
    assert len(video.frames) == 6
    assert video.fps == 2.0
    assert [f.source_time for f in video.frames] == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0, 3.5])
    assert _index(video.frames[0].jpeg) == pytest.approx(10, abs=0.4)


def test_max_frames_spreads_frames_and_lowers_fps(ramp: bytes) -> None:
    video = sample_video(ramp, fps=2.0, max_frames=4)
    assert len(video.frames) == 4
    assert video.fps == pytest.approx(4 / 6)  # frames / clip: the timestamps stay right
    assert [f.source_time for f in video.frames] == pytest.approx([0.0, 1.5, 3.0, 4.5])


def test_short_clip_gets_the_minimum_even_count(ramp: bytes) -> None:
    video = sample_video(ramp, fps=1.0, start=1.0, end=3.5)  # 2.5 s at 1 fps -> 2 -> 4
    assert len(video.frames) == 4
    assert video.fps == pytest.approx(4 / 2.5)


def test_fps_above_the_source_rate_takes_every_frame(ramp: bytes) -> None:
    video = sample_video(ramp, fps=10.0)
    assert len(video.frames) == 60
    levels = [_index(f.jpeg) for f in video.frames]
    assert levels == sorted(levels)
    assert levels == pytest.approx(list(range(60)), abs=0.4)


def test_large_frames_are_resized_to_the_services_grid() -> None:
    clip = make_clip(grey_ramp(10, step=10), fps=5, size=(1280, 720))
    video = sample_video(clip, fps=2.0)
    # 4 frames: per-frame cap 655,360 -> 576x1056; the server keeps this grid as is.
    assert len(video.frames) == 4
    assert (video.width, video.height) == (1056, 576)
    assert video.tokens == 2 * 18 * 33 + 2
    video = sample_video(clip, fps=2.0, max_pixels=100_000)
    assert (video.width, video.height) == (416, 224)


def test_send_size_follows_the_total_budget() -> None:
    info = VideoInfo(600.0, 1280, 720, 30.0, 18_000, "h264", "mp4")
    assert _send_size(info, 600, None) == (864, 480)  # cap 447,392 for 600 frames
    assert _send_size(info, 2000, None) == (480, 256)
    small = VideoInfo(60.0, 100, 100, 30.0, 1800, "h264", "mp4")
    assert _send_size(small, 4, None) == (100, 100)  # never upscaled on the client


def test_sources_path_file_url_and_file_object(ramp: bytes, tmp_path: Path) -> None:
    path = tmp_path / "ramp.mp4"
    path.write_bytes(ramp)
    for source in (path, str(path), f"file://{path}", io.BytesIO(ramp), bytearray(ramp)):
        assert len(sample_video(source, fps=1.0).frames) == 6  # type: ignore[arg-type]


def test_block_of_frames(ramp: bytes) -> None:
    video = sample_video(ramp, fps=1.0)
    block = video.to_block()
    assert block["type"] == "video"
    assert block["fps"] == 1.0
    assert len(block["video"]) == 6
    assert all(uri.startswith("data:image/jpeg;base64,/9j/") for uri in block["video"])
    assert video.jpeg_bytes == sum(len(f.jpeg) for f in video.frames)


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fps": 0.05}, r"fps=0\.05 is out of range"),
        ({"fps": 11}, r"fps=11 is out of range"),
        ({"max_frames": 3}, r"max_frames=3 is invalid"),
        ({"max_pixels": 10}, r"max_pixels=10 is invalid"),
        ({"start": 7.0}, r"start=7 s is not before the end of the video \(6\.00 s\)"),
        ({"start": 3.0, "end": 2.0}, r"end=2 s is not after start=3 s"),
        ({"start": 4.5}, r"clip lasts 1\.50 s; the service needs at least 2 s"),
    ],
)
def test_bad_options(ramp: bytes, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(QwenVLVideoError, match=message):
        sample_video(ramp, where="messages[0].content[0]", **kwargs)  # type: ignore[arg-type]


def test_video_shorter_than_two_seconds() -> None:
    with pytest.raises(QwenVLVideoError, match=r"clip lasts 1\.50 s.*at least 2 s"):
        sample_video(make_clip(grey_ramp(15)))


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(QwenVLVideoError, match=r"is not a readable video.*MP4"):
        sample_video(b"this is not a video at all" * 10)
    with pytest.raises(QwenVLVideoError, match="video bytes are empty"):
        sample_video(b"")
    with pytest.raises(QwenVLVideoError, match="does not exist"):
        sample_video(tmp_path / "missing.mp4")
    with pytest.raises(QwenVLVideoError, match="is a URL, not a local file"):
        sample_video("https://example.com/clip.mp4")
    with pytest.raises(QwenVLVideoError, match="cannot sample a int"):
        sample_video(42)  # type: ignore[arg-type]


def test_a_file_url_is_percent_decoded(ramp: bytes, tmp_path: Path) -> None:
    path = tmp_path / "my clip.mp4"
    path.write_bytes(ramp)
    assert path.as_uri().endswith("/my%20clip.mp4")
    assert probe_video(path.as_uri()).duration == 6.0
    assert len(sample_video(path.as_uri(), fps=1.0).frames) == 6


def test_an_unreadable_stream_is_named_by_its_path(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"this is not a video at all" * 10)
    with path.open("rb") as handle, pytest.raises(QwenVLVideoError) as error:
        sample_video(handle)
    assert f"video file {shorten(str(path))} is not a readable video" in str(error.value)


def test_file_without_a_video_stream(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="wav") as output:
        stream = output.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame(format="s16", layout="mono", samples=8000)
        frame.sample_rate = 8000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    with pytest.raises(QwenVLVideoError, match="has no video stream"):
        sample_video(buffer.getvalue())


def test_clear_error_and_clean_import_without_pyav() -> None:
    code = (
        "import sys; sys.modules['av'] = None\n"
        "import langchain_qwen_vl, langchain_qwen_vl.video as v\n"
        "print(v.video_block('https://example.com/a.mp4')['type'])\n"
        "try:\n"
        "    v.sample_video(b'xx')\n"
        "except v.QwenVLVideoError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stdout.splitlines()
    assert lines[0] == "video"
    assert 'pip install "langchain-qwen-vl[video]"' in lines[1]


@pytest.mark.parametrize("gop", [12, 600])
def test_sparse_sampling_seeks_or_reads_through_to_the_same_frames(gop: int) -> None:
    # 60 s at 10 fps; second s has grey level 20 + 3s. At 0.1 fps the targets are 10 s apart:
    # with a keyframe every 1.2 s the sampler seeks; with one keyframe it reads through.
    clip = make_clip([(20 + 3 * (i // 10),) * 3 for i in range(600)], gop=gop)
    video = sample_video(clip, fps=0.1)
    assert [f.source_time for f in video.frames] == pytest.approx([0, 10, 20, 30, 40, 50])
    assert [frame_level(f.jpeg) for f in video.frames] == pytest.approx(
        [20, 50, 80, 110, 140, 170], abs=1
    )
    clipped = sample_video(clip, fps=0.1, start=15.0, end=55.0)
    assert [f.source_time for f in clipped.frames] == pytest.approx([15, 25, 35, 45])
    assert [frame_level(f.jpeg) for f in clipped.frames] == pytest.approx([65, 95, 125, 155], abs=1)


@pytest.mark.parametrize(("gop", "expected"), [(12, 5), (600, 1)])
def test_sparse_sampling_seeks_only_while_seeking_helps(
    monkeypatch: pytest.MonkeyPatch, gop: int, expected: int
) -> None:
    # Keyframes every 1.2 s: one seek per 10 s gap. One keyframe: the first seek lands back
    # at the start, so the sampler stops seeking and reads through.
    import langchain_qwen_vl.media._video_sampling as sampling

    clip = make_clip([(20 + 3 * (i // 10),) * 3 for i in range(600)], gop=gop)
    seeks: list[int] = []
    real_open = sampling._open

    def counting_open(source: object, where: str):  # type: ignore[no-untyped-def]
        manager = real_open(source, where)
        container, stream = manager.__enter__()
        real_seek = container.seek

        def seek(*args: object, **kwargs: object) -> None:
            seeks.append(1)
            real_seek(*args, **kwargs)

        class Wrapped:
            def __getattr__(self, name: str) -> object:
                return seek if name == "seek" else getattr(container, name)

        class Manager:
            def __enter__(self) -> tuple[object, object]:
                return Wrapped(), stream

            def __exit__(self, *exc: object) -> None:
                manager.__exit__(*exc)

        return Manager()

    monkeypatch.setattr(sampling, "_open", counting_open)
    video = sample_video(clip, fps=0.1)
    assert len(seeks) == expected
    assert [frame_level(f.jpeg) for f in video.frames] == pytest.approx(
        [20, 50, 80, 110, 140, 170], abs=1
    )
