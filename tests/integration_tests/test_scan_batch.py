"""The scan loader in Batch API mode, and the page cache on a shared ByteStore (emulator)."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl._scan_cache import PAGE_KEY_PREFIX, PENDING_KEY_PREFIX
from langchain_qwen_vl.document_loaders import QwenVLScanLoader
from langchain_qwen_vl.emulator import EmulatorHandle
from langchain_qwen_vl.errors import QwenVLTimeoutError

REPORT = Path(__file__).resolve().parents[2] / "examples" / "assets" / "scanned_report.pdf"


pytestmark = pytest.mark.usefixtures("no_poll_sleep")


def _loader(emu: EmulatorHandle, store: InMemoryByteStore, **kw: object) -> QwenVLScanLoader:
    """A batch-mode loader; a job that does not finish fails the test after 10 s, never hangs."""
    kw.setdefault("batch_timeout", 10.0)
    llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-test")
    return QwenVLScanLoader(
        REPORT,
        llm=llm,
        use_batch_api=True,
        cache_store=store,
        batch_poll_interval=0.01,
        show_progress=False,
        **kw,  # type: ignore[arg-type]
    )


def test_batch_mode_matches_real_time(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    docs = _loader(emu, store).load()
    assert [d.metadata["page"] for d in docs] == [0, 1, 2, 3]
    assert emu.request_count == 0  # nothing went through the real-time endpoint
    assert len(emu.batch.lines_run) == 4
    llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-test")
    realtime = QwenVLScanLoader(REPORT, llm=llm, show_progress=False).load()
    for batch_doc, live_doc in zip(docs, realtime, strict=True):
        assert batch_doc.page_content == live_doc.page_content
        assert batch_doc.metadata == live_doc.metadata
    assert len(list(store.yield_keys(prefix=PAGE_KEY_PREFIX))) == 4
    assert list(store.yield_keys(prefix=PENDING_KEY_PREFIX)) == []


def test_crash_then_resume_submits_no_page_twice(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    emu.batch.settings.validating_s = 3600  # the job will not finish during the first run
    with pytest.raises(QwenVLTimeoutError):
        _loader(emu, store, batch_timeout=0.05).load()  # the "crash": gave up waiting
    assert emu.batch.uploads == 1
    assert len(list(store.yield_keys(prefix=PENDING_KEY_PREFIX))) == 4
    emu.batch.advance(3601)
    docs = _loader(emu, store).load()  # a fresh loader, as a restarted process would build
    assert [d.metadata["page"] for d in docs] == [0, 1, 2, 3]
    assert all(d.page_content.startswith("[emulator]") for d in docs)
    assert emu.batch.uploads == 1  # resumed the stored job: nothing uploaded again
    custom_ids = [cid for _, cid in emu.batch.lines_run]
    assert sorted(custom_ids) == ["0", "1", "2", "3"]  # each page ran exactly once
    assert list(store.yield_keys(prefix=PENDING_KEY_PREFIX)) == []
    again = _loader(emu, store).load()
    assert all(d.metadata["cached"] for d in again)
    assert emu.batch.uploads == 1


def test_failed_page_is_flagged_and_resubmitted_later(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    emu.batch.fail_line("2")
    docs = _loader(emu, store).load()
    assert "error" in docs[2].metadata
    assert "data_inspection_failed" in docs[2].metadata["error"]
    assert [("error" in d.metadata) for d in docs] == [False, False, True, False]
    emu.batch.clear()
    docs = _loader(emu, store).load()
    assert [d.metadata["cached"] for d in docs] == [True, True, False, True]
    assert [cid for _, cid in emu.batch.lines_run] == ["0"]  # only page 2, alone in a new job


def test_two_loaders_share_one_store(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-test")
    first = QwenVLScanLoader(REPORT, llm=llm, cache_store=store, show_progress=False).load()
    assert emu.request_count == 4
    other_llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-test")
    second = QwenVLScanLoader(REPORT, llm=other_llm, cache_store=store, show_progress=False)
    assert second.estimate_cost().cached_pages == 4
    docs = second.load()
    assert emu.request_count == 4  # the second worker billed nothing
    assert [d.page_content for d in docs] == [d.page_content for d in first]
    assert all(d.metadata["cached"] for d in docs)


def test_single_mode_and_stats(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    emu.batch.fail_line("1")
    loader = _loader(emu, store, mode="single")
    [doc] = loader.load()
    assert doc.metadata["failed_pages"] == [1]
    assert doc.page_content.count("[emulator]") == 3
    stats = loader.last_run_stats
    assert stats is not None
    assert (stats.pages_total, stats.pages_failed, stats.requests) == (4, 1, 4)
    assert stats.wall_s > 0
