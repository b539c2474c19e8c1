"""ChatQwenVL end to end over loopback HTTP: every input form, streaming, thinking, faults."""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from PIL import Image

from langchain_qwen_vl import (
    ChatQwenVL,
    QwenVLAuthenticationError,
    QwenVLBadRequestError,
    QwenVLNotFoundError,
    QwenVLRateLimitError,
    QwenVLServerError,
    QwenVLStreamError,
    QwenVLTimeoutError,
    QwenVLUnsupportedFeatureError,
    estimate_video_tokens,
    image_block,
)
from langchain_qwen_vl.emulator import EmulatorHandle

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"


def _llm(emulator: EmulatorHandle, **kwargs: Any) -> ChatQwenVL:
    kwargs.setdefault("api_key", "sk-emulator")
    kwargs.setdefault("max_retries", 0)
    return ChatQwenVL(base_url=emulator.base_url, **kwargs)


def _png(size: tuple[int, int], color: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _ask(*images: dict[str, Any], text: str = "What colour is this?") -> HumanMessage:
    return HumanMessage(content=[{"type": "text", "text": text}, *images])


@pytest.fixture(autouse=True)
def _fresh(emulator: EmulatorHandle) -> None:
    emulator.clear()


def test_every_image_form_reaches_the_server_decoded(
    emulator: EmulatorHandle, tmp_path: Path
) -> None:
    red = _png((64, 48), "red")
    path = tmp_path / "red.png"
    path.write_bytes(red)
    b64 = base64.b64encode(red).decode()
    forms: list[dict[str, Any]] = [
        {"type": "image", "base64": b64, "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}},
        {"type": "image", "path": str(path)},
        {"type": "image", "image": path},
        {"type": "image", "url": path.as_uri()},
        {"type": "image", "image": red},
        {"type": "image", "image": Image.new("RGB", (64, 48), "red")},
        image_block(red),
    ]
    answer = _llm(emulator).invoke([_ask(*forms)])
    assert isinstance(answer.content, str)
    assert answer.content.startswith("[emulator] 8 images received.")
    assert answer.content.count("64×48 px") == 8
    assert "red" in answer.content
    sent = emulator.requests[-1]["messages"][0]["content"]
    assert all(p["image_url"]["url"].startswith("data:image/") for p in sent[1:])


def test_a_large_photo_is_downscaled_to_what_the_server_keeps(emulator: EmulatorHandle) -> None:
    photo = Image.effect_noise((4032, 3024), 40).convert("RGB")
    answer = _llm(emulator).invoke([_ask({"type": "image", "image": photo})])
    # 4032×3024 over the default cap of 2,621,440 px: the service keeps 1856×1376 (spec §4).
    assert "1856×1376 px (model sees 1856×1376" in str(answer.content)
    usage = answer.usage_metadata
    assert usage is not None
    assert usage.get("input_token_details", {}).get("image") == 1856 * 1376 // 1024 + 2


def test_remote_url_is_passed_through_not_downloaded(emulator: EmulatorHandle) -> None:
    url = "https://example.com/photo.jpg"
    answer = _llm(emulator).invoke([_ask({"type": "image", "url": url})])
    assert emulator.requests[-1]["messages"][0]["content"][1]["image_url"]["url"] == url
    assert "[emulator]" in str(answer.content)


def test_invoke_metadata_and_usage(emulator: EmulatorHandle) -> None:
    answer = _llm(emulator).invoke(
        [SystemMessage("Be brief."), _ask(image_block(ASSETS / "scene.jpg"))]
    )
    assert answer.response_metadata["model_name"] == "qwen3-vl-flash"
    assert answer.response_metadata["finish_reason"] == "stop"
    assert answer.response_metadata["model_provider"] == "qwen"
    assert str(answer.response_metadata["id"]).startswith("chatcmpl-")
    usage = answer.usage_metadata
    assert usage is not None
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage.get("input_token_details", {}).get("image") == 302  # 640×480: 20×15 + 2


def test_estimate_matches_the_server_count_for_images(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator)
    message = _ask(image_block(ASSETS / "scene.jpg"), text="x")
    answer = llm.invoke([message])
    assert answer.usage_metadata is not None
    image_tokens = answer.usage_metadata.get("input_token_details", {}).get("image")
    estimate = llm.get_num_tokens_from_messages([message])
    assert image_tokens == 302
    assert 302 < estimate < 302 + 20


class _TokenRecorder(BaseCallbackHandler):
    def __init__(self) -> None:
        self.tokens: list[str] = []

    def on_llm_new_token(self, token: str, **_: Any) -> None:
        self.tokens.append(token)


def test_stream_keeps_every_token_and_usage_once(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator)
    recorder = _TokenRecorder()
    chunks = list(
        llm.stream([_ask(image_block(ASSETS / "scene.jpg"))], config={"callbacks": [recorder]})
    )
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert isinstance(merged, AIMessageChunk)
    full = llm.invoke([_ask(image_block(ASSETS / "scene.jpg"))])
    assert merged.content == full.content
    assert "".join(recorder.tokens) == full.content
    assert merged.response_metadata["model_name"] == "qwen3-vl-flash"
    assert merged.response_metadata["finish_reason"] == "stop"
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert emulator.requests[0]["stream_options"] == {"include_usage": True}


def test_thinking_streams_reasoning_first_and_apart(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator, enable_thinking=True, thinking_budget=200)
    kinds = []
    for chunk in llm.stream([_ask(image_block(ASSETS / "scene.jpg"))]):
        if chunk.additional_kwargs.get("reasoning_content"):
            kinds.append("reasoning")
        if chunk.text:
            kinds.append("text")
    assert kinds[0] == "reasoning"
    assert kinds.index("text") > max(i for i, k in enumerate(kinds) if k == "reasoning")
    answer = llm.invoke([_ask(image_block(ASSETS / "scene.jpg"))])
    assert answer.content_blocks[0]["type"] == "reasoning"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata.get("output_token_details", {}).get("reasoning", 0) > 0


async def test_async_invoke_stream_and_batch(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator)
    message = _ask({"type": "image", "image": _png((40, 40), "blue")})
    answer = await llm.ainvoke([message])
    assert "blue" in str(answer.content)
    text = "".join([chunk.text async for chunk in llm.astream([message])])
    assert text == answer.content
    answers = await llm.abatch([[message], [HumanMessage("hello")]])
    assert [a.content == answer.content for a in answers] == [True, False]
    assert "hello" in str(answers[1].content)


def test_batch_runs_concurrently(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator, default_headers={"X-Emulator-Fault": "slow:400"})
    answers = llm.batch([[HumanMessage(f"n{i}")] for i in range(6)], {"max_concurrency": 6})
    assert [f"n{i}" in str(a.content) for i, a in enumerate(answers)] == [True] * 6


def test_images_prompt_wire_format_end_to_end(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator, wire_format="images_prompt", temperature=0.5)
    answer = llm.invoke([_ask({"type": "image", "image": _png((64, 64), "green")})])
    assert "green" in str(answer.content)
    assert emulator.requests[-1] == {
        "model": "qwen3-vl-flash",
        "images": [emulator.requests[-1]["images"][0]],
        "prompt": "What colour is this?",
        "temperature": 0.5,
    }
    chunks = list(llm.stream([_ask({"type": "image", "image": _png((64, 64), "green")})]))
    # One request, one chunk with the whole answer (core may add an empty closing chunk).
    assert [c.content for c in chunks if c.content] == [answer.content]
    with pytest.raises(QwenVLUnsupportedFeatureError, match="chat_completions"):
        llm.bind_tools([{"type": "function", "function": {"name": "f", "parameters": {}}}])


# --- errors and faults ------------------------------------------------------------------


def test_bad_key_maps_to_authentication_error(emulator: EmulatorHandle) -> None:
    with pytest.raises(QwenVLAuthenticationError) as info:
        _llm(emulator, api_key="sk-bad-key").invoke("hi")
    assert info.value.status_code == 401
    assert info.value.code == "invalid_api_key"
    assert "region" in str(info.value)
    assert "sk-bad-key" not in str(info.value)


def test_unknown_model_maps_to_not_found(emulator: EmulatorHandle) -> None:
    with pytest.raises(QwenVLNotFoundError):
        _llm(emulator, model="gpt-4o").invoke("hi")


def test_server_validation_maps_to_bad_request(emulator: EmulatorHandle) -> None:
    with pytest.raises(QwenVLBadRequestError) as info:
        _llm(emulator).invoke("hi", extra_body={"temperature": 7})
    assert info.value.status_code == 400
    assert info.value.request_id


def test_429_then_success_is_retried(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("429:0.05", "500")
    answer = _llm(emulator, max_retries=2).invoke("hello")
    assert "hello" in str(answer.content)
    assert emulator.request_count == 3


def test_429_after_retries_raises_rate_limit(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("429:0.01", "429:0.01")
    with pytest.raises(QwenVLRateLimitError) as info:
        _llm(emulator, max_retries=1).invoke("hello")
    assert info.value.is_retryable
    assert info.value.retry_after == pytest.approx(0.01)


def test_connection_reset_is_retried(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("reset")
    answer = _llm(emulator, max_retries=1).invoke("hello")
    assert "hello" in str(answer.content)


def test_500_without_retries(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("500")
    with pytest.raises(QwenVLServerError):
        _llm(emulator).invoke("hello")


def test_truncated_stream_raises_and_is_not_retried(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("truncate")
    llm = _llm(emulator, max_retries=3)
    received: list[str] = []
    with pytest.raises(QwenVLStreamError):
        received.extend(chunk.text for chunk in llm.stream("tell me a long story please"))
    assert emulator.request_count == 1


def test_timeout(emulator: EmulatorHandle) -> None:
    llm = _llm(emulator, timeout=0.2, default_headers={"X-Emulator-Fault": "slow:1500"})
    with pytest.raises(QwenVLTimeoutError):
        llm.invoke("hello")


async def test_async_retry_and_truncation(emulator: EmulatorHandle) -> None:
    emulator.inject_faults("500")
    answer = await _llm(emulator, max_retries=1).ainvoke("hello")
    assert isinstance(answer, AIMessage)
    emulator.inject_faults("truncate")

    async def consume() -> None:
        async for _ in _llm(emulator).astream("hello there"):
            await asyncio.sleep(0)

    with pytest.raises(QwenVLStreamError):
        await consume()


def test_a_raised_video_max_pixels_is_sent_and_billed_as_counted(
    emulator: EmulatorHandle,
) -> None:
    frames = [_png((1920, 1080), c) for c in ("red", "green", "blue", "white")]
    llm = _llm(emulator)
    for max_pixels in (None, 2_048_000):
        video: dict[str, Any] = {"type": "video", "video": frames, "fps": 2}
        if max_pixels is not None:
            video["max_pixels"] = max_pixels
        message = _ask(video, text="What happens?")
        usage = llm.invoke([message]).usage_metadata
        assert usage is not None
        sent = emulator.requests[-1]["messages"][0]["content"][1]
        assert sent.get("max_pixels") == max_pixels
        # 4 frames at 1920x1080: 18x33 patches under the default cap, 33x59 at 2,048,000.
        expected = 2 * 18 * 33 + 2 if max_pixels is None else 2 * 33 * 59 + 2
        assert usage.get("input_token_details", {}).get("video") == expected
        assert estimate_video_tokens(video) == expected


def test_video_as_frames_and_as_file(emulator: EmulatorHandle, tmp_path: Path) -> None:
    frame_sources = [_png((320, 240), c) for c in ("red", "green", "blue", "white")]
    video = {"type": "video", "video": frame_sources, "fps": 2}
    answer = _llm(emulator).invoke([_ask(video, text="What happens?")])
    sent = emulator.requests[-1]["messages"][0]["content"][1]
    assert sent["type"] == "video"
    assert sent["fps"] == 2
    assert len(sent["video"]) == 4
    assert all(frame.startswith("data:image/png;base64,") for frame in sent["video"])
    usage = answer.usage_metadata
    assert usage is not None
    assert usage.get("input_token_details", {}).get("video", 0) > 0
    url_video = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}
    _llm(emulator).invoke([_ask(url_video, text="What happens?")])
    # Sent with the fps the service assumes (2), so the model's timestamps are stated.
    assert emulator.requests[-1]["messages"][0]["content"][1] == url_video | {"fps": 2.0}
