"""Video through ChatQwenVL, before any request: errors name the file, URLs count their bound,
``file://`` paths are decoded and policed as images are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, HumanMessage

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media._sources import shorten
from langchain_qwen_vl.video import QwenVLVideoError, video_block
from tests.video_clips import grey_ramp, make_clip

pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")


def _message(block: dict[str, Any]) -> list[BaseMessage]:
    return [HumanMessage(content=[block])]


@pytest.mark.parametrize("restricted", [False, True], ids=["any-file", "allowed_dirs"])
@pytest.mark.parametrize("call", ["invoke", "count"])
def test_an_unreadable_video_file_is_named_by_its_path(
    tmp_path: Path, restricted: bool, call: str
) -> None:
    folder = tmp_path / ("a-long-folder-name-" * 4)
    folder.mkdir()
    path = folder / "broken.mp4"
    path.write_bytes(b"this is not a video at all" * 10)
    llm = ChatQwenVL(api_key="sk-test", allowed_dirs=[folder] if restricted else None)
    run = llm.invoke if call == "invoke" else llm.get_num_tokens_from_messages
    with pytest.raises(QwenVLVideoError) as error:
        run(_message(video_block(path)))
    text = str(error.value)
    assert text.startswith(
        f"messages[0].content[0]: video file {shorten(str(path))} is not a readable video"
    ), text
    assert "chars)" in text  # the path, shortened
    assert "Reader" not in text


def test_url_videos_count_their_upper_bound() -> None:
    # Like an image URL (the cap's tokens), a video URL counts the most it can cost: 131,367
    # at fps 2 (any length up to 1 h, every frame at the cap), 115,202 at fps 0.1.
    llm = ChatQwenVL(api_key="sk-test")
    url = "https://example.com/clip.mp4"
    part = {"type": "video_url", "video_url": {"url": url}, "fps": 2}
    assert llm.get_num_tokens_from_messages(_message(part)) == 131_367 + 4
    block = video_block(url, fps=0.1)
    assert llm.get_num_tokens_from_messages(_message(block)) == 115_202 + 4


def test_a_file_url_video_is_decoded_and_obeys_allowed_dirs(tmp_path: Path) -> None:
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    clip = make_clip(grey_ramp(60))  # 6 s of 64x48 at 10 fps
    for folder in (allowed, outside):
        (folder / "my clip.mp4").write_bytes(clip)
    llm = ChatQwenVL(api_key="sk-test", allowed_dirs=[allowed])
    url = (allowed / "my clip.mp4").as_uri()
    assert url.endswith("/my%20clip.mp4")
    inside = {"type": "video", "url": url, "fps": 2}
    # 12 frames up to the 65,536 floor (224x320): 6 pairs x 7x10 patches + 2.
    assert llm.get_num_tokens_from_messages(_message(inside)) == 6 * 70 + 2 + 4
    refused = {**inside, "url": (outside / "my clip.mp4").as_uri()}
    for run in (llm.invoke, llm.get_num_tokens_from_messages):
        with pytest.raises(QwenVLImageError, match="outside the model's allowed_dirs"):
            run(_message(refused))
