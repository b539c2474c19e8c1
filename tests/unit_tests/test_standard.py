"""langchain-tests' standard unit suite for ChatQwenVL."""

from __future__ import annotations

from typing import Any

from langchain_tests.unit_tests import ChatModelUnitTests

from langchain_qwen_vl import ChatQwenVL


class TestChatQwenVLStandard(ChatModelUnitTests):
    @property
    def chat_model_class(self) -> type[ChatQwenVL]:
        return ChatQwenVL

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "qwen3-vl-flash", "api_key": "sk-test", "temperature": 0}

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"DASHSCOPE_API_KEY": "sk-env", "DASHSCOPE_BASE_URL": "https://proxy.test/v1"},
            {},
            {"api_key": "sk-env", "base_url": "https://proxy.test/v1"},
        )

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_video_inputs(self) -> bool:
        return True

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supports_image_tool_message(self) -> bool:
        return True

    @property
    def has_tool_choice(self) -> bool:
        # DashScope has no "required" tool_choice; "any" works only with one tool bound
        # (LANGCHAIN-NOTES.md §8), and the standard tests bind several.
        return False
