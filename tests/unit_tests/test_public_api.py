"""The public surface: every exported name resolves, and importing the package is cheap."""

from __future__ import annotations

import subprocess
import sys

import langchain_qwen_vl


def test_every_public_name_resolves() -> None:
    for name in langchain_qwen_vl.__all__:
        assert getattr(langchain_qwen_vl, name) is not None, name
    assert langchain_qwen_vl.ChatQwenVL.__module__ == "langchain_qwen_vl.chat_models"
    assert issubclass(langchain_qwen_vl.QwenVLImageError, ValueError)


def test_import_defers_the_heavy_modules() -> None:
    code = (
        "import sys, langchain_qwen_vl; "
        "print(sorted(m for m in ('langchain_qwen_vl.chat_models', 'httpx', 'PIL', "
        "'pypdfium2', 'starlette') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
