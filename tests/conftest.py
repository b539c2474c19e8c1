"""Shared test helpers: where the recorded DashScope bodies live; faults end with their test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_qwen_vl.emulator._controls import EmulatorControls

FIXTURES = Path(__file__).parent / "fixtures" / "dashscope"


@pytest.fixture
def recorded() -> Path:
    """The folder of recorded DashScope bodies (a verbatim copy of ../shared)."""
    return FIXTURES


@pytest.fixture(autouse=True)
def _faults_end_with_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Faults a test queued on a shared emulator and did not use never reach the next test."""
    yield
    for value in request.node.funcargs.values():
        if isinstance(value, EmulatorControls):
            value.clear_faults()
