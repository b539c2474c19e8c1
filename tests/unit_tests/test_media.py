"""Tests of langchain_qwen_vl.media: the §4 formula, every input form, every refusal, downscale.

Images are generated with Pillow in the test; nothing touches the network.
"""

from __future__ import annotations

import base64
import io
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from PIL import Image, ImageChops, ImageFilter

from langchain_qwen_vl import media
from langchain_qwen_vl.errors import QwenVLImageError, QwenVLInputError
from langchain_qwen_vl.media import (
    DEFAULT_MAX_PIXELS,
    HIGH_RESOLUTION_MAX_PIXELS,
    MAX_IMAGE_BYTES,
    MIN_PIXELS,
    decode_data_uri,
    effective_max_pixels,
    estimate_image_tokens,
    image_block,
    image_source_from_block,
    image_tokens_for_size,
    prepare_image,
    resized_dimensions,
)
from langchain_qwen_vl.media import _codec as _media_codec

WHERE = "messages[1].content[2]"

# --- helpers -----------------------------------------------------------------------------


def noise(width: int, height: int, mode: str = "RGB", seed: int = 0) -> Image.Image:
    """A photo-like (incompressible, many colours) image."""
    bands = len(mode)
    return Image.frombytes(
        mode, (width, height), random.Random(seed).randbytes(width * height * bands)
    )


def encode(image: Image.Image, fmt: str = "PNG", **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def uri_of(data: bytes, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def payload(url: str) -> bytes:
    return decode_data_uri(url)[1]


def decoded(url: str) -> Image.Image:
    image = Image.open(io.BytesIO(payload(url)))
    image.load()
    return image


def tokens(width: int, height: int, cap: int = DEFAULT_MAX_PIXELS) -> int:
    return image_tokens_for_size(height, width, max_pixels=cap)


def assert_clear(error: pytest.ExceptionInfo[QwenVLImageError], *needles: str) -> None:
    """The message names the location, says what to do, and never dumps base64."""
    message = str(error.value)
    assert message.startswith(WHERE), message
    assert " — " in message, message  # problem — fix
    assert not re.search(r"[A-Za-z0-9+/]{100,}", message), message
    for needle in needles:
        assert needle in message, message


@pytest.fixture
def small_jpeg() -> bytes:
    return encode(noise(320, 240), "JPEG", quality=90)


# --- the formula (spec §4) -----------------------------------------------------------------


def test_formula_12mp_photo_at_default_cap() -> None:
    # h=3024, w=4032. Step 1: round(94.5)=94 (half to even) -> 3008, round(126)=126 -> 4032;
    # 3008*4032 = 12,128,256 > 2,621,440, so step 2: beta = sqrt(12,192,768 / 2,621,440)
    # = 2.15666; 3024/beta/32 = 43.82 -> 43*32 = 1376; 4032/beta/32 = 58.42 -> 58*32 = 1856.
    # Tokens: 1376*1856/1024 + 2 = 2494 + 2.
    assert resized_dimensions(3024, 4032) == (1376, 1856)
    assert resized_dimensions(4032, 3024) == (1856, 1376)  # symmetric: rotation-independent
    assert image_tokens_for_size(3024, 4032) == 2496


def test_formula_rounds_half_to_even_like_qwen_vl_utils() -> None:
    # 80/32 = 2.5 -> round() gives 2 (not 3); 48/32 = 1.5 -> 2. Both sides become 64.
    assert resized_dimensions(48, 80) == (64, 64)
    # 1000/32 = 31.25 -> 31 -> 992; under the cap, no further step.
    assert resized_dimensions(1000, 1000) == (992, 992)
    assert image_tokens_for_size(1000, 1000) == 992 * 992 // 1024 + 2 == 963


def test_formula_min_pixels_upscale() -> None:
    # 20x30: step 1 gives 32x32 = 1024 < 4096 = MIN_PIXELS. Step 3: beta = sqrt(4096/600)
    # = 2.6128; ceil(20*2.6128/32) = ceil(1.633) = 2 -> 64; ceil(30*2.6128/32) = 3 -> 96.
    assert resized_dimensions(20, 30) == (64, 96)
    assert image_tokens_for_size(20, 30) == 64 * 96 // 1024 + 2 == 8
    # A sub-patch side (11 px rounds to 0) is rescued by step 3 as well.
    h_bar, w_bar = resized_dimensions(11, 2000)
    assert h_bar >= 32
    assert h_bar * w_bar >= MIN_PIXELS


def test_formula_high_resolution_cap() -> None:
    assert effective_max_pixels(None, False) == DEFAULT_MAX_PIXELS
    assert effective_max_pixels(1_000_000, False) == 1_000_000
    assert effective_max_pixels(1_000_000, True) == HIGH_RESOLUTION_MAX_PIXELS  # ignored
    # 3008*4032 = 12,128,256 fits 16,777,216: only step 1 applies.
    assert resized_dimensions(3024, 4032, max_pixels=HIGH_RESOLUTION_MAX_PIXELS) == (3008, 4032)
    assert tokens(4032, 3024, HIGH_RESOLUTION_MAX_PIXELS) == 3008 * 4032 // 1024 + 2 == 11846
    # An 8K image is capped at 16,384 tokens.
    assert tokens(7680, 4320, HIGH_RESOLUTION_MAX_PIXELS) <= 16_384 + 2


def test_formula_cap_is_never_exceeded_and_tokens_of_cap() -> None:
    rng = random.Random(1)
    for _ in range(3000):
        h, w = rng.randint(11, 20000), rng.randint(11, 20000)
        cap = rng.choice([DEFAULT_MAX_PIXELS, HIGH_RESOLUTION_MAX_PIXELS, 200_000, 1_003_520])
        h_bar, w_bar = resized_dimensions(h, w, max_pixels=cap)
        assert h_bar % 32 == 0
        assert w_bar % 32 == 0
        assert h_bar * w_bar <= cap


# --- the downscale property -------------------------------------------------------------------


def test_downscale_target_preserves_tokens_over_random_sizes() -> None:
    """Resizing to the grid makes the server count the same tokens, and stays within the cap."""
    rng = random.Random(7)
    downscaled = 0
    for _ in range(20000):
        w = rng.randint(11, 16000)
        h = rng.randint(max(11, w // 200 + 1), min(16000, w * 200))
        cap = rng.choice(
            [
                DEFAULT_MAX_PIXELS,
                HIGH_RESOLUTION_MAX_PIXELS,
                rng.randint(MIN_PIXELS, HIGH_RESOLUTION_MAX_PIXELS),
            ]
        )
        target = media.downscale_target(w, h, cap, MIN_PIXELS)
        if target is None:
            # Only when the cap does not bite (step 2 not taken), or when its grid is not a
            # pure downscale (beta < 1 when rounding up pushed step 1 over the cap, e.g.
            # 242x10780 -> 224x10784): then the server's own resize is as good as ours.
            h_bar, w_bar = resized_dimensions(h, w, max_pixels=cap)
            assert round(h / 32) * round(w / 32) * 1024 <= cap or h_bar > h or w_bar > w
            continue
        downscaled += 1
        tw, th = target
        assert tw * th <= cap
        assert tw * th < w * h
        assert tw <= w
        assert th <= h
        assert tokens(tw, th, cap) == tokens(w, h, cap)
        assert resized_dimensions(th, tw, max_pixels=cap) == (th, tw)  # a fixed point
    assert downscaled > 5000


@pytest.mark.parametrize("seed", range(12))
def test_prepare_downscales_real_images_to_the_grid(seed: int) -> None:
    rng = random.Random(seed)
    width, height = rng.randint(120, 700), rng.randint(120, 700)
    cap = rng.randint(8_192, 60_000)
    fmt, mode = rng.choice([("JPEG", "RGB"), ("PNG", "RGB"), ("PNG", "RGBA"), ("WEBP", "RGB")])
    data = encode(noise(width, height, mode, seed), fmt)
    prepared = prepare_image(data, max_pixels=cap)
    h_bar, w_bar = resized_dimensions(height, width, max_pixels=cap)
    if h_bar * w_bar >= width * height:  # rare: the cap did not bite
        return
    assert prepared.resized
    assert (prepared.width, prepared.height) == (w_bar, h_bar)
    assert decoded(prepared.url).size == (w_bar, h_bar)
    assert w_bar * h_bar <= cap
    assert prepared.original_size == (width, height)
    assert tokens(w_bar, h_bar, cap) == tokens(width, height, cap)
    assert prepared.mime_type == ("image/png" if mode == "RGBA" else "image/jpeg")


def test_12mp_jpeg_is_downscaled_with_identical_tokens(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    noise(4032, 3024).save(path, "JPEG", quality=92)
    prepared = prepare_image(path)
    assert (prepared.width, prepared.height) == (1856, 1376)
    assert decoded(prepared.url).size == (1856, 1376)
    assert prepared.resized
    assert prepared.original_size == (4032, 3024)
    assert prepared.mime_type == "image/jpeg"
    assert len(prepared.url) < 0.35 * len(uri_of(path.read_bytes(), "image/jpeg"))
    assert estimate_image_tokens(path) == estimate_image_tokens(prepared.url) == 2496


def test_high_resolution_keeps_more_pixels() -> None:
    data = encode(noise(2400, 1800), "JPEG")
    assert prepare_image(data).resized  # 4.3 MP > default cap
    high = prepare_image(data, vl_high_resolution_images=True)
    assert not high.resized
    assert payload(high.url) == data


@pytest.mark.parametrize(
    ("source", "target"),
    [((2016, 1512), (1856, 1376)), ((1500, 1400), (1100, 1001)), ((4000, 3000), (1200, 900))],
)
def test_two_thread_resize_matches_a_whole_image_resize(
    source: tuple[int, int], target: tuple[int, int]
) -> None:
    # Halves resized with box= sample the same source positions as one whole-image resize;
    # only the order of Pillow's two passes (hence 8-bit rounding/clipping in between) may
    # differ. A natural image (not raw noise, whose overshoots clip) must agree within 2.
    image = noise(*source).filter(ImageFilter.GaussianBlur(1.5))
    threaded = _media_codec.resize(image, target)
    whole = image.resize(target, Image.Resampling.BICUBIC, reducing_gap=3.0)
    assert threaded.size == target
    extrema = ImageChops.difference(threaded, whole).getextrema()
    assert max(high for _, high in extrema) <= 2  # type: ignore[misc]


# --- sent unchanged within the cap ----------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_within_cap_bytes_are_unchanged(fmt: str, mime: str) -> None:
    data = encode(noise(300, 200), fmt)
    prepared = prepare_image(data, where=WHERE)
    assert payload(prepared.url) == data
    assert prepared.url == uri_of(data, mime)
    assert (prepared.mime_type, prepared.width, prepared.height) == (mime, 300, 200)
    assert not prepared.resized
    assert not prepared.is_remote


def test_multi_picture_jpeg_is_a_jpeg() -> None:
    # Many phones write MPO (Pillow's name); every decoder reads it as a JPEG.
    image = noise(200, 150)
    data = encode(image, "MPO", save_all=True, append_images=[image])
    prepared = prepare_image(data)
    assert prepared.mime_type == "image/jpeg"
    assert payload(prepared.url) == data


def test_canonical_data_uri_is_sent_as_the_same_string(small_jpeg: bytes) -> None:
    uri = uri_of(small_jpeg, "image/jpeg")
    assert prepare_image(uri).url == uri
    assert prepare_image("  " + uri + "\n").url == uri


def test_data_uri_with_wrong_mime_is_relabelled(small_jpeg: bytes) -> None:
    for declared in ("image/jpg", "image/png", "image", ""):
        prepared = prepare_image(uri_of(small_jpeg, declared))
        assert prepared.url == uri_of(small_jpeg, "image/jpeg")


def test_data_uri_with_wrapped_or_unpadded_base64_is_accepted(small_jpeg: bytes) -> None:
    text = base64.b64encode(small_jpeg).decode()
    wrapped = "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    assert payload(prepare_image(f"data:image/jpeg;base64,{wrapped}").url) == small_jpeg
    urlsafe = base64.urlsafe_b64encode(small_jpeg).decode().rstrip("=")
    assert payload(prepare_image(f"data:image/jpeg;base64,{urlsafe}").url) == small_jpeg


def test_decode_data_uri() -> None:
    assert decode_data_uri("data:image/png;base64,aGk=") == ("image/png", b"hi")
    assert decode_data_uri("DATA:Image/PNG;BASE64,aGk=") == ("image/png", b"hi")
    assert decode_data_uri("data:text/plain,a%20b") == ("text/plain", b"a b")
    for bad in ("data:image/png;base64", "image/png;base64,aGk=", "data:image/png;base64,a*Gk"):
        with pytest.raises(QwenVLImageError, match=r"^messages\[1\]\.content\[2\]: "):
            decode_data_uri(bad, where=WHERE)


# --- input forms --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["https://example.com/cat.jpg", "http://example.com/a.png?x=1", " HTTPS://E.COM/A "]
)
def test_http_urls_pass_through(url: str) -> None:
    prepared = prepare_image(url)
    assert prepared.url == url.strip()
    assert prepared.is_remote
    assert prepared.mime_type is None
    assert prepared.width is None
    assert prepared.original_size is None


def test_path_forms(tmp_path: Path, small_jpeg: bytes) -> None:
    path = tmp_path / "dir with space" / "photo.jpg"
    path.parent.mkdir()
    path.write_bytes(small_jpeg)
    expected = uri_of(small_jpeg, "image/jpeg")
    for source in (str(path), path, path.as_uri(), f"file://{path}", f"file://localhost{path}"):
        prepared = prepare_image(source)
        assert prepared.url == expected, source
        assert (prepared.width, prepared.height) == (320, 240)


def test_bytes_forms(small_jpeg: bytes) -> None:
    expected = uri_of(small_jpeg, "image/jpeg")
    assert prepare_image(small_jpeg).url == expected
    assert prepare_image(bytearray(small_jpeg)).url == expected


def test_pil_rgb_photo_becomes_jpeg() -> None:
    prepared = prepare_image(noise(300, 200))
    assert prepared.mime_type == "image/jpeg"
    assert prepared.url.startswith("data:image/jpeg;base64,")
    assert decoded(prepared.url).size == (300, 200)
    assert not prepared.resized


def test_pil_rgba_with_transparency_becomes_png() -> None:
    image = noise(300, 200, "RGBA")
    prepared = prepare_image(image)
    assert prepared.mime_type == "image/png"
    assert decoded(prepared.url).tobytes() == image.tobytes()  # lossless


def test_pil_opaque_rgba_drops_alpha() -> None:
    image = noise(300, 200)
    image.putalpha(255)
    assert prepare_image(image).mime_type == "image/jpeg"


def test_pil_few_colours_become_lossless_png() -> None:
    grey = Image.new("L", (300, 200), 200)
    grey.paste(30, (50, 50, 150, 120))
    prepared = prepare_image(grey)
    assert prepared.mime_type == "image/png"
    assert decoded(prepared.url).tobytes() == grey.tobytes()
    palette = grey.convert("P")
    assert prepare_image(palette).mime_type == "image/png"
    assert prepare_image(noise(300, 200, "L")).mime_type == "image/jpeg"  # a grey photo


def test_pil_image_over_the_cap_is_downscaled_and_not_mutated() -> None:
    image = noise(2400, 1800)
    before = image.tobytes()
    prepared = prepare_image(image)
    h_bar, w_bar = resized_dimensions(1800, 2400)
    assert prepared.resized
    assert (prepared.width, prepared.height) == (w_bar, h_bar)
    assert image.size == (2400, 1800)
    assert image.tobytes() == before


def test_over_4k_non_jpeg_png_is_transcoded() -> None:
    # Spec §4: above 4K only JPEG/PNG. Within the high-resolution cap, so not downscaled.
    data = encode(Image.new("RGB", (4000, 1000), "navy"), "WEBP", lossless=True)
    prepared = prepare_image(data, vl_high_resolution_images=True)
    assert prepared.mime_type == "image/png"
    assert not prepared.resized
    assert decoded(prepared.url).size == (4000, 1000)


def test_heic_without_decoder_is_passed_through() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(200)
    prepared = prepare_image(heic)
    assert prepared.mime_type == "image/heic"
    assert payload(prepared.url) == heic
    assert prepared.width is None
    assert not prepared.resized
    assert estimate_image_tokens(heic) == DEFAULT_MAX_PIXELS // 1024 + 2  # size unknown: bound
    assert _media_codec.sniff_heif(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00mif1avif") is None


def test_cmyk_and_16_bit_images_are_converted() -> None:
    cmyk = prepare_image(noise(100, 80, "CMYK"))
    assert decoded(cmyk.url).mode == "RGB"
    deep = Image.new("I;16", (100, 80), 40000)
    grey = decoded(prepare_image(deep).url)
    assert grey.mode == "L"
    assert grey.getpixel((0, 0)) == 40000 // 256


# --- EXIF orientation -------------------------------------------------------------------------


def rotated_jpeg(orientation: int) -> bytes:
    """Stored 400x300 with a red block at the stored top-left corner."""
    image = Image.new("RGB", (400, 300), "blue")
    image.paste((255, 0, 0), (0, 0, 80, 60))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", quality=95, exif=exif.tobytes())


def test_exif_rotation_reports_displayed_size_and_keeps_bytes_within_cap() -> None:
    data = rotated_jpeg(6)  # "rotate 90 CW to display": shown as 300x400
    prepared = prepare_image(data)
    assert (prepared.width, prepared.height) == (300, 400)
    assert payload(prepared.url) == data  # unchanged, EXIF included
    assert estimate_image_tokens(data) == tokens(300, 400) == tokens(400, 300)


def test_exif_rotation_is_baked_in_when_downscaling() -> None:
    prepared = prepare_image(rotated_jpeg(6), max_pixels=40_000)
    h_bar, w_bar = resized_dimensions(400, 300, max_pixels=40_000)
    image = decoded(prepared.url)
    assert image.size == (w_bar, h_bar) == (prepared.width, prepared.height)
    assert image.size[0] < image.size[1]  # portrait, as displayed
    assert not image.getexif().get(0x0112)
    red, _, blue = image.convert("RGB").getpixel((image.width - 5, 5))  # type: ignore[misc]  # stored top-left -> shown top-right
    assert red > 200
    assert blue < 60


def test_pil_image_with_exif_orientation_is_sent_as_displayed() -> None:
    image = Image.open(io.BytesIO(rotated_jpeg(8)))
    prepared = prepare_image(image)
    assert (prepared.width, prepared.height) == (300, 400)
    assert decoded(prepared.url).size == (300, 400)


# --- content blocks --------------------------------------------------------------------------


def block_cases(tmp_path: Path, jpeg: bytes) -> list[tuple[dict[str, Any], Any]]:
    path = tmp_path / "a.jpg"
    path.write_bytes(jpeg)
    b64 = base64.b64encode(jpeg).decode()
    uri = uri_of(jpeg, "image/jpeg")
    pil = Image.open(path)
    url = "https://example.com/a.jpg"
    return [
        ({"type": "image", "url": url}, url),  # LangChain v1
        ({"type": "image", "base64": b64, "mime_type": "image/jpeg"}, uri),
        ({"type": "image", "base64": b64}, "data:;base64," + b64),  # mime sniffed later
        ({"type": "image", "source_type": "url", "url": url}, url),  # LangChain v0
        ({"type": "image", "source_type": "base64", "data": b64, "mime_type": "image/jpeg"}, uri),
        ({"type": "image_url", "image_url": {"url": url}}, url),  # OpenAI
        ({"type": "image_url", "image_url": url}, url),
        ({"type": "image_url", "image_url": {"url": uri, "detail": "high"}}, uri),
        ({"type": "input_image", "image_url": url}, url),  # OpenAI Responses
        ({"image": url}, url),  # DashScope native
        ({"image_url": {"url": url}}, url),
        ({"type": "image", "image": path}, path),  # ours
        ({"type": "image", "image": jpeg}, jpeg),
        ({"type": "image", "image": pil}, pil),
        ({"type": "image", "path": str(path)}, str(path)),
        ({"type": "image", "url": path}, path),
    ]


def test_image_source_from_every_block_shape(tmp_path: Path, small_jpeg: bytes) -> None:
    for block, expected in block_cases(tmp_path, small_jpeg):
        source = image_source_from_block(block, where=WHERE)
        assert source == expected or source is expected, block
        prepared = prepare_image(source, where=WHERE)
        if not prepared.is_remote:
            assert (prepared.mime_type, prepared.width) == ("image/jpeg", 320), block


def test_non_image_blocks_are_not_images() -> None:
    for block in ({"type": "text", "text": "hi"}, {"type": "video", "video": "x"}, {"text": "a"}):
        assert image_source_from_block(block, where=WHERE) is None


@pytest.mark.parametrize(
    "block",
    [
        {"type": "image", "file_id": "file-abc"},
        {"type": "image", "source_type": "id", "id": "file-abc"},
        {"type": "input_image", "file_id": "file-abc"},
    ],
)
def test_file_id_blocks_are_refused(block: dict[str, Any]) -> None:
    with pytest.raises(QwenVLImageError) as error:
        image_source_from_block(block, where=WHERE)
    assert_clear(error, "file id", "'url'")


@pytest.mark.parametrize(
    "block",
    [{"type": "image"}, {"type": "image_url"}, {"type": "image", "base64": ""}],
)
def test_blocks_without_a_source_are_refused(block: dict[str, Any]) -> None:
    with pytest.raises(QwenVLImageError) as error:
        image_source_from_block(block, where=WHERE)
    assert_clear(error)


def test_estimate_tokens_of_blocks_and_forms(tmp_path: Path, small_jpeg: bytes) -> None:
    expected = tokens(320, 240)
    for block, _ in block_cases(tmp_path, small_jpeg):
        remote = "example.com" in str(image_source_from_block(block, where=WHERE))
        assert estimate_image_tokens(block) == (2562 if remote else expected), block
    block = {"type": "image_url", "image_url": {"url": "https://x.com/a"}, "max_pixels": 1_000_000}
    assert estimate_image_tokens(block) == 1_000_000 // 1024 + 2
    # The block's own budget wins over the arguments (as in a request, over per-call kwargs).
    assert estimate_image_tokens(block, max_pixels=DEFAULT_MAX_PIXELS) == 1_000_000 // 1024 + 2
    assert estimate_image_tokens(block, vl_high_resolution_images=True) == 16_384 + 2
    with pytest.raises(QwenVLImageError, match="not an image block"):
        estimate_image_tokens({"type": "text", "text": "hi"})


def test_estimate_reads_only_the_header(tmp_path: Path) -> None:
    # A truncated file still has a full header: estimating works, preparing refuses.
    data = encode(noise(4032, 3024), "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 3])
    assert estimate_image_tokens(path) == 2496
    with pytest.raises(QwenVLImageError, match="cannot be decoded"):
        prepare_image(path)


# --- image_block ------------------------------------------------------------------------------


def test_image_block_forms(tmp_path: Path, small_jpeg: bytes) -> None:
    path = tmp_path / "a.jpg"
    path.write_bytes(small_jpeg)
    uri = uri_of(small_jpeg, "image/jpeg")
    assert image_block("https://x.com/a.jpg") == {"type": "image", "url": "https://x.com/a.jpg"}
    # A path is referenced, not copied into the message.
    assert image_block(path) == {"type": "image", "url": path.as_uri(), "mime_type": "image/jpeg"}
    assert image_block(str(path), max_pixels=1_000_000, min_pixels=8192) == {
        "type": "image",
        "url": path.as_uri(),
        "mime_type": "image/jpeg",
        "max_pixels": 1_000_000,
        "min_pixels": 8192,
    }
    assert image_block(small_jpeg)["url"] == uri
    assert image_block(uri_of(small_jpeg, "image/jpg"))["url"] == uri
    assert image_block(Image.new("RGB", (64, 64), "red"))["url"].startswith("data:image/png;")


def test_image_block_goes_into_a_message_and_is_downscaled_at_request_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "big.jpg"
    noise(2400, 1800).save(path, "JPEG")
    block = image_block(path)
    assert block["url"] == path.as_uri()  # a reference: read and downscaled at request time
    message = HumanMessage(content=[{"type": "text", "text": "What is this?"}, block])
    source = image_source_from_block(message.content[1], where=WHERE)  # type: ignore[arg-type]
    prepared = prepare_image(source, where=WHERE)  # type: ignore[arg-type]
    assert prepared.resized
    assert prepared.width == resized_dimensions(1800, 2400)[1]


def test_image_block_refuses_bad_images(tmp_path: Path) -> None:
    with pytest.raises(QwenVLImageError, match="does not exist"):
        image_block(tmp_path / "missing.png")
    with pytest.raises(QwenVLImageError, match="each side > 10 px"):
        image_block(encode(Image.new("RGB", (10, 500))))


# --- refusals ---------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "x.png"
    for source in (str(missing), missing, missing.as_uri()):
        with pytest.raises(QwenVLImageError) as error:
            prepare_image(source, where=WHERE)
        assert_clear(error, f"image file '{missing}' does not exist", "http(s) URL", "PIL image")
    assert isinstance(error.value, QwenVLInputError)
    assert isinstance(error.value, ValueError)


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello, not a picture")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(path, where=WHERE)
    assert_clear(error, "not a recognised image", "notes.png")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(b"\x00" * 64, where=WHERE)
    assert_clear(error, "image bytes")


def test_unsupported_format() -> None:
    gif = encode(Image.new("P", (64, 64)), "GIF")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(gif, where=WHERE)
    assert_clear(error, "GIF", "PIL")


@pytest.mark.parametrize(
    ("size", "needle"), [((10, 500), "each side > 10 px"), ((500, 10), "> 10")]
)
def test_too_small_side(size: tuple[int, int], needle: str) -> None:
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(encode(Image.new("RGB", size)), where=WHERE)
    assert_clear(error, needle, f"{size[0]}x{size[1]}")
    with pytest.raises(QwenVLImageError):
        prepare_image(Image.new("RGB", size), where=WHERE)


def test_aspect_ratio() -> None:
    with pytest.raises(QwenVLImageError) as error:  # 1x300: the 1 px side already fails
        prepare_image(encode(Image.new("RGB", (1, 300))), where=WHERE)
    assert_clear(error, "1x300")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(encode(Image.new("RGB", (20, 4020))), where=WHERE)
    assert_clear(error, "aspect ratio over 200:1", "crop")
    assert prepare_image(encode(Image.new("RGB", (20, 4000)))).height == 4000  # exactly 200:1


def test_over_10_mb_after_preparation() -> None:
    # Random RGBA within the cap (1600x1600 = 2.56 MP): sent as is, 13.6 MB of base64.
    data = encode(noise(1600, 1600, "RGBA"), "PNG", compress_level=0)
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(uri_of(data, "image/png"), where=WHERE)
    assert_clear(error, "10 MB", "http(s) URL")
    assert len(str(error.value)) < 400
    assert MAX_IMAGE_BYTES == 10 * 1024 * 1024


def test_too_big_as_is_but_within_the_cap_is_re_encoded() -> None:
    # An uncompressed 2000x2000 BMP is 12 MB (16 MB as base64), within the high-res cap:
    # re-encoded at full size, not refused.
    data = encode(noise(2000, 2000), "BMP")
    prepared = prepare_image(data, vl_high_resolution_images=True)
    assert prepared.mime_type == "image/jpeg"
    assert not prepared.resized
    assert (prepared.width, prepared.height) == (2000, 2000)
    assert len(prepared.url) <= MAX_IMAGE_BYTES


def test_bad_strings() -> None:
    cases = {
        "s3://bucket/a.png": "s3:// URLs are not supported",
        "www.example.com/a.png": "add 'https://'",
        base64.b64encode(encode(noise(40, 40))).decode(): "bare base64",
        "https://": "no host",
        "data:image/png;base64,%%%": "invalid base64",
        "file://server/share/a.png": "remote host",
    }
    for source, needle in cases.items():
        with pytest.raises(QwenVLImageError) as error:
            prepare_image(source, where=WHERE)
        assert_clear(error, needle)


def test_bad_values_and_budgets(tmp_path: Path) -> None:
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(42, where=WHERE)  # type: ignore[arg-type]
    assert_clear(error, "42")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(tmp_path, where=WHERE)
    assert_clear(error, "directory")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(b"", where=WHERE)
    assert_clear(error, "empty")
    for budget in (0, -5, "big", True, 1.5, 1024, HIGH_RESOLUTION_MAX_PIXELS + 1):
        with pytest.raises(QwenVLImageError) as error:
            prepare_image("https://x.com/a.png", max_pixels=budget, where=WHERE)  # type: ignore[arg-type]
        assert_clear(error, "max_pixels")
    with pytest.raises(QwenVLImageError) as error:
        prepare_image("https://x.com/a", max_pixels=8192, min_pixels=16384, where=WHERE)
    assert_clear(error, "min_pixels (16,384) exceeds max_pixels (8,192)")


def test_error_messages_never_dump_base64() -> None:
    text = base64.b64encode(random.Random(0).randbytes(300_000)).decode()
    with pytest.raises(QwenVLImageError) as error:
        prepare_image(f"data:image/png;base64,{text}", where=WHERE)
    assert_clear(error, "'data:image/png;base64,…'", "(400,022 chars)")


# --- import cost ------------------------------------------------------------------------------


def test_importing_media_does_not_import_pillow() -> None:
    code = (
        "import sys\n"
        "from langchain_qwen_vl import media\n"
        "assert 'PIL.Image' not in sys.modules\n"
        "media.prepare_image('https://x.com/a.png')\n"
        "media.estimate_image_tokens('https://x.com/a.png')\n"
        "assert 'PIL.Image' not in sys.modules\n"
        "print(media.ImageSource)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "PIL.Image.Image" in done.stdout
