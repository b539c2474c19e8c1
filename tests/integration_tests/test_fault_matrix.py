"""Every emulator fault × invoke, stream, ainvoke, astream, batch and the scan loader.

Each cell: the outcome (the answer, or the error class raised / named in the scan page's
metadata) and the number of requests the emulator received, against ``fault_matrix.FAULTS``.
Bounded: timeouts are 0.3 s, backoff sleeps are skipped, stalls end when the client gives up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from langchain_qwen_vl import ChatQwenVL, _transport
from langchain_qwen_vl.document_loaders import QwenVLScanLoader
from langchain_qwen_vl.emulator import EmulatorHandle, run_emulator
from tests.integration_tests.fault_matrix import (
    FAULTS,
    MAX_RETRIES,
    PATHS,
    TIMEOUT_S,
    Fault,
    render_matrix,
)
from tests.unit_tests.test_scan_support import sized_pdf

DOC = Path(__file__).resolve().parents[2] / "docs" / "reliability.md"
HANG_GUARD_S = 10.0  # a cell that takes this long is hanging, not slow


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator() as handle:
        yield handle


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    async def no_async_sleep(delay: float) -> None:
        return None

    monkeypatch.setattr(_transport, "_sleep", lambda delay: None)
    monkeypatch.setattr(_transport, "_asleep", no_async_sleep)


@pytest.fixture(scope="module")
def one_page_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sized_pdf(tmp_path_factory.mktemp("scan") / "one.pdf", 1)


def _outcome(error: BaseException | None) -> str:
    return "ok" if error is None else type(error).__name__


async def _run(path: str, llm: ChatQwenVL, pdf: Path) -> str:
    prompt = "hello there, tell me something"
    try:
        if path == "invoke":
            assert llm.invoke(prompt).content
        elif path == "ainvoke":
            assert (await llm.ainvoke(prompt)).content
        elif path == "stream":
            assert "".join(chunk.text for chunk in llm.stream(prompt))
        elif path == "astream":
            assert "".join([chunk.text async for chunk in llm.astream(prompt)])
        elif path == "batch":
            [result] = llm.batch([prompt], return_exceptions=True)
            if isinstance(result, BaseException):
                return _outcome(result)
        elif path == "scan":
            [doc] = await QwenVLScanLoader(pdf, llm=llm).aload()
            return str(doc.metadata.get("error_type", "ok"))
    except Exception as error:
        return _outcome(error)
    return "ok"


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("fault", FAULTS, ids=[f.name for f in FAULTS])
async def test_fault_cell(fault: Fault, path: str, emu: EmulatorHandle, one_page_pdf: Path) -> None:
    emu.clear()
    emu.inject_faults(*fault.queued)
    llm = ChatQwenVL(
        base_url=emu.base_url, api_key="sk-test", max_retries=MAX_RETRIES, timeout=TIMEOUT_S
    )
    started = time.monotonic()
    outcome = await _run(path, llm, one_page_pdf)
    assert time.monotonic() - started < HANG_GUARD_S
    assert (outcome, emu.request_count) == fault.expected(path)


def test_docs_show_the_matrix_the_tests_run() -> None:
    if not DOC.exists():
        pytest.fail(f"{DOC} is missing; it must contain the fault matrix")
    assert render_matrix() in DOC.read_text()
