"""Batch JSONL: lines built and split over the service's limits, result lines parsed (no I/O)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl._batch_job import (
    QwenVLBatchError,
    SubJob,
    aggregate_status,
    decode_job_id,
    encode_job_id,
)
from langchain_qwen_vl._batch_limits import check_batch_supported, completion_window_hours
from langchain_qwen_vl._batch_lines import JsonlParts, encode_line, fit_line, parse_result_line
from langchain_qwen_vl.batch import QwenVLBatch
from langchain_qwen_vl.errors import (
    QwenVLBadRequestError,
    QwenVLContentModerationError,
    QwenVLInputError,
    QwenVLRateLimitError,
    QwenVLUnsupportedFeatureError,
)

# The success line of the spec (S1 doc, recorded shape S8): note the body key order.
SPEC_SUCCESS_LINE = (
    '{"id":"153fa1be","custom_id":"1","response":{"status_code":200,"request_id":"153fa1be",'
    '"body":{"created":1776432582,"usage":{"completion_tokens":49,"prompt_tokens":26,'
    '"total_tokens":75},"model":"qwen-flash","id":"chatcmpl-153fa1be","choices":[{'
    '"finish_reason":"stop","index":0,"message":{"role":"assistant","content":"你好"}}],'
    '"object":"chat.completion"}},"error":null}'
)


def test_success_line_maps_like_invoke() -> None:
    custom_id, result = parse_result_line(SPEC_SUCCESS_LINE)
    assert custom_id == "1"
    assert isinstance(result, AIMessage)
    assert result.content == "你好"
    assert result.usage_metadata == {"input_tokens": 26, "output_tokens": 49, "total_tokens": 75}
    assert result.response_metadata["model_name"] == "qwen-flash"
    assert result.response_metadata["finish_reason"] == "stop"
    assert result.id == "chatcmpl-153fa1be"


def test_thinking_line_keeps_reasoning() -> None:
    body = {
        "id": "c",
        "model": "qwen3-vl-flash",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {"role": "assistant", "content": "A", "reasoning_content": "hmm"},
            }
        ],
        "usage": {
            "prompt_tokens": 5,
            "completion_tokens": 7,
            "total_tokens": 12,
            "completion_tokens_details": {"reasoning_tokens": 4},
        },
    }
    line = {"custom_id": "0", "response": {"status_code": 200, "body": body}, "error": None}
    _, result = parse_result_line(json.dumps(line))
    assert isinstance(result, AIMessage)
    assert result.additional_kwargs["reasoning_content"] == "hmm"
    assert result.usage_metadata is not None
    assert result.usage_metadata["output_token_details"] == {"reasoning": 4}


@pytest.mark.parametrize(
    ("line", "cls", "code"),
    [
        # A failed request inside the output file: judged by status_code, not by the file.
        (
            {
                "custom_id": "3",
                "response": {
                    "status_code": 400,
                    "body": {
                        "error": {
                            "code": "data_inspection_failed",
                            "message": "Input data may contain inappropriate content.",
                        }
                    },
                },
                "error": None,
            },
            QwenVLContentModerationError,
            "data_inspection_failed",
        ),
        # The documented error shape {code, message} without a response.
        (
            {
                "custom_id": "3",
                "response": None,
                "error": {"code": "invalid_parameter_error", "message": "bad"},
            },
            QwenVLBadRequestError,
            "invalid_parameter_error",
        ),
        # The shape the doc's CSV script reads: error_code / error_message.
        (
            {
                "custom_id": "3",
                "error": {"error_code": "Throttling.RateQuota", "error_message": "slow down"},
            },
            QwenVLRateLimitError,
            "Throttling.RateQuota",
        ),
    ],
)
def test_failed_lines_map_to_the_real_time_error_types(
    line: dict[str, object], cls: type[Exception], code: str
) -> None:
    custom_id, result = parse_result_line(json.dumps(line))
    assert custom_id == "3"
    assert type(result) is cls
    assert getattr(result, "code", None) == code


def test_not_run_lines_are_batch_errors() -> None:
    line = {
        "custom_id": "4",
        "response": None,
        "error": {"code": "batch_cancelled", "message": "x"},
    }
    _, result = parse_result_line(json.dumps(line))
    assert isinstance(result, QwenVLBatchError)
    assert result.code == "batch_cancelled"


def test_encode_line_is_the_documented_shape() -> None:
    line = json.loads(encode_line("7", {"model": "qwen3-vl-flash", "messages": []}))
    assert line == {
        "custom_id": "7",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "qwen3-vl-flash", "messages": []},
    }


def test_parts_split_on_count_bytes_and_mode(tmp_path: Path) -> None:
    small = len(encode_line("0", {"q": "x"}))
    parts = JsonlParts(max_requests=2, max_bytes=3 * small, directory=str(tmp_path))
    mode = ("qwen3-vl-flash", False)
    for index in range(5):
        parts.add(index, encode_line(str(index), {"q": "x"}), mode)
    big = encode_line("5", {"q": "y" * (2 * small)})
    parts.add(5, big, mode)  # too big to join the part holding one line
    parts.add(6, encode_line("6", {"q": "z"}), ("qwen3-vl-flash", True))  # another mode
    done = parts.finish()
    assert [(p.start, p.count) for p in done] == [(0, 2), (2, 2), (4, 1), (5, 1), (6, 1)]
    assert Path(done[0].path).read_bytes() == encode_line("0", {"q": "x"}) + encode_line(
        "1", {"q": "x"}
    )
    parts.close()
    assert not list(tmp_path.iterdir())


def test_a_files_bytes_and_tag_do_not_depend_on_where_it_starts(tmp_path: Path) -> None:
    """custom_id counts lines within the file, so a re-run holding the same requests from
    another input index builds the same file and finds its batch by the tag."""
    parts = JsonlParts(max_requests=2, directory=str(tmp_path))
    for index in range(5):
        parts.add(index, encode_line(str(index), {"q": "same"}), ("qwen3-vl-flash", False))
    done = parts.finish()
    second = Path(done[1].path).read_bytes()
    assert [json.loads(line)["custom_id"] for line in second.splitlines()] == ["0", "1"]
    assert done[1].tag == done[0].tag == hashlib.sha256(second).hexdigest()
    assert done[2].tag != done[0].tag
    parts.close()


def _image_body(size: int) -> dict[str, object]:
    data = base64.b64encode(b"\x89PNG" + b"0" * size).decode()
    return {
        "model": "qwen3-vl-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}}
                ],
            }
        ],
    }


def test_data_uri_inline_when_the_line_fits() -> None:
    calls: list[tuple[int, str]] = []
    hook = lambda data, mime: calls.append((len(data), mime)) or "https://h/x.png"  # noqa: E731
    line = fit_line("0", _image_body(100), index=0, max_line_bytes=10_000, media_url=hook,
                    inline_images=True)  # fmt: skip
    assert b"data:image/png;base64," in line
    assert calls == []


def test_hook_used_when_the_line_does_not_fit() -> None:
    calls: list[tuple[int, str]] = []

    def hook(data: bytes, mime: str) -> str:
        calls.append((len(data), mime))
        return "https://files.example/p.png"

    line = fit_line("0", _image_body(5000), index=0, max_line_bytes=2000, media_url=hook,
                    inline_images=True)  # fmt: skip
    body = json.loads(line)["body"]
    assert body["messages"][0]["content"][0]["image_url"]["url"] == "https://files.example/p.png"
    assert calls == [(5004, "image/png")]


def test_too_long_without_hook_names_the_hook() -> None:
    with pytest.raises(QwenVLInputError, match=r"inputs\[3\].*media_url"):
        fit_line("3", _image_body(5000), index=3, max_line_bytes=2000, media_url=None,
                 inline_images=True)  # fmt: skip


def test_job_id_round_trip_and_refusal() -> None:
    subs = [SubJob("batch_a-1", 0, 2), SubJob("batch_b", 2, 3)]
    assert encode_job_id(subs).startswith("qvlb2:")
    assert decode_job_id(encode_job_id(subs)) == subs
    # ids of earlier versions numbered lines by input index: still read, and kept as they were
    old = "qvlb1:batch_a-1@0+2,batch_b@2+3"
    assert decode_job_id(old) == [SubJob("batch_a-1", 0, 2, 0), SubJob("batch_b", 2, 3, 2)]
    assert encode_job_id(decode_job_id(old)) == old
    with pytest.raises(QwenVLInputError, match="job_id='batch_x'"):
        decode_job_id("batch_x")


def test_aggregate_status() -> None:
    assert aggregate_status(["completed", "in_progress", "validating"]) == "validating"
    assert aggregate_status(["completed", "completed"]) == "completed"
    assert aggregate_status(["completed", "cancelled"]) == "cancelled"
    assert aggregate_status(["completed", None]) is None


def test_region_and_model_refused_before_anything() -> None:
    with pytest.raises(QwenVLUnsupportedFeatureError, match=r"region='singapore'.*beijing"):
        check_batch_supported(
            "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "qwen3-vl-flash"
        )
    with pytest.raises(QwenVLUnsupportedFeatureError, match=r"model='qwen3\.6-omni'"):
        check_batch_supported("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen3.6-omni")
    check_batch_supported("https://dashscope.aliyuncs.com/compatible-mode/v1", "qwen3-vl-flash")
    check_batch_supported("http://127.0.0.1:8000/compatible-mode/v1", "qwen3-vl-flash-2026-01-22")


def test_submit_in_singapore_fails_before_any_network() -> None:
    # Unit tests run with sockets disabled: reaching the network would raise a different error.
    batch = QwenVLBatch(ChatQwenVL(api_key="sk-test", region="singapore"))
    with pytest.raises(QwenVLUnsupportedFeatureError, match="region='beijing'"):
        batch.submit([[HumanMessage("hi")]])


def test_bad_input_names_its_index_before_any_network() -> None:
    batch = QwenVLBatch(ChatQwenVL(api_key="sk-test", region="beijing"))
    with pytest.raises(QwenVLInputError, match=r"inputs\[1\]"):
        batch.submit(["ok", ("bad", {"temperature": 7})])


def test_options_checked() -> None:
    llm = ChatQwenVL(api_key="sk-test", region="beijing")
    with pytest.raises(QwenVLInputError, match="completion_window='1h'"):
        QwenVLBatch(llm, completion_window="1h")
    with pytest.raises(QwenVLInputError, match="max_line_bytes"):
        QwenVLBatch(llm, max_line_bytes=10**9)
    assert completion_window_hours("14d") == 336
    assert "sk-test" not in repr(QwenVLBatch(llm)) + repr(QwenVLBatch(llm)._http())


def test_service_limits_pinned() -> None:
    """The client's limits and the emulator's own copy, pinned to the documented values."""
    from langchain_qwen_vl import _batch_limits as client
    from langchain_qwen_vl.emulator import _batch_validate as service

    assert client.MAX_REQUESTS_PER_FILE == service.MAX_LINES == 50_000
    assert client.MAX_FILE_BYTES == service.MAX_FILE_BYTES == 500 * 1024 * 1024
    assert client.MAX_LINE_BYTES == service.MAX_LINE_BYTES == 6 * 1024 * 1024
    assert client.WARN_LINE_BYTES == 1024 * 1024
    assert client.MAX_CUSTOM_ID_CHARS == service.MAX_CUSTOM_ID == 256
    assert client.CHAT_ENDPOINT == "/v1/chat/completions"
    assert service.ENDPOINTS == ("/v1/chat/completions", "/v1/embeddings", "/v1/chat/ds-test")
    assert client.BATCH_PRICE_RATIO == 0.5
    assert client.BATCH_REGIONS == ("beijing",)
