"""The scan loader over real loopback HTTP: ChatQwenVL -> the bundled emulator.

Checks what only the whole stack shows: the request bodies the service would get, usage taken
from its answers, retries of transient faults inside ChatQwenVL, a page that still fails after
retries not losing the others, order under uneven latency, and a cached re-run making zero
HTTP requests.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.document_loaders import QwenVLScanLoader
from langchain_qwen_vl.emulator import EmulatorHandle
from tests.unit_tests.test_scan_support import sized_pdf

REPORT = Path(__file__).resolve().parents[2] / "examples" / "assets" / "scanned_report.pdf"


def _llm(emu: EmulatorHandle, **kwargs: object) -> ChatQwenVL:
    return ChatQwenVL(base_url=emu.base_url, api_key="sk-test", **kwargs)  # type: ignore[arg-type]


def _image_of(body: dict[str, object]) -> Image.Image:
    [message] = body["messages"]  # type: ignore[misc]
    [part] = [p for p in message["content"] if p["type"] == "image_url"]
    url = part["image_url"]["url"]
    assert url.startswith("data:image/jpeg;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_bundled_scanned_report(emu: EmulatorHandle) -> None:
    docs = QwenVLScanLoader(REPORT, llm=_llm(emu), max_concurrency=4).load()
    assert [d.metadata["page"] for d in docs] == [0, 1, 2, 3]
    assert emu.request_count == 4
    for doc in docs:
        assert doc.page_content.startswith("[emulator]")
        assert doc.metadata["model"] == "qwen3-vl-flash"
        assert doc.metadata["total_pages"] == 4
        assert doc.metadata["input_tokens"] > 2000  # the page image is ~2,150 tokens
        assert doc.metadata["output_tokens"] > 0
        # The emulator measured the image we sent; metadata reports the same size.
        size = f"{doc.metadata['image_width']}×{doc.metadata['image_height']} px"
        assert size in doc.page_content
    body = emu.requests[0]
    assert body["enable_thinking"] is False
    assert body["max_tokens"] == 4096
    assert _image_of(body).size == (1240, 1754)  # the scan's own JPEG, passed through


def test_transient_faults_are_retried_by_the_model(emu: EmulatorHandle) -> None:
    emu.inject_faults("500", "429:0")
    docs = QwenVLScanLoader(REPORT, llm=_llm(emu, max_retries=2), max_concurrency=1).load()
    assert all("error" not in d.metadata for d in docs)
    assert emu.request_count == 4 + 2


def test_a_page_failing_after_retries_does_not_lose_the_others(emu: EmulatorHandle) -> None:
    emu.inject_faults("500", "500")  # both attempts of page 0 (max_retries=1)
    docs = QwenVLScanLoader(REPORT, llm=_llm(emu, max_retries=1), max_concurrency=1).load()
    assert [d.metadata["page"] for d in docs] == [0, 1, 2, 3]
    assert "QwenVLServerError" in docs[0].metadata["error"]
    assert f"{REPORT}: page 0" in docs[0].metadata["error"]
    assert all(d.page_content.startswith("[emulator]") for d in docs[1:])


def test_order_kept_when_the_first_page_is_slowest(emu: EmulatorHandle, tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "eight.pdf", 8)
    emu.inject_faults("slow:600")  # the first request (page 0) answers last
    docs = QwenVLScanLoader(pdf, llm=_llm(emu), max_concurrency=8).load()
    assert [d.metadata["page"] for d in docs] == list(range(8))
    assert [d.metadata["image_width"] for d in docs] == [200 + 8 * i for i in range(8)]


async def test_cached_rerun_makes_zero_http_requests(emu: EmulatorHandle, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = await QwenVLScanLoader(REPORT, llm=_llm(emu), cache_dir=cache).aload()
    assert emu.request_count == 4
    again = await QwenVLScanLoader(REPORT, llm=_llm(emu), cache_dir=cache).aload()
    assert emu.request_count == 4
    assert [d.page_content for d in again] == [d.page_content for d in first]
    assert all(d.metadata["cached"] for d in again)


def test_estimate_matches_billed_image_tokens(emu: EmulatorHandle) -> None:
    loader = QwenVLScanLoader(REPORT, llm=_llm(emu))
    estimate = loader.estimate_cost()
    assert emu.request_count == 0
    docs = loader.load()
    for page, doc in zip(estimate.pages_detail, docs, strict=True):
        assert f"{page.image_tokens} tokens" in doc.page_content  # the emulator's own count
