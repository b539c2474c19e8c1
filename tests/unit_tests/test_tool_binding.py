"""bind_tools, tool_choice and with_structured_output without a network."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl._tool_binding import resolve_tool_choice
from langchain_qwen_vl.errors import QwenVLUnsupportedFeatureError


class Weather(BaseModel):
    """Weather at a location."""

    location: str = Field(description="City name")
    celsius: int


class WeatherDict(TypedDict):
    """Weather at a location."""

    location: str
    celsius: int


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def _model(**kwargs: Any) -> ChatQwenVL:
    kwargs.setdefault("api_key", "sk-test")
    return ChatQwenVL(**kwargs)


def _payload(runnable: Any, text: str = "hi") -> dict[str, Any]:
    """The request body a bound runnable would send (built, not sent)."""
    model = runnable.bound
    assert isinstance(model, ChatQwenVL)
    return model._build_payload([HumanMessage(text)], **runnable.kwargs)


def test_tools_are_sent_in_openai_function_format() -> None:
    body = _payload(_model().bind_tools([add, Weather, WeatherDict]))
    names = [t["function"]["name"] for t in body["tools"]]
    assert names == ["add", "Weather", "WeatherDict"]
    assert body["tools"][0]["function"]["parameters"]["required"] == ["a", "b"]
    assert "tool_choice" not in body


@pytest.mark.parametrize("choice", ["any", "required", True])
def test_any_forces_the_single_bound_tool(choice: Any) -> None:
    body = _payload(_model().bind_tools([add], tool_choice=choice))
    assert body["tool_choice"] == {"type": "function", "function": {"name": "add"}}


def test_any_with_several_tools_is_refused_before_sending() -> None:
    bound = _model().bind_tools([add, multiply], tool_choice="any")
    with pytest.raises(QwenVLUnsupportedFeatureError, match="no 'required' mode"):
        _payload(bound)


def test_named_auto_none_and_dict_choices() -> None:
    assert _payload(_model().bind_tools([add, multiply], tool_choice="multiply"))[
        "tool_choice"
    ] == {"type": "function", "function": {"name": "multiply"}}
    assert _payload(_model().bind_tools([add], tool_choice="auto"))["tool_choice"] == "auto"
    assert _payload(_model().bind_tools([add], tool_choice="none"))["tool_choice"] == "none"
    choice = {"type": "function", "function": {"name": "add"}}
    assert _payload(_model().bind_tools([add], tool_choice=choice))["tool_choice"] == choice
    with pytest.raises(QwenVLUnsupportedFeatureError, match="no bound tool"):
        _model().bind_tools([add], tool_choice="divide")


def test_forcing_a_tool_while_thinking_is_refused_up_front() -> None:
    with pytest.raises(QwenVLUnsupportedFeatureError, match="while thinking"):
        _model(enable_thinking=True).bind_tools([add], tool_choice="add")
    bound = _model().bind_tools([add], tool_choice="add")
    with pytest.raises(QwenVLUnsupportedFeatureError, match="while thinking"):
        bound.invoke("hi", enable_thinking=True)  # refused before any request


def test_parallel_tool_calls_and_instance_not_mutated() -> None:
    model = _model()
    body = _payload(model.bind_tools([add, multiply], parallel_tool_calls=False))
    assert body["parallel_tool_calls"] is False
    assert "tools" not in model._build_payload([HumanMessage("hi")])


def test_bind_tools_accepts_create_agent_response_format() -> None:
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": "Weather", "schema": Weather.model_json_schema()},
    }
    body = _payload(_model().bind_tools([add], response_format=response_format, strict=True))
    assert body["response_format"] == response_format
    assert body["tools"][0]["function"]["strict"] is True


def test_images_prompt_refuses_tools() -> None:
    with pytest.raises(QwenVLUnsupportedFeatureError, match="chat_completions"):
        _model(wire_format="images_prompt").bind_tools([add])


def test_resolve_tool_choice_error_names_the_tools() -> None:
    tools = [{"type": "function", "function": {"name": n}} for n in ("a", "b")]
    with pytest.raises(QwenVLUnsupportedFeatureError, match=r"\(a, b\)"):
        resolve_tool_choice("any", tools)


# --- structured output through a mocked service -----------------------------------------


def _answering(
    content: str | None, tool_args: str | None = None
) -> tuple[ChatQwenVL, list[dict[str, Any]]]:
    """A model whose service always gives this answer; the list collects the sent bodies."""
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if tool_args is not None:
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "Weather", "arguments": tool_args},
                }
            ]
        return httpx.Response(
            200,
            json={
                "id": "c",
                "model": "qwen3-vl-flash",
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
            },
        )

    return _model(http_client=httpx.Client(transport=httpx.MockTransport(handler))), seen


def test_json_schema_method_is_the_default_and_parses_pydantic() -> None:
    model, seen = _answering('{"location": "Paris", "celsius": 21}')
    result = model.with_structured_output(Weather).invoke("weather in Paris")
    assert result == Weather(location="Paris", celsius=21)
    sent = seen[0]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["name"] == "Weather"
    assert "ls_structured_output_format" not in sent


def test_typed_dict_and_json_schema_dicts() -> None:
    model, _seen = _answering('{"location": "Rome", "celsius": 30}')
    assert model.with_structured_output(WeatherDict).invoke("x") == {
        "location": "Rome",
        "celsius": 30,
    }
    schema = {"title": "weather", "type": "object", "properties": {"location": {"type": "string"}}}
    assert model.with_structured_output(schema).invoke("x")["location"] == "Rome"  # type: ignore[index]


def test_function_calling_method_forces_the_schema_tool() -> None:
    model, seen = _answering("", tool_args='{"location": "Oslo", "celsius": -3}')
    result = model.with_structured_output(Weather, method="function_calling").invoke("x")
    assert result == Weather(location="Oslo", celsius=-3)
    sent = seen[0]
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}


def test_json_mode_sends_json_object() -> None:
    model, seen = _answering('{"location": "Lima", "celsius": 18}')
    assert model.with_structured_output(None, method="json_mode").invoke("answer in json") == {
        "location": "Lima",
        "celsius": 18,
    }
    assert seen[0]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("method", ["function_calling", "json_mode"])
def test_methods_refused_while_thinking_raise_instead_of_disabling_it(method: Any) -> None:
    model = _model(enable_thinking=True)
    with pytest.raises(QwenVLUnsupportedFeatureError, match="enable_thinking"):
        model.with_structured_output(Weather, method=method)
    assert model.enable_thinking is True
    assert model.with_structured_output(Weather) is not None  # json_schema works with thinking


def test_invalid_output_raises_parser_error_with_raw_text() -> None:
    model, _seen = _answering('{"location": "Paris"}')
    with pytest.raises(OutputParserException) as info:
        model.with_structured_output(Weather).invoke("x")
    assert info.value.llm_output == '{"location": "Paris"}'


def test_include_raw_keeps_the_message_and_the_error() -> None:
    model, _seen = _answering("not json at all")
    result = model.with_structured_output(Weather, include_raw=True).invoke("x")
    assert isinstance(result, dict)
    assert result["raw"].content == "not json at all"
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], OutputParserException)
