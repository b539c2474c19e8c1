"""langchain-tests' standard integration suite, against the emulator over loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard_module

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import EmulatorHandle
from tests.integration_tests.conftest import OfflineHttpx, diagram_png


@pytest.fixture(autouse=True)
def _serve_standard_downloads_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard_module, "httpx", OfflineHttpx(diagram_png()))


class TestChatQwenVLIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _bind_emulator(self, emulator: EmulatorHandle) -> None:
        self._base_url = emulator.base_url

    @property
    def chat_model_class(self) -> type[ChatQwenVL]:
        return ChatQwenVL

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {
            "model": "qwen3-vl-flash",
            "api_key": "sk-emulator",
            "base_url": self._base_url,
            "max_retries": 0,
        }

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        # DashScope has no "required" tool_choice; "any" works only with one tool bound
        # (LANGCHAIN-NOTES.md §8), and test_tool_choice binds two.
        return False

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "qwen3-vl-flash-2026-01-22"
