"""examples/rag_over_scans.py runs offline end to end and cites page numbers."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "rag_over_scans.py"


def test_rag_over_scans_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    spec = importlib.util.spec_from_file_location("rag_over_scans", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # pydantic resolves its annotations there
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CACHE", tmp_path / "cache")
    module.main()
    first = capsys.readouterr().out
    assert "4 pages, 0 from the cache" in first
    for page in range(1, 5):
        assert f"p. {page}: [emulator] 1 image received." in first
    assert first.count("sources: scanned_report.pdf p. ") == len(module.QUESTIONS)
    module.main()  # a re-run is served from the cache: nothing billed
    assert "4 pages, 4 from the cache, 0 input + 0 output tokens billed" in capsys.readouterr().out
