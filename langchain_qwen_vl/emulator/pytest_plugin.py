"""pytest support for testing your app against the emulator: faults never outlive a test.

Enable it in your ``conftest.py``::

    pytest_plugins = ["langchain_qwen_vl.emulator.pytest_plugin"]

Then every test that used an emulator through a fixture (a :func:`run_emulator` or
:func:`in_process_emulator` value, whatever the fixture's scope) ends with that emulator's
queued faults dropped, passed or failed: faults queued with ``emu.inject_faults(...)`` and not
used up never reach the next test. Recorded requests and scripted replies are left alone (call
``emu.clear()`` for those). It also provides ``qwen_emulator``: one in-process emulator for the
whole session (no port), with its ``base_url``, ``http_client`` and ``http_async_client``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from langchain_qwen_vl.emulator import InProcessEmulator

__all__ = ["qwen_emulator"]


@pytest.fixture(scope="session")
def qwen_emulator() -> Iterator[InProcessEmulator]:
    """One in-process emulator for the session; its faults are dropped after every test."""
    from langchain_qwen_vl.emulator import in_process_emulator

    with in_process_emulator() as emulator:
        yield emulator


@pytest.fixture(autouse=True)
def _qwen_emulator_faults_end_with_the_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    from langchain_qwen_vl.emulator._controls import EmulatorControls

    for value in request.node.funcargs.values():
        if isinstance(value, EmulatorControls):
            value.clear_faults()
