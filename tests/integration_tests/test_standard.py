"""langchain-tests' standard integration suite, against the emulator over loopback HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.integration_tests import chat_models as standard_module

from langchain_qwen_vl import ChatQwenVL, QwenVLUnsupportedFeatureError
from langchain_qwen_vl.emulator import EmulatorHandle
from tests.integration_tests.conftest import OfflineHttpx, diagram_png


@pytest.fixture(autouse=True)
def _serve_standard_downloads_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(standard_module, "httpx", OfflineHttpx(diagram_png()))


@tool
def magic_function(input: int) -> int:
    """Apply a magic function to an input."""
    return input + 2


@tool
def get_weather(location: str) -> str:
    """Get weather at a location."""
    return f"It's sunny in {location}."


class TestChatQwenVLIntegration(ChatModelIntegrationTests):
    @pytest.fixture(autouse=True)
    def _bind_emulator(self, emulator: EmulatorHandle) -> None:
        self._base_url = emulator.base_url
        self._emulator = emulator

    def test_forced_tool_choice_as_dashscope_offers_it(self, model: ChatQwenVL) -> None:
        """What DashScope really offers for forced tool calls. The standard test_tool_choice
        is skipped (has_tool_choice is False): it forces "any" over two tools, and the service
        has no "required" mode.

        - a tool name forces that tool, also with several bound;
        - "any" forces the only bound tool;
        - "any" over several tools is refused before any request is sent.
        """
        for choice, tools in (
            ("magic_function", [magic_function, get_weather]),
            ("any", [magic_function]),
        ):
            result = model.bind_tools(tools, tool_choice=choice).invoke("Hello!")
            assert isinstance(result, AIMessage)
            assert result.tool_calls
            assert result.tool_calls[0]["name"] == "magic_function"
        before = self._emulator.request_count
        forced_any = model.bind_tools([magic_function, get_weather], tool_choice="any")
        with pytest.raises(QwenVLUnsupportedFeatureError, match="required"):
            forced_any.invoke("Hello!")
        assert self._emulator.request_count == before

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
