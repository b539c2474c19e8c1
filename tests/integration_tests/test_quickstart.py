"""The README's `make demo` script runs offline and shows each thing it promises."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"


def test_quickstart_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    runpy.run_path(str(QUICKSTART), run_name="__main__")
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("No DASHSCOPE_API_KEY: using the local emulator")
    assert "[emulator] 1 image received. Image 1: 640×480 px" in out
    streamed = out.split("== 2.")[1].split("== 3.")[0]
    assert streamed.count("|") > 10  # printed token by token
    assert "reasoning: [emulator] thinking:" in out
    assert "answer:    [emulator]" in out
    assert "reported by the service:" in out
    assert "'image': 302" in out
