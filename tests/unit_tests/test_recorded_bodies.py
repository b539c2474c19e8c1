"""Every recorded OpenAI-compatible body (compat-*) parsed the way users will see it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk

from langchain_qwen_vl._wire.chat_completions import (
    StreamAssembler,
    result_from_response,
    usage_metadata_from_usage,
)
from langchain_qwen_vl.errors import (
    QwenVLAuthenticationError,
    QwenVLBadRequestError,
    error_from_response,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "dashscope-fixtures"


def _sse_payloads(text: str) -> list[dict[str, object]]:
    payloads = []
    for line in text.splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            payloads.append(json.loads(line[len("data: ") :]))
    return payloads


def test_fixture_copies_match_shared(recorded: Path) -> None:
    if not SHARED.is_dir():
        pytest.skip("../shared/dashscope-fixtures is not beside this checkout")
    for original in SHARED.iterdir():
        assert (recorded / original.name).read_bytes() == original.read_bytes(), original.name


def test_multi_image_answer(recorded: Path) -> None:
    body = json.loads((recorded / "compat-nonstream-vl-multi-image.json").read_text())
    message = result_from_response(body).generations[0].message
    assert message.content.startswith("图1中是一名女子")
    assert message.usage_metadata == {
        "input_tokens": 2509,
        "output_tokens": 34,
        "total_tokens": 2543,
    }
    assert message.response_metadata["id"] == "chatcmpl-1abb4eb9-f508-9637-a8ba-ac7fc6f73e53"
    assert message.response_metadata["model_name"] == "qwen-vl-plus"
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["system_fingerprint"] is None
    assert message.response_metadata["model_provider"] == "qwen"
    assert "reasoning_content" not in message.additional_kwargs


def test_cached_tokens_become_cache_read(recorded: Path) -> None:
    body = json.loads((recorded / "compat-nonstream-text-cached.json").read_text())
    usage = result_from_response(body).generations[0].message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] == 3019
    assert usage["output_tokens"] == 104
    assert usage["total_tokens"] == 3123
    assert usage.get("input_token_details") == {"cache_read": 2048}


def test_text_stream_merges_to_the_full_answer_with_usage_once(recorded: Path) -> None:
    payloads = _sse_payloads((recorded / "compat-stream-text.sse").read_text())
    assembler = StreamAssembler()
    chunks = [c for p in payloads if (c := assembler.feed(p)) is not None]
    last = assembler.finish()
    assert last is not None
    # One chunk per piece of text, and one last chunk with the finish reason and the usage.
    assert [c.message.content for c in chunks] == [
        "I am",
        " a",
        " large-scale",
        " language model from Alibaba",
        " Cloud, and my name is Qwen",
        ".",
    ]
    assert last.message.chunk_position == "last"  # type: ignore[attr-defined]
    chunks.append(last)
    merged = chunks[0].message
    for chunk in chunks[1:]:
        merged = merged + chunk.message
    assert isinstance(merged, AIMessageChunk)
    assert merged.content == (
        "I am a large-scale language model from Alibaba Cloud, and my name is Qwen."
    )
    # model_name and finish_reason set on one chunk only, so merging does not double them.
    assert merged.response_metadata["model_name"] == "qwen-plus"
    assert merged.response_metadata["finish_reason"] == "stop"
    assert merged.response_metadata["model_provider"] == "qwen"
    assert merged.usage_metadata == {"input_tokens": 22, "output_tokens": 17, "total_tokens": 39}
    assert assembler.finish_reason == "stop"
    assert assembler.saw_usage


def test_reasoning_and_image_token_details_from_native_usage_names() -> None:
    # native-nonstream-vl.response.json reports image_tokens and native-stream-thinking.sse
    # reasoning_tokens; compatible mode reports them under *_tokens_details (spec §2).
    usage = usage_metadata_from_usage(
        {
            "prompt_tokens": 3613,
            "completion_tokens": 12,
            "total_tokens": 3625,
            "prompt_tokens_details": {"image_tokens": 3577, "text_tokens": 36},
            "completion_tokens_details": {"reasoning_tokens": 10},
        }
    )
    assert usage["input_token_details"] == {"image": 3577, "text": 36}  # type: ignore[comparison-overlap]
    assert usage["output_token_details"] == {"reasoning": 10}


def test_401_body_maps_to_authentication_error_with_region_hint(recorded: Path) -> None:
    body = (recorded / "compat-error-401.json").read_bytes()
    error = error_from_response(401, body, {}, base_url="https://dashscope-intl.aliyuncs.com/x")
    assert isinstance(error, QwenVLAuthenticationError)
    assert error.status_code == 401
    assert error.code == "invalid_api_key"
    assert error.type == "invalid_request_error"
    assert error.param is None
    assert error.server_message == "Incorrect API key provided. "
    assert "region" in str(error)
    assert "dashscope-intl" in str(error)
    assert not error.is_retryable


def test_image_download_failure_keeps_code_and_request_id(recorded: Path) -> None:
    line = (recorded / "compat-error-400-image-download.pyrepr.txt").read_text()
    body = ast.literal_eval(line[line.index("{'error'") :].strip())
    error = error_from_response(400, body)
    assert type(error) is QwenVLBadRequestError
    assert error.code == "invalid_parameter_error"
    assert error.request_id == "chatcmpl-002b7740-5383-960d-ae34-3568053a0965"
    assert "Failed to download multimodal content" in str(error)


def test_native_error_bodies_with_bom(recorded: Path) -> None:
    error = error_from_response(400, (recorded / "native-error-400.json").read_bytes())
    assert error.code == "InvalidParameter"
    assert error.request_id == "a5898c04-d210-901b-965f-e4bd90478805"
    assert error.server_message is not None
    assert error.server_message.startswith("Role must be user or assistant")
    auth = error_from_response(401, (recorded / "native-error-401.json").read_bytes())
    assert isinstance(auth, QwenVLAuthenticationError)
    assert auth.code == "InvalidApiKey"


def test_thinking_only_when_streaming_gets_a_fix_in_the_message() -> None:
    # The wording some Qwen models answer with (spec §1b, "uncertain" for this model).
    body = {
        "error": {
            "code": "invalid_parameter_error",
            "type": "invalid_request_error",
            "message": "<400> InternalError.Algo.InvalidParameter: parameter.enable_thinking "
            "must be set to false for non-streaming calls",
        }
    }
    error = error_from_response(400, body)
    assert isinstance(error, QwenVLBadRequestError)
    assert "streaming=True" in str(error)
