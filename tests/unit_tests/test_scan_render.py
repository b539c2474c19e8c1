"""Files -> page images: type detection, DPI choice, PDF rendering and pass-through, bad input."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
from PIL import Image

from langchain_qwen_vl import _scan_render
from langchain_qwen_vl._scan_encode import encode_page, is_blank
from langchain_qwen_vl._scan_render import (
    PdfSource,
    RenderSettings,
    choose_scale,
    detect_kind,
    open_source,
)
from langchain_qwen_vl.document_loaders import QwenVLScanInputError
from langchain_qwen_vl.media import (
    DEFAULT_MAX_PIXELS,
    MIN_PIXELS,
    downscale_target,
    image_tokens_for_size,
)
from langchain_qwen_vl.media._codec import is_colour
from tests.unit_tests.test_scan_support import (
    blank_scan,
    encrypted_pdf_bytes,
    jpeg_bytes,
    page_image,
    write_pdf,
)

A4 = (595.2, 841.92)
SETTINGS = RenderSettings(max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS)


# --- DPI ---------------------------------------------------------------------------------


def test_a4_renders_at_the_cap_dpi_and_never_over_the_cap() -> None:
    scale = choose_scale(*A4, max_pixels=DEFAULT_MAX_PIXELS)
    assert 72 * scale == pytest.approx(164.6, abs=0.1)  # "above ~164 DPI A4 exceeds the cap"
    width, height = math.ceil(A4[0] * scale), math.ceil(A4[1] * scale)
    assert width * height <= DEFAULT_MAX_PIXELS
    # …and it is tight: 1% more resolution would go over.
    assert math.ceil(A4[0] * scale * 1.01) * math.ceil(A4[1] * scale * 1.01) > DEFAULT_MAX_PIXELS


@pytest.mark.parametrize("cap", [MIN_PIXELS * 10, 1_003_520, DEFAULT_MAX_PIXELS, 16_777_216])
@pytest.mark.parametrize("size", [A4, (612, 792), (842, 1191), (200, 2000), (1000, 300)])
def test_rendered_size_fits_any_cap(cap: int, size: tuple[float, float]) -> None:
    scale = choose_scale(*size, max_pixels=cap, max_dpi=10_000)
    assert math.ceil(size[0] * scale) * math.ceil(size[1] * scale) <= cap


def test_small_pages_stop_at_max_dpi_and_scans_at_their_own_resolution() -> None:
    receipt = (226.0, 400.0)  # 80 x 141 mm: the cap alone would mean ~560 DPI
    assert 72 * choose_scale(*receipt, max_pixels=DEFAULT_MAX_PIXELS) == pytest.approx(300)
    assert 72 * choose_scale(*A4, max_pixels=DEFAULT_MAX_PIXELS, native_scale=150 / 72) == (
        pytest.approx(150)
    )
    assert choose_scale(*A4, max_pixels=DEFAULT_MAX_PIXELS, dpi=96) == pytest.approx(96 / 72)


def test_tokens_follow_dpi_squared() -> None:
    """The documented trade-off: halving the pixel budget halves the image tokens."""
    full = choose_scale(*A4, max_pixels=DEFAULT_MAX_PIXELS)
    half = choose_scale(*A4, max_pixels=DEFAULT_MAX_PIXELS // 2)

    def tokens(scale: float) -> int:
        return image_tokens_for_size(math.ceil(A4[1] * scale), math.ceil(A4[0] * scale))

    assert tokens(half) / tokens(full) == pytest.approx(0.5, abs=0.03)


# --- detection and bad input ---------------------------------------------------------------


def test_detect_kind_by_content_not_extension() -> None:
    assert detect_kind(b"\n\n%PDF-1.4") == "pdf"  # junk before the header is allowed
    assert detect_kind(jpeg_bytes(page_image((40, 40)))) == "jpeg"
    assert detect_kind(b"II*\x00....") == detect_kind(b"MM\x00*....") == "tiff"
    assert detect_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "webp"
    assert detect_kind(b"PK\x03\x04") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"PK\x03\x04 a docx", "unsupported file type"),
        (b"%PDF-1.4\n garbage", "corrupt or not a valid PDF"),
        (encrypted_pdf_bytes(), "encrypted"),
        (b"\x89PNG\r\n\x1a\n truncated", "cannot be decoded"),
    ],
)
def test_bad_files_raise_an_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "input.bin"
    path.write_bytes(content)
    with pytest.raises(QwenVLScanInputError, match=message) as caught:
        open_source(str(path), path=path)
    assert str(path) in str(caught.value)
    assert caught.value.source == str(path)
    assert caught.value.page is None


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(QwenVLScanInputError, match="no such file"):
        open_source("gone.pdf", path=tmp_path / "gone.pdf")


def test_encrypted_pdf_with_wrong_password_names_the_option() -> None:
    with pytest.raises(QwenVLScanInputError, match="pdf_password"):
        open_source("secret.pdf", data=encrypted_pdf_bytes(), password="nope")


def test_missing_pypdfium2_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(ImportError, match=r'pip install "langchain-qwen-vl\[pdf\]"'):
        open_source("a.pdf", data=b"%PDF-1.4\n")


# --- PDF pages -------------------------------------------------------------------------------


def test_scanned_page_is_passed_through_byte_for_byte(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "scan.pdf", [page_image((1240, 1754))], resolution=150)
    source = open_source("scan.pdf", path=pdf)
    raw = source.load(0, SETTINGS)
    assert raw.how == "passthrough"
    assert raw.dpi == pytest.approx(150, abs=0.5)
    encoded = encode_page(raw, SETTINGS, name="scan.pdf")
    assert encoded.data == raw.jpeg
    assert (encoded.width, encoded.height) == (1240, 1754)
    assert source.planned_size(0, SETTINGS) == (1240, 1754, pytest.approx(150, abs=0.5))
    source.close()


def test_scan_over_the_cap_is_resized_to_the_servers_grid(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "scan300.pdf", [page_image((2480, 3508))], resolution=300)
    source = open_source("scan300.pdf", path=pdf)
    raw = source.load(0, SETTINGS)
    encoded = encode_page(raw, SETTINGS, name="scan300.pdf")
    assert raw.how == "passthrough"
    assert encoded.how == "passthrough+resized"
    assert (encoded.width, encoded.height) == downscale_target(2480, 3508, *_budget())
    # Same tokens as the server would count for the original, in far fewer bytes.
    assert image_tokens_for_size(encoded.height, encoded.width) == image_tokens_for_size(3508, 2480)
    source.close()


@pytest.mark.parametrize("mode", ["P", "CMYK", "1"])
def test_pages_that_are_not_plain_jpeg_are_rendered(tmp_path: Path, mode: str) -> None:
    """Indexed, CMYK (inverted Decode array) and CCITT pages go through PDFium."""
    pdf = write_pdf(tmp_path / "p.pdf", [page_image((600, 800), mode=mode)], resolution=72)
    source = open_source("p.pdf", path=pdf)
    raw = source.load(0, SETTINGS)
    assert raw.how == "rendered"
    assert raw.image is not None
    assert (raw.width, raw.height) == source.planned_size(0, SETTINGS)[:2]
    assert not is_blank(raw.image)
    source.close()


def test_passthrough_off_or_fixed_dpi_renders(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "scan.pdf", [page_image((620, 877))], resolution=75)
    source = open_source("scan.pdf", path=pdf)
    no_pass = RenderSettings(
        max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS, passthrough=False
    )
    raw = source.load(0, no_pass)
    assert raw.how == "rendered"
    assert raw.width == 620
    fixed = RenderSettings(max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS, dpi=36)
    assert source.load(0, fixed).width == math.ceil(595.2 / 2)
    source.close()


def test_pdf_is_reopened_to_keep_memory_flat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pdf = write_pdf(tmp_path / "many.pdf", [page_image((100, 120), str(i)) for i in range(7)])
    opens: list[int] = []
    original = PdfSource._open

    def counting_open(self: PdfSource) -> None:
        opens.append(1)
        original(self)

    monkeypatch.setattr(PdfSource, "_open", counting_open)
    source = open_source("many.pdf", path=pdf, reopen_every=3)
    for page in range(7):
        source.load(page, SETTINGS)
    source.close()
    assert len(opens) == 3  # pages 0-2, 3-5, 6


def test_blank_page_renders_to_nothing(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "b.pdf", [page_image((600, 800)), blank_scan((600, 800))])
    source = open_source("b.pdf", path=pdf)
    encode_page(source.load(0, SETTINGS), SETTINGS, name="b.pdf")
    with pytest.raises(QwenVLScanInputError, match="page 1 renders to nothing") as caught:
        encode_page(source.load(1, SETTINGS), SETTINGS, name="b.pdf")
    assert caught.value.page == 1
    source.close()


@pytest.mark.parametrize("passthrough", [True, False])
def test_a_page_with_only_a_small_footer_is_not_blank(tmp_path: Path, passthrough: bool) -> None:
    """Dropping a page is worse than sending a blank one: thin 1-px text must count as ink."""
    from PIL import ImageDraw

    page = blank_scan((1240, 1754))
    ImageDraw.Draw(page).text((600, 1650), "Page 3 of 4", fill=40)
    pdf = write_pdf(tmp_path / "f.pdf", [page], resolution=150)
    settings = RenderSettings(DEFAULT_MAX_PIXELS, MIN_PIXELS, passthrough=passthrough)
    source = open_source("f.pdf", path=pdf)
    encoded = encode_page(source.load(0, settings), settings, name="f.pdf")
    assert encoded.how == ("passthrough" if passthrough else "rendered")
    source.close()


def test_single_thread_for_pdfium() -> None:
    assert _scan_render.pdfium_executor() is _scan_render.pdfium_executor()
    assert _scan_render.pdfium_executor()._max_workers == 1


# --- image files ---------------------------------------------------------------------------------


def test_multi_page_tiff_is_one_page_per_frame(tmp_path: Path) -> None:
    frames = [page_image((300 + 10 * i, 400), f"frame {i}") for i in range(3)]
    path = tmp_path / "fax.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_lzw")
    source = open_source("fax.tiff", path=path)
    assert source.total_pages == 3
    assert [source.load(i, SETTINGS).width for i in range(3)] == [300, 310, 320]
    source.close()


def test_exif_rotated_photo_is_sent_upright(tmp_path: Path) -> None:
    photo = page_image((400, 300), mode="RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    path = tmp_path / "photo.jpg"
    path.write_bytes(jpeg_bytes(photo, exif=exif.tobytes()))
    source = open_source("photo.jpg", path=path)
    raw = source.load(0, SETTINGS)
    assert raw.how == "decoded"
    assert (raw.width, raw.height) == (300, 400)
    assert source.planned_size(0, SETTINGS)[:2] == (300, 400)
    source.close()


def test_plain_jpeg_file_is_passed_through(tmp_path: Path) -> None:
    data = jpeg_bytes(page_image((500, 700)))
    source = open_source("page.jpg", data=data)
    raw = source.load(0, SETTINGS)
    assert raw.how == "passthrough"
    assert raw.jpeg == data
    source.close()


# --- encoding ---------------------------------------------------------------------------------


def _budget() -> tuple[int, int]:
    return DEFAULT_MAX_PIXELS, MIN_PIXELS


def test_downscale_target_only_over_the_cap() -> None:
    assert downscale_target(2480, 3508, *_budget()) == (1344, 1920)
    assert downscale_target(1240, 1754, *_budget()) is None


def test_blank_and_colour_checks() -> None:
    assert is_blank(blank_scan((1200, 1700)))
    footer_only = blank_scan((1200, 1700))
    from PIL import ImageDraw

    ImageDraw.Draw(footer_only).text((500, 1600), "Page 3 of 4", fill=20)
    assert not is_blank(footer_only)
    grey_paper = page_image((800, 1000), mode="RGB")
    assert not is_colour(grey_paper)
    assert is_colour(page_image((800, 1000), colour=True, mode="RGB"))


def _encode(image: Image.Image, **settings: object) -> tuple[str, str, bytes]:
    from langchain_qwen_vl._scan_render import RawPage

    config = RenderSettings(max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS, **settings)  # type: ignore[arg-type]
    raw = RawPage(0, image.width, image.height, None, image=image, how="decoded")
    encoded = encode_page(raw, config, name="x")
    decoded = Image.open(io.BytesIO(encoded.data))
    return encoded.mime_type, decoded.mode, encoded.data


def test_encoding_choices() -> None:
    grey_page = page_image((800, 1000), mode="RGB")
    assert _encode(grey_page)[:2] == ("image/jpeg", "L")  # no colour: grayscale JPEG
    assert _encode(page_image((800, 1000), colour=True, mode="RGB"))[:2] == ("image/jpeg", "RGB")
    assert _encode(grey_page, grayscale=False)[:2] == ("image/jpeg", "RGB")
    assert _encode(grey_page, image_format="png")[:2] == ("image/png", "L")
    assert _encode(page_image((800, 1000), mode="1"))[:2] == ("image/png", "1")  # bilevel
    rgba = page_image((800, 1000), mode="RGB").convert("RGBA")
    assert _encode(rgba)[:2] == ("image/jpeg", "L")  # transparency flattened on white


def test_grayscale_true_reencodes_a_colour_jpeg(tmp_path: Path) -> None:
    data = jpeg_bytes(page_image((500, 700), colour=True, mode="RGB"))
    source = open_source("c.jpg", data=data)
    settings = RenderSettings(max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS, grayscale=True)
    encoded = encode_page(source.load(0, settings), settings, name="c.jpg")
    assert Image.open(io.BytesIO(encoded.data)).mode == "L"
    source.close()


def test_grayscale_true_passes_a_grey_jpeg_through(tmp_path: Path) -> None:
    data = jpeg_bytes(page_image((500, 700)))  # stored grey
    source = open_source("g.jpg", data=data)
    settings = RenderSettings(max_pixels=DEFAULT_MAX_PIXELS, min_pixels=MIN_PIXELS, grayscale=True)
    encoded = encode_page(source.load(0, settings), settings, name="g.jpg")
    assert encoded.data == data
    assert encoded.how == "passthrough"
    source.close()


def test_a_damaged_embedded_jpeg_names_the_page_and_the_fix() -> None:
    from langchain_qwen_vl._scan_render import RawPage

    raw = RawPage(3, 1240, 1754, 150.0, jpeg=b"\xff\xd8\xff\xe0 not a JPEG", how="passthrough")
    with pytest.raises(QwenVLScanInputError, match="cannot be decoded") as caught:
        encode_page(raw, SETTINGS, name="scan.pdf")
    assert str(caught.value).startswith("scan.pdf: page 3: the embedded JPEG cannot be decoded")
    assert "check the file is not truncated or corrupt" in str(caught.value)
    assert (caught.value.source, caught.value.page) == ("scan.pdf", 3)


def test_a_16_bit_page_keeps_its_ink(tmp_path: Path) -> None:
    """16-bit grey (a scanner's raw output) is scaled to 8 bits, not clipped to white."""
    page = Image.new("I;16", (600, 800), 60_000)
    page.paste(Image.new("I;16", (480, 30), 8_000), (60, 100))  # a dark title bar
    path = tmp_path / "raw16.png"
    page.save(path)
    source = open_source("raw16.png", path=path)
    encoded = encode_page(source.load(0, SETTINGS), SETTINGS, name="raw16.png")
    sent = Image.open(io.BytesIO(encoded.data)).convert("L")
    assert sent.getpixel((300, 115)) < 60 < 200 < sent.getpixel((300, 400))  # type: ignore[operator]
    source.close()
