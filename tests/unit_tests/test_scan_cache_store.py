"""The page cache on any ByteStore: stable keys, the directory layout, concurrent writers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from langchain_core.stores import InMemoryByteStore

from langchain_qwen_vl._scan_cache import (
    PAGE_KEY_PREFIX,
    PENDING_KEY_PREFIX,
    CachedPage,
    DirectoryByteStore,
    PageCache,
)

KEY = "ab" + "0" * 62


def _page(text: str = "hello") -> CachedPage:
    return CachedPage(text, "qwen3-vl-flash", 10, 5, 15, 800, 600, "image/jpeg", dpi=150.0)


def test_keys_are_the_same_in_every_store(tmp_path: Path) -> None:
    memory = InMemoryByteStore()
    PageCache(memory).put(KEY, _page())
    PageCache(tmp_path).put(KEY, _page())
    assert list(memory.yield_keys()) == [f"qwen-vl-scan/v1/page/{KEY}"]
    assert list(DirectoryByteStore(tmp_path).yield_keys()) == [f"qwen-vl-scan/v1/page/{KEY}"]
    # the directory layout of earlier versions: existing caches stay valid
    assert (tmp_path / "ab" / f"{KEY}.json").is_file()
    assert memory.mget([PAGE_KEY_PREFIX + KEY]) == DirectoryByteStore(tmp_path).mget(
        [PAGE_KEY_PREFIX + KEY]
    )


def test_pending_records_round_trip(tmp_path: Path) -> None:
    for cache in (PageCache(InMemoryByteStore()), PageCache(tmp_path)):
        cache.set_pending({KEY: {"job_id": "qvlb1:batch_x@0+1", "index": 0}})
        assert cache.pending([KEY, "cd" + "0" * 62]) == [
            {"job_id": "qvlb1:batch_x@0+1", "index": 0},
            None,
        ]
        cache.clear_pending([KEY])
        assert cache.pending([KEY]) == [None]
    assert list(DirectoryByteStore(tmp_path).yield_keys(prefix=PENDING_KEY_PREFIX)) == []


def test_unreadable_entry_is_a_miss() -> None:
    store = InMemoryByteStore()
    store.mset([(PAGE_KEY_PREFIX + KEY, b"{not json")])
    assert PageCache(store).get(KEY) is None


def test_directory_store_refuses_path_tricks(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="plain relative path"):
        DirectoryByteStore(tmp_path).mset([("../outside", b"x")])


def test_concurrent_writers_of_one_page_are_harmless(tmp_path: Path) -> None:
    cache = PageCache(tmp_path)
    cache.put(KEY, _page("first"))
    barrier = threading.Barrier(9)
    writing = threading.Event()
    writing.set()
    torn: list[int] = []

    def write(number: int) -> None:
        barrier.wait()
        for _ in range(40):
            cache.put(KEY, _page(f"worker {number} " + "x" * 20_000))

    def read() -> None:
        barrier.wait()
        while writing.is_set():
            if cache.get(KEY) is None:  # a reader must never see half an entry
                torn.append(1)

    reader = threading.Thread(target=read)
    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writing.clear()
    reader.join()
    assert torn == []
    entry = cache.get(KEY)
    assert entry is not None  # a whole entry, from one of the writers
    assert entry.text.startswith("worker ")
    assert [p.name for p in (tmp_path / "ab").iterdir()] == [f"{KEY}.json"]  # no temp left
