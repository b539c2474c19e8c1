"""Helpers shared by the scan tests (files made on the fly, a recording fake chat model),
and tests that the helpers make what they claim."""

from __future__ import annotations

import asyncio
import base64
import io
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from PIL import Image, ImageDraw
from pydantic import Field, PrivateAttr

# --- files ---------------------------------------------------------------------------------


def page_image(
    size: tuple[int, int], label: str = "page", *, colour: bool = False, mode: str = "L"
) -> Image.Image:
    """A page with ink on it: a title bar, some text lines, optionally a red stamp."""
    image = Image.new("RGB", size, (250, 249, 245))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle(
        (width // 10, height // 12, width * 9 // 10, height // 12 + 12), fill=(30, 30, 30)
    )
    draw.text((width // 10, height // 5), label, fill=(0, 0, 0))
    for row in range(3):
        top = height // 3 + row * 20
        draw.line((width // 10, top, width * 8 // 10, top), fill=(40, 40, 40), width=3)
    if colour:
        draw.rectangle(
            (width // 2, height * 2 // 3, width * 8 // 10, height * 3 // 4),
            outline=(200, 20, 30),
            width=6,
        )
    return image if mode == "RGB" else image.convert(mode)


def blank_scan(size: tuple[int, int], seed: int = 0) -> Image.Image:
    """A blank page as a scanner sees it: paper tint plus sensor noise, no ink."""
    random.seed(seed)
    noise = Image.effect_noise(size, 6)
    paper = Image.new("L", size, 240)
    return Image.blend(paper, noise.point(lambda v: 230 + v // 25), 0.5)


def write_pdf(path: Path, pages: Sequence[Image.Image], *, resolution: float = 72.0) -> Path:
    """An image-only PDF (one embedded image per page), like a scanner writes."""
    pages[0].save(
        path, format="PDF", save_all=True, append_images=list(pages[1:]), resolution=resolution
    )
    return path


def sized_pdf(path: Path, count: int, *, base: int = 200, step: int = 8) -> Path:
    """``count`` pages whose widths (px = pt at 72 DPI) tell them apart: 200, 208, 216, …"""
    return write_pdf(path, [page_image((base + step * i, 300), f"page {i}") for i in range(count)])


def encrypted_pdf_bytes() -> bytes:
    """A one-page PDF protected by a user password (standard security handler, RC4 40-bit).

    The ``/U`` entry matches no password we will try, so PDFium asks for one.
    """
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /P -44 /O <"
        + b"11" * 32
        + b"> /U <"
        + b"22" * 32
        + b"> >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n"
        % (len(objects) + 1, b"ab" * 16, b"ab" * 16)
    )
    out.write(b"startxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def jpeg_bytes(image: Image.Image, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, **params)
    return buffer.getvalue()


# --- a chat model that records what it was sent ----------------------------------------------


class RecordingChat(BaseChatModel):
    """Answers ``page <w>x<h> <mode>`` for the image it receives; records every call.

    Declares the ChatQwenVL fields the scan parser reads, so per-call kwargs can be checked.
    ``delay_for(width)`` and ``fail_for(width)`` pick latency and failures per page.
    """

    model: str = "fake-vl"
    max_tokens: int | None = None
    enable_thinking: bool | None = None
    max_pixels: int | None = None
    min_pixels: int | None = None
    vl_high_resolution_images: bool | None = None
    delay: float = 0.0
    jitter: float = 0.0
    answer: str | None = None
    finish_reason: str = "stop"
    calls: list[dict[str, Any]] = Field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0
    _delay_for: Callable[[int], float] | None = PrivateAttr(default=None)
    _fail_for: Callable[[int], bool] | None = PrivateAttr(default=None)
    _gate: asyncio.Event | None = PrivateAttr(default=None)
    _gate_for: Callable[[int], bool] | None = PrivateAttr(default=None)

    def configure(
        self,
        *,
        delay_for: Callable[[int], float] | None = None,
        fail_for: Callable[[int], bool] | None = None,
        gate: asyncio.Event | None = None,
        gate_for: Callable[[int], bool] | None = None,
    ) -> RecordingChat:
        """Per-page latency and failures (by image width); ``gate`` holds requests (those
        ``gate_for`` selects, or all) until it is set."""
        self._delay_for, self._fail_for, self._gate = delay_for, fail_for, gate
        self._gate_for = gate_for
        return self

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        raise NotImplementedError("the scan pipeline is async; only _agenerate is expected")

    async def _agenerate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            content = messages[0].content
            assert isinstance(content, list)
            text = next(
                b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text"
            )
            block = next(b for b in content if isinstance(b, dict) and b.get("type") == "image")
            # The loader hands pages over prepared: a data URI with the sizes in extras.
            data = base64.b64decode(block["url"].split(",", 1)[1])
            image = Image.open(io.BytesIO(data))
            self.calls.append(
                {
                    "kwargs": kwargs,
                    "prompt": text,
                    "block": {k: v for k, v in block.items() if k not in ("url", "extras")},
                    "size": image.size,
                    "mode": image.mode,
                    "format": image.format,
                    "bytes": len(data),
                }
            )
            if self._gate is not None and (self._gate_for is None or self._gate_for(image.width)):
                await self._gate.wait()
            delay = self._delay_for(image.width) if self._delay_for else self.delay
            await asyncio.sleep(delay + random.random() * self.jitter)
            if self._fail_for is not None and self._fail_for(image.width):
                raise RuntimeError(f"fake failure for width {image.width}")
            answer = self.answer or f"page {image.width}x{image.height} {image.mode}"
            message = AIMessage(
                content=answer,
                usage_metadata={"input_tokens": 100, "output_tokens": 10, "total_tokens": 110},
                response_metadata={"model_name": self.model, "finish_reason": self.finish_reason},
            )
            return ChatResult(generations=[ChatGeneration(message=message)])
        finally:
            self.in_flight -= 1


# --- the helpers do what they say -----------------------------------------------------------


def test_sized_pdf_is_image_only_with_distinct_widths(tmp_path: Path) -> None:
    pdf = pypdfium2.PdfDocument(sized_pdf(tmp_path / "s.pdf", 3))
    assert [round(pdf[i].get_width()) for i in range(3)] == [200, 208, 216]
    assert pdf[0].get_textpage().get_text_range() == ""
    pdf.close()


def test_encrypted_pdf_needs_a_password() -> None:
    with pytest.raises(pypdfium2.PdfiumError) as caught:
        pypdfium2.PdfDocument(encrypted_pdf_bytes())
    assert caught.value.err_code == pypdfium2.raw.FPDF_ERR_PASSWORD
