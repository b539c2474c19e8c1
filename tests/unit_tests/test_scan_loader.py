"""The scan loader end to end against a recording fake model: order, concurrency, failures,
cache and resume, sync/async driving, options. No network (see conftest)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from langchain_core.document_loaders import Blob
from langchain_core.rate_limiters import BaseRateLimiter

from langchain_qwen_vl._scan_render import PdfSource
from langchain_qwen_vl.document_loaders import (
    MARKDOWN_PROMPT,
    TEXT_PROMPT,
    QwenVLScanError,
    QwenVLScanLoader,
    QwenVLScanParser,
)
from langchain_qwen_vl.errors import QwenVLInputError
from langchain_qwen_vl.media import image_tokens_for_size
from tests.unit_tests.test_scan_support import (
    RecordingChat,
    blank_scan,
    encrypted_pdf_bytes,
    page_image,
    sized_pdf,
    write_pdf,
)


def widths(count: int) -> list[int]:
    return [200 + 8 * i for i in range(count)]


def page_of(width: int) -> int:
    return (width - 200) // 8


@pytest.fixture
def pdf12(tmp_path: Path) -> Path:
    return sized_pdf(tmp_path / "twelve.pdf", 12)


# --- order and concurrency ------------------------------------------------------------------


async def test_pages_come_out_in_order_while_later_pages_are_in_flight(pdf12: Path) -> None:
    # Page 0 is the slowest, the last page the fastest: completion order is reversed.
    llm = RecordingChat().configure(delay_for=lambda w: 0.02 * (12 - page_of(w)))
    loader = QwenVLScanLoader(pdf12, llm=llm, max_concurrency=4)
    docs = [doc async for doc in loader.alazy_load()]
    assert [doc.metadata["page"] for doc in docs] == list(range(12))
    assert [doc.page_content for doc in docs] == [f"page {w}x300 L" for w in widths(12)]
    assert llm.peak_in_flight == 4


async def test_rendering_runs_ahead_by_at_most_the_window(
    pdf12: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[int] = []
    original = PdfSource.load

    def counting_load(self: PdfSource, index: int, settings: Any) -> Any:
        loads.append(index)
        return original(self, index, settings)

    monkeypatch.setattr(PdfSource, "load", counting_load)
    gate = asyncio.Event()
    llm = RecordingChat().configure(gate=gate)
    loader = QwenVLScanLoader(pdf12, llm=llm, max_concurrency=3)
    docs: list[Any] = []

    async def consume() -> None:
        docs.extend([doc async for doc in loader.alazy_load()])

    consumer = asyncio.ensure_future(consume())
    for _ in range(200):
        await asyncio.sleep(0.01)
        if llm.in_flight == 3:
            break
    await asyncio.sleep(0.1)  # give it every chance to run further ahead
    assert llm.in_flight == 3
    assert sorted(loads) == [0, 1, 2]
    gate.set()
    await asyncio.wait_for(consumer, 10)
    assert len(docs) == 12
    assert sorted(loads) == list(range(12))


async def test_a_stuck_page_does_not_block_the_others_nor_grow_the_buffer(
    tmp_path: Path,
) -> None:
    """Finished pages wait for page 0 in a bounded reorder buffer (4 x max_concurrency)."""
    pdf = sized_pdf(tmp_path / "thirty.pdf", 30)
    gate = asyncio.Event()
    llm = RecordingChat().configure(gate=gate, gate_for=lambda w: page_of(w) == 0)
    loader = QwenVLScanLoader(pdf, llm=llm, max_concurrency=2)
    consumer = asyncio.ensure_future(loader.aload())
    for _ in range(300):
        await asyncio.sleep(0.01)
        if len(llm.calls) >= 8:
            break
    await asyncio.sleep(0.2)
    assert len(llm.calls) == 8  # page 0 stuck, pages 1-7 done; no more until page 0 is out
    gate.set()
    docs = await asyncio.wait_for(consumer, 10)
    assert [d.metadata["page"] for d in docs] == list(range(30))


def test_sync_lazy_load_streams_in_order_from_plain_code(pdf12: Path) -> None:
    llm = RecordingChat(jitter=0.03)
    loader = QwenVLScanLoader(pdf12, llm=llm, max_concurrency=5)
    pages = [doc.metadata["page"] for doc in loader.lazy_load()]
    assert pages == list(range(12))
    assert not [t for t in threading.enumerate() if t.name == "qwen-vl-scan-loop"]


def test_sync_load_from_a_thread_without_an_event_loop(pdf12: Path) -> None:
    result: list[Any] = []
    thread = threading.Thread(
        target=lambda: result.extend(QwenVLScanLoader(pdf12, llm=RecordingChat()).load())
    )
    thread.start()
    thread.join(30)
    assert len(result) == 12


async def test_sync_load_inside_a_running_event_loop(pdf12: Path) -> None:
    """As in a notebook: load() called while a loop runs in this thread."""
    docs = QwenVLScanLoader(pdf12, llm=RecordingChat(), max_concurrency=4).load()
    assert [doc.metadata["page"] for doc in docs] == list(range(12))


def test_breaking_out_early_stops_the_pipeline(pdf12: Path) -> None:
    llm = RecordingChat(delay=0.05)
    loader = QwenVLScanLoader(pdf12, llm=llm, max_concurrency=2)
    for doc in loader.lazy_load():
        assert doc.metadata["page"] == 0
        break
    calls = len(llm.calls)
    time.sleep(0.3)
    assert len(llm.calls) == calls <= 4  # nothing new started after the break
    assert not [t for t in threading.enumerate() if t.name == "qwen-vl-scan-loop"]


# --- failures ------------------------------------------------------------------------------------


def test_a_failing_page_becomes_an_error_document(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "five.pdf", 5)
    llm = RecordingChat().configure(fail_for=lambda w: page_of(w) == 2)
    docs = QwenVLScanLoader(pdf, llm=llm, max_concurrency=3).load()
    assert [doc.metadata["page"] for doc in docs] == [0, 1, 2, 3, 4]
    failed = docs[2]
    assert failed.page_content == ""
    assert failed.metadata["total_pages"] == 5
    assert str(pdf) in failed.metadata["error"]
    assert "page 2" in failed.metadata["error"]
    assert "fake failure" in failed.metadata["error"]
    assert all("error" not in doc.metadata for i, doc in enumerate(docs) if i != 2)


def test_on_error_raise_yields_the_good_pages_then_raises(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "five.pdf", 5)
    llm = RecordingChat().configure(fail_for=lambda w: page_of(w) in (1, 3))
    loader = QwenVLScanLoader(pdf, llm=llm, on_error="raise")
    seen: list[int] = []

    def consume() -> None:
        seen.extend(doc.metadata["page"] for doc in loader.lazy_load())

    with pytest.raises(QwenVLScanError) as caught:
        consume()
    assert seen == [0, 2, 4]
    assert [(f.source, f.page) for f in caught.value.failures] == [(str(pdf), 1), (str(pdf), 3)]
    assert "2 scanned page(s)" in str(caught.value)


def test_bad_files_are_reported_and_the_others_processed(tmp_path: Path) -> None:
    good = sized_pdf(tmp_path / "good.pdf", 2)
    (tmp_path / "empty.pdf").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("not a scan")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    (tmp_path / "locked.pdf").write_bytes(encrypted_pdf_bytes())
    blank = write_pdf(tmp_path / "blank.pdf", [page_image((300, 400)), blank_scan((300, 400))])
    inputs = [
        tmp_path / "empty.pdf",
        tmp_path / "notes.txt",
        tmp_path / "broken.pdf",
        tmp_path / "locked.pdf",
        tmp_path / "missing.pdf",
        blank,
        good,
    ]
    docs = QwenVLScanLoader(inputs, llm=RecordingChat()).load()
    errors = {
        Path(d.metadata["source"]).name: d.metadata["error"] for d in docs if "error" in d.metadata
    }
    assert set(errors) == {
        "empty.pdf",
        "notes.txt",
        "broken.pdf",
        "locked.pdf",
        "missing.pdf",
        "blank.pdf",
    }
    assert "empty" in errors["empty.pdf"]
    assert "unsupported file type" in errors["notes.txt"]
    assert "corrupt" in errors["broken.pdf"]
    assert "encrypted" in errors["locked.pdf"]
    assert "no such file" in errors["missing.pdf"]
    assert "page 1 renders to nothing" in errors["blank.pdf"]
    good_docs = [d for d in docs if d.metadata["source"] == str(good)]
    assert [d.metadata["page"] for d in good_docs] == [0, 1]
    assert [d.metadata["page"] for d in docs if d.metadata["source"] == str(blank)] == [0, 1]


# --- cache and resume ----------------------------------------------------------------------------


def test_cache_hit_makes_zero_requests(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "four.pdf", 4)
    first_llm = RecordingChat()
    first = QwenVLScanLoader(pdf, llm=first_llm, cache_dir=tmp_path / "cache").load()
    assert len(first_llm.calls) == 4
    assert not any(d.metadata["cached"] for d in first)
    second_llm = RecordingChat()
    second = QwenVLScanLoader(pdf, llm=second_llm, cache_dir=tmp_path / "cache").load()
    assert second_llm.calls == []
    assert [d.page_content for d in second] == [d.page_content for d in first]
    assert all(d.metadata["cached"] for d in second)
    assert second[0].metadata["input_tokens"] == 100
    # A different prompt is a different transcription: no hit.
    third_llm = RecordingChat()
    QwenVLScanLoader(pdf, llm=third_llm, cache_dir=tmp_path / "cache", output="text").load()
    assert len(third_llm.calls) == 4


def test_resume_after_an_interruption_rebills_no_finished_page(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "ten.pdf", 10)
    cache = tmp_path / "cache"
    llm = RecordingChat(delay=0.02)
    for doc in QwenVLScanLoader(pdf, llm=llm, cache_dir=cache, max_concurrency=3).lazy_load():
        if doc.metadata["page"] == 3:
            break  # like Ctrl-C
    finished = {page_of(call["size"][0]) for call in llm.calls}
    cached = len(list(cache.rglob("*.json")))
    assert cached >= 4
    resumed = RecordingChat()
    docs = QwenVLScanLoader(pdf, llm=resumed, cache_dir=cache).load()
    assert len(docs) == 10
    rebilled = {page_of(call["size"][0]) for call in resumed.calls}
    assert len(resumed.calls) == 10 - cached
    assert not rebilled & {d.metadata["page"] for d in docs if d.metadata["cached"]}
    assert finished  # the first run did real work


def test_failed_pages_are_not_cached(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "three.pdf", 3)
    failing = RecordingChat().configure(fail_for=lambda w: page_of(w) == 1)
    QwenVLScanLoader(pdf, llm=failing, cache_dir=tmp_path / "c").load()
    retry = RecordingChat()
    docs = QwenVLScanLoader(pdf, llm=retry, cache_dir=tmp_path / "c").load()
    assert [page_of(c["size"][0]) for c in retry.calls] == [1]
    assert all("error" not in d.metadata for d in docs)


# --- what is sent -------------------------------------------------------------------------------


def test_thinking_off_and_max_tokens_per_call(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "one.pdf", 1)
    llm = RecordingChat()
    QwenVLScanLoader(pdf, llm=llm).load()
    assert llm.calls[0]["kwargs"] == {"enable_thinking": False, "max_tokens": 4096}
    assert llm.calls[0]["prompt"] == MARKDOWN_PROMPT
    llm = RecordingChat(max_tokens=1500)
    QwenVLScanLoader(pdf, llm=llm, enable_thinking=True, output="text").load()
    assert llm.calls[0]["kwargs"] == {"enable_thinking": True, "max_tokens": 1500}
    assert llm.calls[0]["prompt"] == TEXT_PROMPT


def test_custom_prompt_and_pixel_budget(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a4.pdf", [page_image((1240, 1754))], resolution=150)
    llm = RecordingChat()
    docs = QwenVLScanLoader(pdf, llm=llm, prompt="Only the title.", max_pixels=1_003_520).load()
    call = llm.calls[0]
    assert call["prompt"] == "Only the title."
    assert call["block"]["max_pixels"] == 1_003_520  # the server must use the same cap
    assert call["size"][0] * call["size"][1] <= 1_003_520
    assert docs[0].metadata["image_width"] == call["size"][0]


def test_metadata_of_a_page(tmp_path: Path) -> None:
    pdf = write_pdf(tmp_path / "a4.pdf", [page_image((1240, 1754))], resolution=150)
    [doc] = QwenVLScanLoader(pdf, llm=RecordingChat()).load()
    assert doc.metadata == {
        "source": str(pdf),
        "page": 0,
        "total_pages": 1,
        "model": "fake-vl",
        "output": "markdown",
        "image_width": 1240,
        "image_height": 1754,
        "image_mime_type": "image/jpeg",
        "cached": False,
        "dpi": pytest.approx(150, abs=0.5),
        "input_tokens": 100,
        "output_tokens": 10,
        "total_tokens": 110,
    }


def test_code_fence_is_stripped_and_truncation_flagged(tmp_path: Path) -> None:
    pdf = sized_pdf(tmp_path / "one.pdf", 1)
    llm = RecordingChat(answer="```markdown\n# Title\n\n| a | b |\n```\n", finish_reason="length")
    [doc] = QwenVLScanLoader(pdf, llm=llm).load()
    assert doc.page_content == "# Title\n\n| a | b |"
    assert doc.metadata["truncated"] is True


def test_single_mode_joins_pages_per_file(tmp_path: Path) -> None:
    first = sized_pdf(tmp_path / "a.pdf", 3)
    second = sized_pdf(tmp_path / "b.pdf", 2, base=400)
    llm = RecordingChat().configure(fail_for=lambda w: w == 208)
    docs = QwenVLScanLoader(
        [first, second], llm=llm, mode="single", page_separator="\n---\n"
    ).load()
    assert [d.metadata["source"] for d in docs] == [str(first), str(second)]
    assert docs[0].page_content == "page 200x300 L\n---\npage 216x300 L"
    assert docs[0].metadata["failed_pages"] == [1]
    assert "page 1" in docs[0].metadata["error"]
    assert docs[0].metadata["input_tokens"] == 200
    assert docs[1].metadata["total_pages"] == 2


# --- inputs -------------------------------------------------------------------------------------


def test_directory_glob_and_blobs(tmp_path: Path) -> None:
    folder = tmp_path / "scans"
    (folder / "sub").mkdir(parents=True)
    sized_pdf(folder / "b.pdf", 1)
    page_image((300, 400)).save(folder / "sub" / "a.PNG")
    page_image((320, 400)).save(folder / "c.webp")
    (folder / "notes.txt").write_text("skip me")
    (folder / ".hidden.pdf").write_bytes(b"")
    loader = QwenVLScanLoader(folder, llm=RecordingChat())
    assert [Path(b.path or "").name for b in loader.blobs()] == ["b.pdf", "c.webp", "a.PNG"]
    assert len(QwenVLScanLoader(folder, llm=RecordingChat(), recursive=False).blobs()) == 2
    globbed = QwenVLScanLoader(str(folder / "**" / "*.[pP]*"), llm=RecordingChat())
    assert sorted(Path(b.path or "").name for b in globbed.blobs()) == ["a.PNG", "b.pdf"]
    blob = Blob.from_data(sized_pdf(tmp_path / "m.pdf", 2).read_bytes(), path="memory.pdf")
    docs = QwenVLScanLoader([blob], llm=RecordingChat()).load()
    assert [d.metadata["source"] for d in docs] == ["memory.pdf", "memory.pdf"]


def test_parser_on_blobs_sync_and_async(tmp_path: Path) -> None:
    parser = QwenVLScanParser(RecordingChat())
    blob = Blob.from_path(sized_pdf(tmp_path / "p.pdf", 3))
    assert [d.metadata["page"] for d in parser.parse(blob)] == [0, 1, 2]

    async def collect() -> list[int]:
        return [d.metadata["page"] async for d in parser.alazy_parse(blob)]

    assert asyncio.run(collect()) == [0, 1, 2]
    assert parser.last_run_stats is not None
    assert parser.last_run_stats.pages_done == 3


def test_multi_page_tiff(tmp_path: Path) -> None:
    frames = [page_image((300 + 20 * i, 400)) for i in range(3)]
    frames[0].save(tmp_path / "f.tif", save_all=True, append_images=frames[1:])
    docs = QwenVLScanLoader(tmp_path / "f.tif", llm=RecordingChat()).load()
    assert [d.page_content for d in docs] == ["page 300x400 L", "page 320x400 L", "page 340x400 L"]
    assert [d.metadata["total_pages"] for d in docs] == [3, 3, 3]


# --- dry run, pacing, progress ---------------------------------------------------------------


def test_estimate_cost_calls_nothing_and_matches_what_is_sent(tmp_path: Path) -> None:
    scan = write_pdf(tmp_path / "scan.pdf", [page_image((1240, 1754))] * 2, resolution=150)
    big = write_pdf(tmp_path / "big.pdf", [page_image((2480, 3508))], resolution=300)
    drawn = write_pdf(tmp_path / "drawn.pdf", [page_image((595, 842), mode="P")], resolution=72)
    llm = RecordingChat()
    loader = QwenVLScanLoader(
        [scan, big, drawn, tmp_path / "missing.pdf"], llm=llm, cache_dir=tmp_path / "c"
    )
    estimate = loader.estimate_cost()
    assert llm.calls == []
    assert not (tmp_path / "c").exists()
    assert (estimate.files, estimate.pages, estimate.cached_pages) == (4, 4, 0)
    assert len(estimate.failures) == 1
    assert "missing.pdf" in str(estimate)
    loader.load()
    sent = [image_tokens_for_size(c["size"][1], c["size"][0]) for c in llm.calls]
    assert sorted(d.image_tokens for d in estimate.pages_detail) == sorted(sent)
    assert [d.image_tokens for d in estimate.pages_detail] == [2147, 2147, 2522, 496]
    assert estimate.max_output_tokens == 4 * 4096
    assert loader.estimate_cost().cached_pages == 4


async def test_rate_limiter_is_acquired_once_per_request(tmp_path: Path) -> None:
    class Counting(BaseRateLimiter):
        count = 0

        def acquire(self, *, blocking: bool = True) -> bool:
            raise AssertionError("the pipeline is async")

        async def aacquire(self, *, blocking: bool = True) -> bool:
            self.count += 1
            return True

    limiter = Counting()
    pdf = sized_pdf(tmp_path / "three.pdf", 3)
    await QwenVLScanLoader(pdf, llm=RecordingChat(), rate_limiter=limiter).aload()
    assert limiter.count == 3


async def test_tokens_per_minute_budget_paces_the_run(tmp_path: Path) -> None:
    """500 tokens/s, a 1,000-token bucket, and pages reserving ~680 tokens each (56 image +
    ~225 prompt + 400 max_tokens): one page at a time, each released by the previous page's
    settlement (usage 110) — where max_concurrency alone would send all four at once."""
    pdf = sized_pdf(tmp_path / "four.pdf", 4)
    llm = RecordingChat(delay=0.3)
    loader = QwenVLScanLoader(pdf, llm=llm, max_tokens=400, max_tokens_per_minute=30_000)
    started = time.perf_counter()
    docs = await loader.aload()
    elapsed = time.perf_counter() - started
    stats = loader.last_run_stats
    assert stats is not None
    assert len(docs) == 4
    assert llm.peak_in_flight == 1
    assert elapsed >= 4 * 0.3
    assert stats.budget_wait_s >= 3 * 0.25
    # Woken by each settlement, not by a sleep sized for the whole reservation (0.7 s):
    assert elapsed < 4 * 0.3 + 1.0


def test_progress_bar_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pdf = sized_pdf(tmp_path / "two.pdf", 2)
    QwenVLScanLoader(pdf, llm=RecordingChat(), show_progress=True).load()
    err = capsys.readouterr().err
    assert "2/2" in err
    assert "220 tokens" in err
    QwenVLScanLoader(pdf, llm=RecordingChat()).load()  # default: not a terminal, no bar
    assert "2/2" not in capsys.readouterr().err


# --- options and imports ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("output", "html"),
        ("mode", "pages"),
        ("on_error", "ignore"),
        ("max_concurrency", 0),
        ("dpi", -1),
        ("max_pixels", 100),
        ("jpeg_quality", 100),
        ("grayscale", "yes"),
        ("max_tokens_per_minute", 0),
        ("rate_limiter", object()),
    ],
)
def test_invalid_options_are_refused_up_front(option: str, value: Any) -> None:
    with pytest.raises(QwenVLInputError, match=option):
        QwenVLScanParser(RecordingChat(), **{option: value})


def test_importing_the_package_does_not_import_pypdfium2() -> None:
    code = (
        "import sys, langchain_qwen_vl, langchain_qwen_vl.document_loaders;"
        "print('pypdfium2' in sys.modules, 'tqdm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_missing_pypdfium2_raises_a_clear_import_error(
    pdf12: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(ImportError, match=r"langchain-qwen-vl\[pdf\]"):
        QwenVLScanLoader(pdf12, llm=RecordingChat()).load()
