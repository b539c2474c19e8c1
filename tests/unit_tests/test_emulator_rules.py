"""The emulator's own copy of the service's image rules: literal values, and no import of the
client's media code (it must stand in for the service, not repeat the client)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from langchain_qwen_vl.emulator import _service_rules as rules

EMULATOR = Path(rules.__file__).resolve().parent


@pytest.mark.parametrize(
    ("height", "width", "cap", "seen", "tokens"),
    [
        (3024, 4032, 2_621_440, (1376, 1856), 2496),  # a 12 MP photo
        (480, 640, 2_621_440, (480, 640), 302),
        (100, 100, 2_621_440, (96, 96), 11),
        (2000, 3000, 200_000, (352, 544), 189),  # a 6 MP photo at a small cap
        (12000, 12000, 2_621_440, (1600, 1600), 2502),
        (20, 20, 2_621_440, (64, 64), 6),  # raised to the 4-patch floor
    ],
)
def test_literal_sizes_and_tokens(
    height: int, width: int, cap: int, seen: tuple[int, int], tokens: int
) -> None:
    assert rules.smart_resize(height, width, cap, rules.MIN_PIXELS) == seen
    assert rules.image_tokens(height, width, cap, rules.MIN_PIXELS) == tokens


def test_caps() -> None:
    assert rules.image_cap(None, False) == 2_621_440
    assert rules.image_cap(1_000_000, False) == 1_000_000
    assert rules.image_cap(1_000_000, True) == 16_777_216


def test_data_uri_payload() -> None:
    assert rules.data_uri_payload("data:image/png;base64,aGk=") == b"hi"
    with pytest.raises(ValueError, match="base64"):
        rules.data_uri_payload("data:image/png;base64,@@@")


def test_the_emulator_never_imports_the_clients_media_code() -> None:
    for path in EMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.startswith("langchain_qwen_vl.media") for n in names), path.name
