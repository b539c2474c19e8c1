"""One rule per test for the media pipeline: budget precedence, geometry, encoding policy,
the local-file policy, preparing once, video on the same footing, and the event loop."""

from __future__ import annotations

import asyncio
import base64
import io
import itertools
import os
import random
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from PIL import Image, ImageDraw, ImageFont

from langchain_qwen_vl import ChatQwenVL, media
from langchain_qwen_vl.errors import QwenVLImageError
from langchain_qwen_vl.media import (
    DEFAULT_MAX_PIXELS,
    MIN_PIXELS,
    LocalFilePolicy,
    MediaOptions,
    _codec,
    decode_data_uri,
    downscale_target,
    estimate_image_tokens,
    image_block,
    image_tokens_for_size,
    resized_dimensions,
)
from langchain_qwen_vl.media._video_rules import video_tokens


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.frombytes(
        "RGB", (width, height), random.Random(seed).randbytes(width * height * 3)
    )


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def sent_image(body: dict[str, Any], index: int = 0) -> tuple[dict[str, Any], Image.Image]:
    part = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"][index]
    return part, Image.open(io.BytesIO(decode_data_uri(part["image_url"]["url"])[1]))


def service_tokens(part: dict[str, Any], image: Image.Image, high_res: bool = False) -> int:
    """What the service counts for what we sent: its formula on the received size and the
    budget sent beside the part."""
    cap = media.effective_max_pixels(part.get("max_pixels"), high_res)
    floor = part.get("min_pixels") or MIN_PIXELS
    return image_tokens_for_size(image.height, image.width, max_pixels=cap, min_pixels=floor)


@pytest.fixture(scope="module")
def photo_uri() -> str:
    return uri(jpeg(noise(3000, 2000), quality=70))


# --- budget: one precedence for the request, the count and the estimate -----------------------

# One value per source, each giving its own token count, so a wrong winner shows. max_pixels
# is seen on a 3000x2000 photo (capped), min_pixels on a 200x100 picture (raised to the floor).
_LEVELS = {
    "max_pixels": {"part": 2_000_000, "nested": 200_000, "call": 500_000, "field": 1_000_000},
    "min_pixels": {"part": 400_000, "nested": 100_000, "call": 300_000, "field": 200_000},
}
_SIZES = {"max_pixels": (3000, 2000), "min_pixels": (200, 100)}


@pytest.fixture(scope="module")
def small_uri() -> str:
    return uri(jpeg(noise(200, 100)))


@pytest.mark.parametrize("key", ["max_pixels", "min_pixels"])
@pytest.mark.parametrize(
    ("part", "nested", "call", "field"), list(itertools.product([False, True], repeat=4))
)
def test_budget_precedence_agrees_between_request_count_and_estimate(
    photo_uri: str, small_uri: str, key: str, part: bool, nested: bool, call: bool, field: bool
) -> None:
    """Per key: the part's own key > the key nested in image_url > per call > model field."""
    levels = _LEVELS[key]
    block: dict[str, Any] = {
        "type": "image_url",
        "image_url": {"url": photo_uri if key == "max_pixels" else small_uri},
    }
    if nested:
        block["image_url"][key] = levels["nested"]
    if part:
        block[key] = levels["part"]
    kwargs = {key: levels["call"]} if call else {}
    llm = ChatQwenVL(api_key="sk-test", **{key: levels["field"] if field else None})  # type: ignore[arg-type]
    sources = {"part": part, "nested": nested, "call": call, "field": field}
    winner = next((name for name, is_set in sources.items() if is_set), None)
    value = levels[winner] if winner else None
    width, height = _SIZES[key]
    expected = image_tokens_for_size(height, width, **({key: value} if value else {}))

    body = llm._build_payload([HumanMessage(content=[block])], **kwargs)
    sent_part, sent = sent_image(body)
    assert sent_part.get(key) == value  # the winner travels beside the part
    assert key not in sent_part["image_url"]
    assert service_tokens(sent_part, sent) == expected
    per_call_or_field = levels["call"] if call else levels["field"] if field else None
    assert estimate_image_tokens(block, **{key: per_call_or_field}) == expected
    if winner != "call":
        assert llm.get_num_tokens_from_messages([HumanMessage(content=[block])]) == expected + 4
    # else: get_num_tokens_from_messages takes no per-call kwargs (LangChain's signature), so
    # it cannot see a per-call value: only the estimate and the request are compared.


@pytest.mark.parametrize("part_max", [None, 200_000])
@pytest.mark.parametrize("field", [False, True])
@pytest.mark.parametrize("call", [None, False, True])
def test_high_resolution_precedence_agrees_between_request_count_and_estimate(
    photo_uri: str, call: bool | None, field: bool, part_max: int | None
) -> None:
    """vl_high_resolution_images: per call over the model field; on, it ignores every max_pixels."""
    block: dict[str, Any] = {"type": "image_url", "image_url": {"url": photo_uri}}
    if part_max:
        block["max_pixels"] = part_max
    kwargs = {} if call is None else {"vl_high_resolution_images": call}
    llm = ChatQwenVL(api_key="sk-test", vl_high_resolution_images=field)
    high = field if call is None else call
    cap = media.HIGH_RESOLUTION_MAX_PIXELS if high else part_max or DEFAULT_MAX_PIXELS
    expected = image_tokens_for_size(2000, 3000, max_pixels=cap)

    body = llm._build_payload([HumanMessage(content=[block])], **kwargs)
    assert bool(body.get("vl_high_resolution_images")) is high
    part, sent = sent_image(body)
    if high:
        assert sent.size == (3000, 2000)  # 6 MP is under the high-resolution cap: sent as it is
    assert service_tokens(part, sent, high_res=high) == expected
    assert estimate_image_tokens(block, vl_high_resolution_images=high) == expected
    if call is None:
        assert llm.get_num_tokens_from_messages([HumanMessage(content=[block])]) == expected + 4
    # else: get_num_tokens_from_messages takes no per-call kwargs (LangChain's signature), so
    # it cannot see a per-call value: only the estimate and the request are compared.


def test_budget_is_validated_in_one_place_with_the_same_message() -> None:
    for block in (
        {"type": "image", "url": "https://x.test/a.png", "max_pixels": 12},
        {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "max_pixels": 12}},
    ):
        with pytest.raises(QwenVLImageError, match=r"max_pixels must be an integer .* got 12"):
            ChatQwenVL(api_key="sk-test")._build_payload([HumanMessage(content=[block])])
        with pytest.raises(QwenVLImageError, match=r"max_pixels must be an integer .* got 12"):
            estimate_image_tokens(block)


# --- geometry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("width", "height", "cap"),
    [(6213, 2504, 4_096), (6213, 2504, 5_000), (9000, 46, 8_192), (40, 7999, 4_096)],
)
def test_extreme_aspects_under_a_tiny_cap_are_sent_unchanged(
    width: int, height: int, cap: int
) -> None:
    # The service's grid is not a fixed point here: shrinking to it would change the tokens.
    target = downscale_target(width, height, cap)
    if target is not None:
        tw, th = target
        assert image_tokens_for_size(th, tw, max_pixels=cap) == image_tokens_for_size(
            height, width, max_pixels=cap
        )
    assert downscale_target(6213, 2504, 4_096) is None


def test_downscale_target_keeps_tokens_at_extreme_aspects() -> None:
    rng = random.Random(5)
    for _ in range(2000):
        short = rng.randint(11, 300)
        long = rng.randint(short, short * 200)
        width, height = (long, short) if rng.random() < 0.5 else (short, long)
        cap = rng.choice([4_096, 8_192, 50_000, 200_000, DEFAULT_MAX_PIXELS])
        target = downscale_target(width, height, cap)
        if target is None:
            continue
        tw, th = target
        assert resized_dimensions(th, tw, max_pixels=cap) == (th, tw)
        assert image_tokens_for_size(th, tw, max_pixels=cap) == image_tokens_for_size(
            height, width, max_pixels=cap
        )


# --- codec: the format by the kind of picture ------------------------------------------------


def screenshot(width: int = 2560, height: int = 1600) -> Image.Image:
    image = Image.new("RGB", (width, height), (246, 247, 249))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=11)
    for y in range(10, height - 20, 18):
        draw.text(
            (12, y),
            f"row {y}: total 1,234.56 EUR status pending " * 4,
            fill=(40, 40, 40),
            font=font,
        )
    draw.rectangle((width // 2, 40, width // 2 + 300, 90), fill=(37, 99, 235))
    return image


def test_screenshots_become_png_so_small_text_stays_exact() -> None:
    prepared = media.prepare_image(screenshot())
    assert prepared.mime_type == "image/png"
    assert prepared.resized


def test_photos_become_jpeg() -> None:
    prepared = media.prepare_image(noise(3000, 2000))
    assert prepared.mime_type == "image/jpeg"


def test_grey_pictures_are_sent_as_grey_jpeg() -> None:
    scan = noise(2480, 3508).convert("L").convert("RGB")  # grey content in an RGB file
    prepared = media.prepare_image(scan)
    assert prepared.mime_type == "image/jpeg"
    sent = Image.open(io.BytesIO(decode_data_uri(prepared.url)[1]))
    assert sent.mode == "L"


def test_picture_kind_tells_screens_from_photos() -> None:
    assert _codec.picture_kind(screenshot(800, 500)) == "screen"
    assert _codec.picture_kind(noise(800, 500)) == "photo"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_huge_declared_png_is_refused_before_it_is_decoded() -> None:
    # A tiny file declaring 12000x12000 px: the header is real, the pixels never decoded.
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 12000, 12000, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
    png += chunk(b"IEND", b"")
    # The header alone is enough to count: 1600x1600 at the default cap.
    assert estimate_image_tokens(png) == image_tokens_for_size(12000, 12000) == 2502
    with pytest.raises(QwenVLImageError, match=r"144 MP to decode, over the 64 MP"):
        media.prepare_image(png)


# --- local files ---------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.png"
    noise(64, 64).save(secret, "PNG")
    inside = allowed / "ok.png"
    noise(64, 64).save(inside, "PNG")
    (allowed / "link.png").symlink_to(secret)
    return {"allowed": allowed, "secret": secret, "inside": inside}


def _message(source: str) -> list[HumanMessage]:
    return [HumanMessage(content=[{"type": "image", "url": source}])]


def test_allowed_dirs_none_reads_any_file(tree: dict[str, Path]) -> None:
    llm = ChatQwenVL(api_key="sk-test")
    assert llm._build_payload(_message(str(tree["secret"])))


@pytest.mark.parametrize(
    "escape",
    [
        "{allowed}/../secret.png",
        "{allowed}/link.png",
        "file://{allowed}/../secret.png",
        "file://{secret}",
        "{secret}",
        "{allowed}/../missing.png",
    ],
)
def test_allowed_dirs_refuse_escapes_before_any_request(tree: dict[str, Path], escape: str) -> None:
    source = escape.format(allowed=tree["allowed"], secret=tree["secret"])
    llm = ChatQwenVL(api_key="sk-test", allowed_dirs=[tree["allowed"]])
    with pytest.raises(QwenVLImageError, match="refused: it is outside the model's allowed_dirs"):
        llm._build_payload(_message(source))
    with pytest.raises(QwenVLImageError, match="refused"):
        llm.get_num_tokens_from_messages(_message(source))  # type: ignore[arg-type]
    assert llm._build_payload(_message(str(tree["inside"])))  # inside is fine


def test_empty_allowed_dirs_reads_no_file_but_takes_everything_else(
    tree: dict[str, Path],
) -> None:
    llm = ChatQwenVL(api_key="sk-test", allowed_dirs=[])
    with pytest.raises(QwenVLImageError, match=r"reads no local files \(allowed_dirs=\[\]\)"):
        llm._build_payload(_message(str(tree["inside"])))
    data = tree["inside"].read_bytes()
    for source in (uri(data, "image/png"), "https://x.test/a.png"):
        assert llm._build_payload(_message(source))
    assert llm._build_payload([HumanMessage(content=[image_block(data)])])


def test_a_file_swapped_for_a_symlink_after_the_check_is_refused(tree: dict[str, Path]) -> None:
    policy = LocalFilePolicy(media.normalise_dirs([tree["allowed"]]))
    path = policy.check(str(tree["inside"]))
    os.remove(tree["inside"])
    os.symlink(tree["secret"], tree["inside"])  # swapped between the check and the open
    with pytest.raises(media.FileProblem):
        policy.read(path)


def test_allowed_dirs_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"allowed_dirs\[0\]: .* does not exist"):
        ChatQwenVL(api_key="sk-test", allowed_dirs=[tmp_path / "nope"])


# --- prepared once -------------------------------------------------------------------------------


def test_image_block_of_a_path_is_a_small_reference(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg(noise(4032, 3024)))
    block = image_block(path)
    assert len(repr(block)) < 300
    body = ChatQwenVL(api_key="sk-test")._build_payload([HumanMessage(content=[block])])
    assert sent_image(body)[1].size == (1856, 1376)


def test_image_block_of_bytes_holds_no_more_than_is_sent() -> None:
    data = jpeg(noise(4032, 3024))
    block = image_block(data)
    assert len(block["url"]) < len(uri(data)) / 2
    sent = Image.open(io.BytesIO(decode_data_uri(block["url"])[1]))
    assert sent.size == (1856, 1376)
    assert block["extras"]["qwen_vl_prepared"]["original_width"] == 4032


def test_a_prepared_block_is_not_decoded_again(monkeypatch: pytest.MonkeyPatch) -> None:
    block = image_block(noise(4032, 3024))
    calls: list[str] = []
    monkeypatch.setattr(_codec, "inspect", lambda *a, **k: calls.append("inspect"))
    monkeypatch.setattr(_codec, "reencode", lambda *a, **k: calls.append("reencode"))
    llm = ChatQwenVL(api_key="sk-test")
    body = llm._build_payload([HumanMessage(content=[block])])
    assert body["messages"][0]["content"][0]["image_url"]["url"] == block["url"]
    assert llm.get_num_tokens_from_messages([HumanMessage(content=[block])]) == 2496 + 4
    assert calls == []


def test_a_prepared_block_under_a_smaller_budget_is_prepared_again() -> None:
    block = image_block(noise(4032, 3024))
    body = ChatQwenVL(api_key="sk-test", max_pixels=500_000)._build_payload(
        [HumanMessage(content=[block])]
    )
    part, sent = sent_image(body)
    assert sent.width * sent.height <= 500_000
    assert service_tokens(part, sent) == image_tokens_for_size(1376, 1856, max_pixels=500_000)


def test_counting_reads_headers_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg(noise(4032, 3024)))
    monkeypatch.setattr(_codec, "reencode", lambda *a, **k: pytest.fail("decoded to count"))
    message = [HumanMessage(content=[{"type": "image", "url": str(path)}])]
    assert ChatQwenVL(api_key="sk-test").get_num_tokens_from_messages(message) == 2496 + 4  # type: ignore[arg-type]


# --- video on the same footing -------------------------------------------------------------------


def test_video_frames_take_every_image_form_and_are_counted_by_the_video_formula(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.png"
    noise(1280, 720).save(path)  # photo-like: the downscaled frame is smaller than the file
    frames: list[Any] = [
        image_block(path),
        image_block(noise(1280, 720, seed=1)),
        str(path),
        {"type": "image_url", "image_url": {"url": uri(path.read_bytes(), "image/png")}},
    ]
    message = [HumanMessage(content=[{"type": "video", "video": frames, "fps": 2}])]
    llm = ChatQwenVL(api_key="sk-test")
    body = llm._build_payload(message)
    wire = body["messages"][0]["content"][0]
    assert wire["type"] == "video"
    assert wire["fps"] == 2
    assert len(wire["video"]) == 4
    for frame in wire["video"]:
        size = Image.open(io.BytesIO(decode_data_uri(frame)[1])).size
        assert size == (1056, 576)  # each frame at the video per-frame cap (655,360 px)
    # ceil(4 / 2) temporal patches x (576/32 x 1056/32) patches + 2
    assert video_tokens(4, 720, 1280) == 2 * 18 * 33 + 2
    assert llm.get_num_tokens_from_messages(message) == 2 * 18 * 33 + 2 + 4  # type: ignore[arg-type]


# --- off the event loop ----------------------------------------------------------------------


async def test_preparing_a_large_image_does_not_stall_the_event_loop() -> None:
    data = jpeg(noise(4032, 3024))
    messages = [HumanMessage(content=[{"type": "image", "url": uri(data)}])]
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    prepared = await media.aprepare_messages(messages, MediaOptions(), LocalFilePolicy(None))
    during = ticks - before
    stop.set()
    await task
    assert prepared[0].parts[0].image.resized  # type: ignore[union-attr]
    # The loop kept turning while the image was decoded and resized in a worker thread: on the
    # loop's own thread the ticker would have run once or twice.
    assert during > 20, during


async def test_url_only_messages_stay_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    from langchain_qwen_vl.media import _content

    def no_threads() -> Any:
        raise AssertionError("a thread hop for a URL-only message")

    monkeypatch.setattr(_content, "_preparation_pool", no_threads)
    block = image_block(noise(64, 64))
    messages = [
        HumanMessage(content=[{"type": "image", "url": "https://x.test/a.jpg"}, block, "hi"])
    ]
    prepared = await media.aprepare_messages(messages, MediaOptions(), LocalFilePolicy(None))
    assert len(prepared[0].parts) == 3
    # ... while a local image does take the hop.
    local = [HumanMessage(content=[{"type": "image", "url": uri(jpeg(noise(64, 64)))}])]
    with pytest.raises(AssertionError, match="thread hop"):
        await media.aprepare_messages(local, MediaOptions(), LocalFilePolicy(None))


# --- the scan loader hands pages over prepared ---------------------------------------------------


def test_scan_pages_reach_the_wire_without_a_second_decode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import httpx

    from langchain_qwen_vl import QwenVLScanLoader

    page = Image.new("RGB", (1240, 1754), "white")
    ImageDraw.Draw(page).text((100, 100), "Invoice 42", fill="black")
    page.save(tmp_path / "page.png")
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        import json

        bodies.append(json.loads(request.content))
        message = {"role": "assistant", "content": "Invoice 42"}
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "qwen3-vl-flash",
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )

    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    llm = ChatQwenVL(api_key="sk-test", base_url="http://127.0.0.1:9/v1", http_async_client=client)
    # The chat model must not sniff or decode what the loader prepared.
    monkeypatch.setattr(_codec, "inspect", lambda *a, **k: pytest.fail("decoded again"))
    monkeypatch.setattr(_codec, "reencode", lambda *a, **k: pytest.fail("re-encoded"))
    (doc,) = QwenVLScanLoader(tmp_path / "page.png", llm=llm).load()
    assert doc.page_content == "Invoice 42", doc.metadata
    (body,) = bodies
    url = body["messages"][0]["content"][-1]["image_url"]["url"]
    assert url.startswith("data:image/")


def test_never_more_bytes_than_the_original(tmp_path: Path) -> None:
    # A flat PNG screenshot is smaller at full size than downscaled (the resize adds shades):
    # the original goes, with the same tokens, and the service's view is its own resize.
    path = tmp_path / "screen.png"
    screenshot().save(path, "PNG", optimize=True)
    prepared = media.prepare_image(path)
    assert len(decode_data_uri(prepared.url)[1]) == path.stat().st_size
    assert not prepared.resized
    assert (prepared.width, prepared.height) == (2560, 1600)
