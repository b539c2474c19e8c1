"""Every ```python snippet in README.md and docs/*.md runs offline against the emulator.

A snippet preceded by the line `<!-- snippet: skip -->` is not run (say why next to it).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_BLOCK = re.compile(r"(<!-- snippet: skip -->\s*)?```python\n(.*?)```", re.DOTALL)


def _snippets() -> list[tuple[str, str]]:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for number, match in enumerate(_BLOCK.finditer(page.read_text(encoding="utf-8"))):
            if match.group(1) is None:
                found.append((f"{page.relative_to(ROOT)}#{number}", match.group(2)))
    return found


@pytest.mark.parametrize(("where", "code"), _snippets(), ids=[w for w, _ in _snippets()])
def test_snippet_runs(
    where: str, code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.chdir(ROOT)
    exec(compile(code, where, "exec"), {"__name__": "__snippet__"})
    assert capsys.readouterr().out.strip(), f"{where} printed nothing"
