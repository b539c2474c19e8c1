"""ChatQwenVL without a network: configuration, request bodies, and a mocked round trip."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from PIL import Image
from pydantic import SecretStr, ValidationError

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.errors import (
    QwenVLAuthenticationError,
    QwenVLImageError,
    QwenVLInputError,
    QwenVLUnsupportedFeatureError,
)

URL = "https://example.test/cat.png"


def _model(**kwargs: Any) -> ChatQwenVL:
    kwargs.setdefault("api_key", "sk-test")
    return ChatQwenVL(**kwargs)


def _png_bytes(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def _image_message(url: str = URL) -> HumanMessage:
    return HumanMessage(content=[{"type": "text", "text": "What?"}, {"type": "image", "url": url}])


# --- configuration --------------------------------------------------------------------


def test_defaults_and_region_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_BASE_URL", raising=False)
    assert _model().resolved_base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    assert _model(region="beijing").resolved_base_url.startswith("https://dashscope.aliyuncs.com")
    assert "dashscope-us" in _model(region="virginia").resolved_base_url
    assert "cn-hongkong" in _model(region="hongkong").resolved_base_url
    assert _model().model == "qwen3-vl-flash"


def test_env_vars(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-from-env")
    monkeypatch.setenv("DASHSCOPE_BASE_URL", "https://proxy.test/v1/")
    model = ChatQwenVL()
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == "sk-from-env"
    assert model.resolved_base_url == "https://proxy.test/v1"


def test_secret_never_shows() -> None:
    model = _model(api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(model)
    assert "sk-very-secret" not in str(model.model_dump())
    assert "sk-very-secret" not in model.model_dump_json()


def test_plain_http_refused_off_loopback_unless_opted_in() -> None:
    with pytest.raises(ValidationError, match="clear text"):
        _model(base_url="http://proxy.example.com/v1")
    assert _model(base_url="http://127.0.0.1:9/v1").resolved_base_url == "http://127.0.0.1:9/v1"
    assert _model(base_url="http://localhost:9/v1/chat/completions").resolved_base_url == (
        "http://localhost:9/v1"
    )
    opted = _model(base_url="http://proxy.example.com/v1", allow_insecure_http=True)
    assert opted.resolved_base_url == "http://proxy.example.com/v1"


@pytest.mark.parametrize(
    ("field", "value"),
    [("temperature", 2.0), ("top_p", 0), ("seed", -1), ("max_tokens", 0), ("max_pixels", 10)],
)
def test_field_validation_names_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError, match=field):
        _model(**{field: value})


def test_missing_key_is_a_clear_error_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    model = ChatQwenVL(http_client=httpx.Client(transport=httpx.MockTransport(_never_called)))
    with pytest.raises(QwenVLInputError, match="DASHSCOPE_API_KEY"):
        model.invoke("hi")


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError("no request may be sent")


# --- request bodies ---------------------------------------------------------------------


def test_chat_completions_body_with_fields_and_per_call_override() -> None:
    extra = {"custom_flag": True}
    model = _model(
        temperature=0.3, top_k=20, max_tokens=64, seed=7, enable_thinking=False, extra_body=extra
    )
    body = model._build_payload(
        [SystemMessage("Be brief."), _image_message()], temperature=0.9, stop=["END"]
    )
    assert body == {
        "model": "qwen3-vl-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What?"},
                    {"type": "image_url", "image_url": {"url": URL}},
                ],
            },
        ],
        "temperature": 0.9,
        "top_k": 20,
        "max_tokens": 64,
        "seed": 7,
        "enable_thinking": False,
        "stop": ["END"],
        "custom_flag": True,
    }
    assert model.temperature == 0.3
    assert extra == {"custom_flag": True}


_ANSWER = {
    "id": "chatcmpl-1",
    "model": "qwen3-vl-flash",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}}],
}


def test_fields_assigned_after_a_call_count_on_the_next_call(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=_ANSWER)

    model = ChatQwenVL(
        api_key="sk-one",
        base_url="http://127.0.0.1:9/v1",
        http_client=httpx.Client(transport=httpx.MockTransport(answer)),
    )
    model.invoke("hi")
    model.temperature = 0.4
    model.api_key = SecretStr("sk-two")  # type: ignore[assignment]
    model.base_url = "http://127.0.0.1:9/other"
    model.default_headers = {"X-Team": "vision"}
    model.allowed_dirs = (tmp_path,)
    model.invoke("hi")
    first, second = seen
    assert "temperature" not in json.loads(first.content)
    assert json.loads(second.content)["temperature"] == 0.4
    assert second.headers["authorization"] == "Bearer sk-two"
    assert second.url == "http://127.0.0.1:9/other/chat/completions"
    assert second.headers["x-team"] == "vision"
    with pytest.raises(QwenVLImageError, match="allowed_dirs"):
        model.invoke([HumanMessage([{"type": "image", "url": "/etc/hostname"}])])
    copy = model.model_copy(update={"temperature": 0.9, "max_retries": 0})
    copy.invoke("hi")
    assert json.loads(seen[-1].content)["temperature"] == 0.9
    assert copy._policy().max_retries == 0
    assert model._policy().max_retries == 2
    model.invoke("hi")
    assert json.loads(seen[-1].content)["temperature"] == 0.4


def test_a_value_json_cannot_carry_is_refused_before_sending() -> None:
    model = _model(
        extra_body={"when": object()},
        http_client=httpx.Client(transport=httpx.MockTransport(_never_called)),
    )
    with pytest.raises(QwenVLInputError, match="extra_body"):
        model.invoke("hi")


def test_stream_body_asks_for_usage() -> None:
    body = _model()._build_payload([HumanMessage("hi")], stream=True)
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert "stream_options" not in _model(stream_usage=False)._build_payload(
        [HumanMessage("hi")], stream=True
    )


def test_per_image_pixel_budget_is_a_sibling_of_image_url() -> None:
    message = HumanMessage(
        content=[{"type": "image_url", "image_url": {"url": URL}, "max_pixels": 1_000_000}]
    )
    body = _model(min_pixels=8192)._build_payload([message])
    assert body["messages"][0]["content"] == [
        {
            "type": "image_url",
            "image_url": {"url": URL},
            "max_pixels": 1_000_000,
            "min_pixels": 8192,
        }
    ]


def test_bad_per_call_values_are_refused_before_sending() -> None:
    with pytest.raises(QwenVLInputError, match="temperature"):
        _model()._build_payload([HumanMessage("hi")], temperature=5)
    with pytest.raises(QwenVLInputError, match="temprature"):
        _model()._build_payload([HumanMessage("hi")], temprature=0.5)
    # stop= as LangChain passes it (invoke(..., stop=...)), not only as a bound kwarg.
    model = _model(http_client=httpx.Client(transport=httpx.MockTransport(_never_called)))
    with pytest.raises(QwenVLInputError, match="stop=5"):
        model.invoke("hi", stop=5)  # type: ignore[arg-type]


def test_local_image_becomes_data_uri_and_names_message_index(tmp_path: Path) -> None:
    path = tmp_path / "red.png"
    path.write_bytes(_png_bytes())
    message = HumanMessage(content=[{"type": "image", "path": str(path)}, "What colour?"])
    body = _model()._build_payload([HumanMessage("hello"), message])
    part = body["messages"][1]["content"][0]
    assert part["image_url"]["url"].startswith("data:image/png;base64,")
    raw = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
    assert raw == path.read_bytes()
    missing = HumanMessage(content=[{"type": "image", "path": str(tmp_path / "nope.png")}])
    with pytest.raises(QwenVLImageError, match=r"messages\[1\]\.content\[0\]"):
        _model()._build_payload([HumanMessage("hello"), missing])


def test_ai_tool_calls_and_tool_results_with_images() -> None:
    png = base64.b64encode(_png_bytes()).decode()
    history = [
        HumanMessage("Take a photo."),
        AIMessage(content="", tool_calls=[{"id": "call_1", "name": "camera", "args": {"n": 1}}]),
        ToolMessage(
            content=[
                {"type": "text", "text": "here it is"},
                {"type": "image", "base64": png, "mime_type": "image/png"},
            ],
            tool_call_id="call_1",
        ),
    ]
    messages = _model()._build_payload(history)["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "camera", "arguments": '{"n": 1}'},
            }
        ],
    }
    assert messages[2]["role"] == "tool"
    assert messages[2]["tool_call_id"] == "call_1"
    assert messages[2]["content"].startswith("here it is")
    assert messages[3]["role"] == "user"
    assert messages[3]["content"][0]["text"] == "Image(s) returned by tool call call_1:"
    assert messages[3]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")


def test_reasoning_blocks_of_earlier_turns_are_not_sent_back() -> None:
    earlier = AIMessage(
        content=[{"type": "reasoning", "reasoning": "hmm"}, {"type": "text", "text": "Red."}]
    )
    messages = _model()._build_payload([HumanMessage("Colour?"), earlier, HumanMessage("Sure?")])[
        "messages"
    ]
    assert messages[1] == {"role": "assistant", "content": "Red."}


def test_images_prompt_body_is_exactly_the_documented_shape() -> None:
    model = _model(wire_format="images_prompt", temperature=0.5, enable_thinking=True)
    body = model._build_payload([_image_message()])
    assert body == {
        "model": "qwen3-vl-flash",
        "images": [URL],
        "prompt": "What?",
        "temperature": 0.5,
        "enable_thinking": True,
    }


def test_images_prompt_folds_a_conversation_with_role_labels() -> None:
    model = _model(wire_format="images_prompt")
    body = model._build_payload(
        [
            SystemMessage("You count things."),
            _image_message(),
            AIMessage("A cat."),
            HumanMessage(content=["And this one?", {"type": "image", "url": URL + "?2"}]),
        ]
    )
    assert body["images"] == [URL, URL + "?2"]
    assert body["prompt"] == (
        "System: You count things.\n\nUser: What?\n[image 1]\n\nAssistant: A cat.\n\n"
        "User: And this one?\n[image 2]"
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"seed": 3}, "seed"),
        ({"stop": ["x"]}, "stop"),
        ({"tools": [{"type": "function"}]}, "tools"),
    ],
)
def test_images_prompt_refuses_what_it_cannot_express(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(QwenVLUnsupportedFeatureError, match=f"chat_completions. for {field}"):
        _model(wire_format="images_prompt")._build_payload([_image_message()], **kwargs)


def test_images_prompt_needs_an_image() -> None:
    with pytest.raises(QwenVLUnsupportedFeatureError, match="at least one image"):
        _model(wire_format="images_prompt")._build_payload([HumanMessage("hi")])


# --- a mocked round trip --------------------------------------------------------------


def _mock_model(responses: list[httpx.Response], seen: list[dict[str, Any]]) -> ChatQwenVL:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return responses.pop(0)

    return _model(http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def test_invoke_round_trip_on_a_recorded_body(recorded: Path) -> None:
    body = json.loads((recorded / "compat-nonstream-vl-multi-image.json").read_text())
    seen: list[dict[str, Any]] = []
    model = _mock_model([httpx.Response(200, json=body)], seen)
    answer = model.invoke([_image_message()])
    assert answer.content.startswith("图1")  # type: ignore[union-attr]
    assert seen[0]["messages"][0]["content"][1]["image_url"]["url"] == URL
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["total_tokens"] == 2543


def test_stream_round_trip_on_a_recorded_stream(recorded: Path) -> None:
    raw = (recorded / "compat-stream-text.sse").read_bytes()
    seen: list[dict[str, Any]] = []
    model = _mock_model(
        [httpx.Response(200, headers={"content-type": "text/event-stream"}, content=raw)], seen
    )
    chunks = list(model.stream("Who are you?"))
    assert "".join(str(c.content) for c in chunks).startswith("I am a large-scale")
    assert seen[0]["stream"] is True
    assert sum(1 for c in chunks if c.usage_metadata) == 1


def test_401_round_trip(recorded: Path) -> None:
    seen: list[dict[str, Any]] = []
    model = _mock_model(
        [httpx.Response(401, content=(recorded / "compat-error-401.json").read_bytes())], seen
    )
    with pytest.raises(QwenVLAuthenticationError, match="region"):
        model.invoke("hi")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (
            [
                AIMessage("", tool_calls=[{"name": "f", "args": {}, "id": "c1"}]),
                ToolMessage("done", tool_call_id="c1"),
            ],
            "tool calls and tool results cannot be expressed",
        ),
        (
            [HumanMessage(content=[{"type": "video", "video": ["https://x.test/f.jpg"] * 4}])],
            "video input cannot be expressed",
        ),
    ],
)
def test_images_prompt_refuses_before_any_image_is_read(
    extra: list[Any], needle: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_qwen_vl import media

    def no_preparation(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("images were prepared before the refusal")

    monkeypatch.setattr(media, "prepare_messages", no_preparation)
    llm = ChatQwenVL(api_key="sk-test", wire_format="images_prompt")
    messages = [HumanMessage(content=[{"type": "image", "url": "/no/such/file.png"}]), *extra]
    with pytest.raises(QwenVLUnsupportedFeatureError, match=needle):
        llm._build_payload(messages)
