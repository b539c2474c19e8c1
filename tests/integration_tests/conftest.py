"""Integration tests talk to the bundled emulator over real HTTP on 127.0.0.1 — nowhere else."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw
from pytest_socket import enable_socket, socket_allow_hosts

from langchain_qwen_vl import _batch_job
from langchain_qwen_vl.emulator import EmulatorHandle, run_emulator


@pytest.fixture(autouse=True)
def _loopback_only() -> Iterator[None]:
    socket_allow_hosts(["127.0.0.1", "localhost", "::1"], allow_unix_socket=True)
    yield
    enable_socket()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    with run_emulator() as handle:
        yield handle


@pytest.fixture
def emu() -> Iterator[EmulatorHandle]:
    """A private emulator, for tests that queue faults, script batches or count requests."""
    with run_emulator() as handle:
        yield handle


@pytest.fixture
def no_poll_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batch jobs poll without sleeping (the emulator's batch clock does not need the wait)."""

    async def asleep(_: float) -> None:
        return None

    monkeypatch.setattr(_batch_job, "_sleep", lambda _: None)
    monkeypatch.setattr(_batch_job, "_asleep", asleep)


def diagram_png() -> bytes:
    """A small real diagram-like PNG, standing in for images the standard tests download."""
    image = Image.new("RGB", (320, 200), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 140, 90), outline="navy", width=4, fill="lightblue")
    draw.rectangle((180, 110, 300, 180), outline="darkgreen", width=4, fill="palegreen")
    draw.line((140, 55, 180, 145), fill="black", width=3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


class OfflineHttpx:
    """Stands in for the ``httpx`` module inside langchain-tests: ``get`` of a remote URL is
    answered from memory (LANGCHAIN-NOTES.md §2); everything else is the real httpx."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload

    def get(self, url: str, **_: Any) -> httpx.Response:
        return httpx.Response(200, content=self._payload, request=httpx.Request("GET", url))

    def __getattr__(self, name: str) -> Any:
        return getattr(httpx, name)
