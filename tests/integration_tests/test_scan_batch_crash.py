"""Batch-mode scans never submit a page twice, whatever the point where a run dies (emulator).

The report has four pages; with ``max_requests_per_file=1`` each page is one file and one
service batch, so "part k of 4" is page k-1. A crash is an exception raised inside the client at
the chosen point (nothing after it runs, as when the process dies); the resumed run is a fresh
loader on the same store, as a restarted process would build. Each page is billed once when the
emulator holds exactly four batches and has run exactly four lines once every batch is observed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_qwen_vl import ChatQwenVL, QwenVLBatch
from langchain_qwen_vl._batch_http import BatchHttp
from langchain_qwen_vl._scan_cache import PENDING_KEY_PREFIX
from langchain_qwen_vl.document_loaders import QwenVLScanLoader
from langchain_qwen_vl.emulator import EmulatorHandle, run_emulator
from langchain_qwen_vl.errors import QwenVLTimeoutError

REPORT = Path(__file__).resolve().parents[2] / "examples" / "assets" / "scanned_report.pdf"


class Crash(Exception):
    """The process dies here."""


pytestmark = pytest.mark.usefixtures("no_poll_sleep")


@pytest.fixture(scope="module")
def realtime_pages() -> list[str]:
    """What each page transcribes to in real time (pages differ, so a mix-up would show)."""
    with run_emulator() as emu:
        llm = ChatQwenVL(base_url=emu.base_url, api_key="sk-test")
        return [d.page_content for d in QwenVLScanLoader(REPORT, llm=llm).load()]


def _loader(emu: EmulatorHandle, store: InMemoryByteStore, **kw: Any) -> QwenVLScanLoader:
    kw.setdefault("batch_options", {"max_requests_per_file": 1})
    kw.setdefault("batch_timeout", 10.0)  # a job that does not finish fails the test, never hangs
    return QwenVLScanLoader(
        REPORT,
        llm=ChatQwenVL(base_url=emu.base_url, api_key="sk-test"),
        use_batch_api=True,
        cache_store=store,
        batch_poll_interval=0.01,
        show_progress=False,
        **kw,
    )


def _crash_at_create(monkeypatch: pytest.MonkeyPatch, nth: int, *, after_create: bool) -> None:
    """Die at the ``nth`` batch create: before it is sent, or after the service created it."""
    original = BatchHttp.arequest
    creates = 0

    async def arequest(self: BatchHttp, method: str, path: str, **kw: Any) -> dict[str, Any]:
        nonlocal creates
        if (method, path) == ("POST", "/batches"):
            creates += 1
            if creates == nth:
                if after_create:
                    await original(self, method, path, **kw)
                raise Crash(f"died at create {nth} (after_create={after_create})")
        return await original(self, method, path, **kw)

    monkeypatch.setattr(BatchHttp, "arequest", arequest)


def _pending(store: InMemoryByteStore) -> int:
    return len(list(store.yield_keys(prefix=PENDING_KEY_PREFIX)))


def _assert_each_page_billed_once(
    emu: EmulatorHandle, store: InMemoryByteStore, realtime_pages: list[str]
) -> None:
    docs = _loader(emu, store).load()  # the resumed run
    assert [d.page_content for d in docs] == realtime_pages
    assert _pending(store) == 0
    assert len(emu.batch.batches) == 4  # one per page: nothing created twice
    QwenVLBatch(ChatQwenVL(base_url=emu.base_url, api_key="sk-test")).list_jobs(limit=100)
    assert len(emu.batch.lines_run) == 4  # every batch observed (run): four lines billed
    assert {b.status for b in emu.batch.batches.values()} == {"completed"}


@pytest.mark.parametrize("after_create", [False, True], ids=["after-upload", "after-create"])
def test_crash_at_create_then_resume(
    emu: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    realtime_pages: list[str],
    after_create: bool,
) -> None:
    store = InMemoryByteStore()
    with monkeypatch.context() as patch:
        _crash_at_create(patch, 2, after_create=after_create)
        with pytest.raises(Crash):
            _loader(emu, store).load()
    assert emu.batch.uploads == 2  # part 2's file went up before the process died
    assert len(emu.batch.batches) == (2 if after_create else 1)
    assert _pending(store) == 1  # part 1 was recorded the moment it was created
    _assert_each_page_billed_once(emu, store, realtime_pages)
    # after-create: part 2's batch was adopted through its tag, not created again
    assert emu.batch.uploads == (5 if not after_create else 4)


@pytest.mark.parametrize("created", [False, True], ids=["not-created", "created-answer-lost"])
def test_part_k_failing_then_resume(
    emu: EmulatorHandle, realtime_pages: list[str], created: bool
) -> None:
    store = InMemoryByteStore()
    emu.batch.fail_create(2, created=created)
    docs = _loader(emu, store).load()
    assert "error" not in docs[0].metadata  # part 1 was created and is collected
    assert all("submitting part 2 of 4 failed" in d.metadata["error"] for d in docs[1:])
    assert len(emu.batch.batches) == (2 if created else 1)
    _assert_each_page_billed_once(emu, store, realtime_pages)


def test_documents_stream_as_their_jobs_finish(emu: EmulatorHandle) -> None:
    """Pages 0-1 (first file) come out while the batch of pages 2-3 is still validating."""
    store = InMemoryByteStore()
    emu.batch.delay(2, 3600)
    docs = _loader(emu, store, batch_options={"max_requests_per_file": 2}).lazy_load()
    first = [next(docs), next(docs)]
    assert [d.metadata["page"] for d in first] == [0, 1]
    assert sorted(b.status for b in emu.batch.batches.values()) == ["completed", "validating"]
    emu.batch.advance(3601)
    assert [d.metadata["page"] for d in docs] == [2, 3]


def test_a_slow_first_job_holds_back_later_pages(emu: EmulatorHandle) -> None:
    store = InMemoryByteStore()
    emu.batch.delay(1, 3600)
    loader = _loader(emu, store, batch_options={"max_requests_per_file": 2}, batch_timeout=0.5)
    with pytest.raises(QwenVLTimeoutError):
        next(loader.lazy_load())  # pages 0-1 never came; pages 2-3 (done) were not yielded first
    assert sorted(b.status for b in emu.batch.batches.values()) == ["completed", "validating"]
