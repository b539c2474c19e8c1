"""The page cache (keys, atomic writes) and the tokens-per-minute budget."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from langchain_qwen_vl._scan_cache import CachedPage, PageCache, file_sha256, page_cache_key
from langchain_qwen_vl._scan_pacing import TokenBudget

KEY_ARGS: dict[str, Any] = {
    "file_hash": "f" * 64,
    "page": 3,
    "model": "qwen3-vl-flash",
    "prompt": "Transcribe.",
    "output": "markdown",
    "render": {"max_pixels": 2_621_440, "dpi": None, "image_format": "auto"},
    "max_tokens": 4096,
    "request": {"endpoint": "dashscope-intl.aliyuncs.com", "temperature": None},
}


def _entry(text: str = "# Page") -> CachedPage:
    return CachedPage(
        text, "qwen3-vl-flash", 2300, 400, 2700, 1240, 1754, "image/jpeg", 150.0, "stop"
    )


# --- keys ------------------------------------------------------------------------------------


def test_key_is_stable_and_changes_with_every_input() -> None:
    base = page_cache_key(**KEY_ARGS)
    assert base == page_cache_key(**dict(KEY_ARGS))
    changes = {
        "file_hash": "e" * 64,
        "page": 4,
        "model": "qwen3-vl-flash-2026-01-22",
        "prompt": "Transcribe!",
        "output": "text",
        "render": {**KEY_ARGS["render"], "dpi": 200},
        "max_tokens": 2048,
        "request": {**KEY_ARGS["request"], "temperature": 0.2},
    }
    for field, value in changes.items():
        assert page_cache_key(**{**KEY_ARGS, field: value}) != base, field


def test_file_hash_of_path_and_bytes_agree(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)  # more than one read chunk
    assert file_sha256(path) == file_sha256(data=b"x" * 3_000_000)


# --- storage -----------------------------------------------------------------------------------


def test_round_trip_and_miss(tmp_path: Path) -> None:
    cache = PageCache(tmp_path)
    key = page_cache_key(**KEY_ARGS)
    assert cache.get(key) is None
    assert key not in cache
    cache.put(key, _entry())
    assert cache.get(key) == _entry()
    assert key in cache


def test_unreadable_entries_are_misses(tmp_path: Path) -> None:
    cache = PageCache(tmp_path)
    key = page_cache_key(**KEY_ARGS)
    cache.put(key, _entry())
    path = next(tmp_path.rglob("*.json"))
    path.write_text("{ half a json", encoding="utf-8")
    assert cache.get(key) is None
    path.write_text(json.dumps({"v": 999, "key": key, "page": {}}), encoding="utf-8")
    assert cache.get(key) is None


def test_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between writing and renaming leaves no entry and no temporary file."""
    cache = PageCache(tmp_path)
    key = page_cache_key(**KEY_ARGS)

    def crash(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        cache.put(key, _entry())
    monkeypatch.undo()
    assert cache.get(key) is None
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    cache.put(key, _entry("second try"))
    assert cache.get(key) == _entry("second try")


# --- pacing ------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _budget(tpm: int, clock: FakeClock, burst: float = 1.0) -> TokenBudget:
    return TokenBudget(tpm, burst_seconds=burst, clock=clock, sleep=clock.sleep)


async def test_within_the_bucket_no_wait_then_paced_at_the_rate() -> None:
    clock = FakeClock()
    budget = _budget(60_000, clock)  # 1,000 tokens/s, bucket of 1,000
    await budget.acquire(600)
    assert clock.now == 0
    await budget.acquire(600)  # 200 short: 0.2 s at 1,000/s
    assert clock.now == pytest.approx(0.2)
    for _ in range(10):
        await budget.acquire(500)
    assert clock.now == pytest.approx(0.2 + 10 * 0.5)  # steady state = the rate
    assert budget.waited_s == pytest.approx(clock.now)


async def test_settling_refunds_what_was_not_used() -> None:
    clock = FakeClock()
    budget = _budget(60_000, clock)
    reservation = await budget.acquire(1_000)  # input estimate + max_tokens
    assert budget.level == pytest.approx(0)
    budget.settle(reservation, used=300)
    assert budget.level == pytest.approx(700)
    budget.settle(reservation, used=0)  # settling twice changes nothing
    assert budget.level == pytest.approx(700)
    await budget.acquire(700)
    assert clock.now == 0


async def test_a_request_larger_than_the_bucket_runs_into_debt() -> None:
    clock = FakeClock()
    budget = _budget(60_000, clock)
    await budget.acquire(900)
    await budget.acquire(5_000)  # waits only for a full bucket, then owes 4,000
    assert clock.now == pytest.approx(0.9)
    assert budget.level == pytest.approx(-4_000)
    await budget.acquire(100)
    assert clock.now == pytest.approx(0.9 + 4.1)


async def test_usage_above_the_reservation_is_charged() -> None:
    clock = FakeClock()
    budget = _budget(60_000, clock)
    reservation = await budget.acquire(500)
    budget.settle(reservation, used=1_500)
    assert budget.level == pytest.approx(-500)


def test_invalid_budgets() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBudget(0)
    with pytest.raises(ValueError, match="burst_seconds"):
        TokenBudget(1_000, burst_seconds=0)
