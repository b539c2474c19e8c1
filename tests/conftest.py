"""Shared test helpers: where the recorded DashScope bodies live."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures" / "dashscope"


@pytest.fixture
def recorded() -> Path:
    """The folder of recorded DashScope bodies (a verbatim copy of ../shared)."""
    return FIXTURES
