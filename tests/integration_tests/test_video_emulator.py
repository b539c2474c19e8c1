"""Video end to end against the emulator: sampled frames and data-URI files answer "when"."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from langchain_core.messages import HumanMessage

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import EmulatorHandle
from langchain_qwen_vl.video import (
    estimate_video_tokens,
    prepare_video_block,
    sample_video,
    video_block,
)
from tests.video_clips import BLUE, GREEN, RED, make_clip, segments

pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")

QUESTION = "What colour is shown when?"


@pytest.fixture(scope="module")
def rgb_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """9 s at 10 fps: red for 3 s, then green for 3 s, then blue for 3 s."""
    path = tmp_path_factory.mktemp("video") / "rgb.mp4"
    make_clip(segments((RED, 30), (GREEN, 30), (BLUE, 30)), path=path)
    return path


def _llm(emulator: EmulatorHandle) -> ChatQwenVL:
    return ChatQwenVL(base_url=emulator.base_url, api_key="sk-emulator", max_retries=0)


def _ask(part: dict[str, object]) -> list[HumanMessage]:
    return [HumanMessage(content=[part, {"type": "text", "text": QUESTION}])]


def test_sampled_frames_answer_what_colour_when(emulator: EmulatorHandle, rgb_clip: Path) -> None:
    part = sample_video(rgb_clip, fps=2.0).to_block()
    answer = _llm(emulator).invoke(_ask(part))
    text = str(answer.content)
    assert "18 frames of 64×48 px at 2 fps, 9.0 s" in text
    assert "timeline: 0.0–3.0 s: red, 3.0–6.0 s: green, 6.0–9.0 s: blue." in text
    sent = emulator.requests[-1]["messages"][0]["content"][0]
    assert sent["fps"] == 2.0
    assert len(sent["video"]) == 18
    usage = answer.usage_metadata
    assert usage is not None
    # The client's estimate and the emulator's count agree: 9 pairs of 7x10 patches + 2.
    assert usage.get("input_token_details", {}).get("video") == 632
    assert estimate_video_tokens(part) == 632


def test_effective_fps_keeps_the_timeline_right(emulator: EmulatorHandle, rgb_clip: Path) -> None:
    # 4 frames over 9 s: the frames sit at 0, 2.25, 4.5 and 6.75 s and are sent at 4/9 fps,
    # so the model still places them on a 9 s timeline.
    part = prepare_video_block(video_block(rgb_clip, fps=2.0, max_frames=4))
    assert part["fps"] == pytest.approx(4 / 9)
    text = str(_llm(emulator).invoke(_ask(part)).content)
    assert "4 frames of 64×48 px at 0.444444 fps, 9.0 s" in text
    assert "timeline: 0.0–4.5 s: red, 4.5–6.8 s: green, 6.8–9.0 s: blue." in text


def test_a_clip_is_timed_from_its_start(emulator: EmulatorHandle, rgb_clip: Path) -> None:
    part = prepare_video_block(video_block(rgb_clip, fps=1.0, start=2.0, end=8.0))
    text = str(_llm(emulator).invoke(_ask(part)).content)
    # Source 2-3 s red, 3-6 s green, 6-8 s blue -> clip 0-1 s, 1-4 s, 4-6 s.
    assert "timeline: 0.0–1.0 s: red, 1.0–4.0 s: green, 4.0–6.0 s: blue." in text


def test_data_uri_video_file_is_decoded(emulator: EmulatorHandle, rgb_clip: Path) -> None:
    uri = "data:video/mp4;base64," + base64.b64encode(rgb_clip.read_bytes()).decode()
    body = {
        "model": "qwen3-vl-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "video_url", "video_url": {"url": uri}, "fps": 1},
                    {"type": "text", "text": QUESTION},
                ],
            }
        ],
    }
    headers = {"Authorization": "Bearer sk-emulator"}
    response = httpx.post(f"{emulator.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 200, response.text
    text = response.json()["choices"][0]["message"]["content"]
    assert "9 frames of 64×48 px at 1 fps, 9.0 s" in text
    assert "timeline: 0.0–3.0 s: red, 3.0–6.0 s: green, 6.0–9.0 s: blue." in text
    details = response.json()["usage"]["prompt_tokens_details"]
    assert details["video_tokens"] == 5 * 7 * 10 + 2


def test_undecodable_data_uri_video_is_a_400(emulator: EmulatorHandle) -> None:
    uri = "data:video/mp4;base64," + base64.b64encode(b"not a video" * 20).decode()
    body = {
        "model": "qwen3-vl-flash",
        "messages": [
            {"role": "user", "content": [{"type": "video_url", "video_url": {"url": uri}}]}
        ],
    }
    headers = {"Authorization": "Bearer sk-emulator"}
    response = httpx.post(f"{emulator.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    assert "cannot be decoded" in response.json()["error"]["message"]


def test_more_than_64_videos_is_a_400(emulator: EmulatorHandle) -> None:
    frames = {"type": "video", "video": ["https://example.com/f.jpg"] * 4, "fps": 2}
    body = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": [frames] * 65}]}
    headers = {"Authorization": "Bearer sk-emulator"}
    response = httpx.post(f"{emulator.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    assert "at most 64" in response.json()["error"]["message"]
    body["messages"][0]["content"] = [frames] * 64  # type: ignore[index]
    assert httpx.post(
        f"{emulator.base_url}/chat/completions", json=body, headers=headers
    ).is_success


def test_data_uri_video_shorter_than_two_seconds_is_a_400(emulator: EmulatorHandle) -> None:
    short = make_clip(segments((RED, 15)))  # 1.5 s
    uri = "data:video/mp4;base64," + base64.b64encode(short).decode()
    part = {"type": "video_url", "video_url": {"url": uri}}
    body = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": [part]}]}
    headers = {"Authorization": "Bearer sk-emulator"}
    response = httpx.post(f"{emulator.base_url}/chat/completions", json=body, headers=headers)
    assert response.status_code == 400
    assert "between 2 and 3600 seconds, got 1.50" in response.json()["error"]["message"]


def test_a_video_block_in_a_message_is_sampled_by_the_model(
    emulator: EmulatorHandle, rgb_clip: Path
) -> None:
    # The message holds a small reference; ChatQwenVL samples the file when it sends it.
    block = video_block(rgb_clip, fps=2.0)
    assert len(repr(block)) < 300
    llm = _llm(emulator)
    messages = _ask(block)
    counted = llm.get_num_tokens_from_messages(messages)  # type: ignore[arg-type]
    answer = llm.invoke(messages)
    assert "timeline: 0.0–3.0 s: red, 3.0–6.0 s: green, 6.0–9.0 s: blue." in str(answer.content)
    sent = emulator.requests[-1]["messages"][0]["content"][0]
    assert sent["type"] == "video"
    assert sent["fps"] == 2.0
    assert len(sent["video"]) == 18
    usage = answer.usage_metadata
    assert usage is not None
    video_tokens = usage.get("input_token_details", {}).get("video")
    assert video_tokens == 632
    # The count reads the container's headers only and agrees with the service's usage.
    assert counted - llm.get_num_tokens(QUESTION) - 4 == video_tokens


async def test_video_files_are_sampled_off_the_event_loop_and_policed(
    emulator: EmulatorHandle, rgb_clip: Path, tmp_path: Path
) -> None:
    from langchain_qwen_vl.errors import QwenVLImageError

    llm = ChatQwenVL(
        base_url=emulator.base_url, api_key="sk-emulator", allowed_dirs=[rgb_clip.parent]
    )
    answer = await llm.ainvoke(_ask(video_block(rgb_clip, fps=1.0, start=3.0, end=9.0)))
    assert "0.0–3.0 s: green, 3.0–6.0 s: blue" in str(answer.content)
    outside = tmp_path / "elsewhere.mp4"
    outside.write_bytes(rgb_clip.read_bytes())
    before = len(emulator.requests)
    with pytest.raises(QwenVLImageError, match="outside the model's allowed_dirs"):
        await llm.ainvoke(_ask({"type": "video", "path": str(outside), "fps": 1.0}))
    assert len(emulator.requests) == before
