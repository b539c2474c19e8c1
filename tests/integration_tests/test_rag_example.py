"""examples/rag_over_scans.py runs offline end to end and cites page numbers."""

from __future__ import annotations

import importlib.util
import re
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
    # Every page got its own scripted transcript, keyed by the page image.
    for page, heading in enumerate(("# Harbor Street", "### 3.", "### 4.", "### 6."), 1):
        assert f"p. {page}: {heading}" in first
    # Each question is answered from, and cites, the page that holds its answer.
    expected = {
        module.QUESTIONS[0]: ("| Filter bed 3 | Turbidity (NTU) | 0.27 | 0.30 |", 2),
        module.QUESTIONS[1]: ("The report is approved", 3),
        module.QUESTIONS[2]: ("| Filter bed 3 media replacement | WO-8812 | 48,600 |", 4),
    }
    for question, (fact, page) in expected.items():
        answer = first.split(f"Q: {question}\nA: ", 1)[1].split("\n", 1)[0]
        assert fact in answer
        assert answer.endswith(f"(p. {page})")
        assert re.findall(r"\(p\. (\d+)\)", answer) == [str(page)]
    module.main()  # a re-run is served from the cache: nothing billed
    assert "4 pages, 4 from the cache, 0 input + 0 output tokens billed" in capsys.readouterr().out
