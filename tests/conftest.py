"""Shared test helpers: where the recorded DashScope bodies live; faults end with their test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Faults a test queued on a shared emulator and did not use never reach the next test: the
# plugin users enable the same way.
pytest_plugins = ["langchain_qwen_vl.emulator.pytest_plugin"]

FIXTURES = Path(__file__).parent / "fixtures" / "dashscope"

# Property tests: the same examples on every CI run (a red CI names a real, repeatable case);
# `HYPOTHESIS_PROFILE=explore pytest tests/unit_tests/test_properties.py` searches afresh.
settings.register_profile("ci", max_examples=150, derandomize=True, database=None)
settings.register_profile("explore", max_examples=3000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def recorded() -> Path:
    """The folder of recorded DashScope bodies (a verbatim copy of ../shared)."""
    return FIXTURES
