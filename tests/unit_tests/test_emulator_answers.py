"""The emulator's pure parts: token counts, answers, tool arguments, schema JSON, SSE chunks.

No sockets here (the unit-test conftest forbids them); the HTTP side is covered by
``tests/integration_tests/test_emulator.py``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import pytest
from PIL import Image

from langchain_qwen_vl.emulator._agent import plan_tool_calls, tools_to_call
from langchain_qwen_vl.emulator._answers import (
    LABEL,
    MESSAGE_OVERHEAD_TOKENS,
    Answer,
    apply_stop,
    build_answer,
    count_text_tokens,
    describe_media,
    image_facts,
    prompt_text_tokens,
    split_pieces,
    truncate_to_tokens,
)
from langchain_qwen_vl.emulator._errors import ServiceError
from langchain_qwen_vl.emulator._faults import plan_faults, split_faults
from langchain_qwen_vl.emulator._images import (
    ColourShare,
    colour_name,
    decode_image,
    dominant_colours,
    is_loopback_host,
)
from langchain_qwen_vl.emulator._responses import completion_body, stream_chunks
from langchain_qwen_vl.emulator._tools import (
    PromptValues,
    build_arguments,
    mentioned_tools,
    value_for_schema,
)
from langchain_qwen_vl.emulator._validation import ChatRequest, parse_request
from langchain_qwen_vl.emulator._video import video_facts

MODEL = "qwen3-vl-flash"


def _chat(messages: list[dict[str, Any]], **extra: Any) -> ChatRequest:
    return parse_request({"model": MODEL, "messages": messages, **extra})


def _user(text: str, **extra: Any) -> ChatRequest:
    return _chat([{"role": "user", "content": text}], **extra)


def _png(width: int, height: int, colour: tuple[int, int, int] = (208, 32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def schema_errors(
    value: Any, schema: Mapping[str, Any], root: Mapping[str, Any] | None = None
) -> list[str]:
    """A small JSON-schema check (the subset the emulator claims to honour); [] when valid."""
    root = root or schema
    if "$ref" in schema:
        target: Any = root
        for key in str(schema["$ref"])[2:].split("/"):
            target = target[key]
        return schema_errors(value, target, root)
    if "anyOf" in schema:
        options = [schema_errors(value, option, root) for option in schema["anyOf"]]
        return [] if any(not errors for errors in options) else [f"{value!r} matches no anyOf"]
    if "enum" in schema and value not in schema["enum"]:
        return [f"{value!r} not in enum"]
    if "const" in schema and value != schema["const"]:
        return [f"{value!r} != const"]
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
        "null": lambda v: v is None,
    }
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(checks[k](value) for k in kinds):
        return [f"{value!r} is not {kind}"]
    errors: list[str] = []
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        errors += [f"missing {name}" for name in schema.get("required", []) if name not in value]
        if schema.get("additionalProperties") is False:
            errors += [f"extra {name}" for name in value if name not in properties]
        for name, item in value.items():
            if name in properties:
                errors += schema_errors(item, properties[name], root)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append("too few items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append("too many items")
        for item in value:
            errors += schema_errors(item, schema.get("items", {}), root)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{value} < minimum")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{value} > maximum")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        errors.append("too long")
    return errors


# --- token counts ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("What is in this image?", 6), ("图片", 2)],
)
def test_text_tokens_are_utf8_bytes_over_four_rounded_up(text: str, tokens: int) -> None:
    assert count_text_tokens(text) == tokens


def test_prompt_text_tokens_count_each_part_plus_overhead_per_message() -> None:
    request = _chat(
        [
            {"role": "system", "content": "Be brief."},  # 9 bytes -> 3
            {"role": "user", "content": [{"type": "text", "text": "What is in this image?"}]},  # 6
        ]
    )
    assert prompt_text_tokens(request) == 3 + 6 + 2 * MESSAGE_OVERHEAD_TOKENS


@pytest.mark.parametrize(
    ("size", "budget", "seen", "tokens"),
    [
        # 640x480: both sides are multiples of 32 -> 20*15 patches + 2.
        ((640, 480), {}, (640, 480), 302),
        # 4032x3024 at the default cap: beta = sqrt(12192768/2621440); floor to 58x43 patches.
        ((4032, 3024), {}, (1856, 1376), 58 * 43 + 2),
        # vl_high_resolution_images: cap 16,777,216; round(94.5)=94 (halves to even) -> 126x94.
        ((4032, 3024), {"vl_high_resolution_images": True}, (4032, 3008), 126 * 94 + 2),
        # Per-image max_pixels 1,000,000: beta = 3.4918 -> 36x27 patches.
        ((4032, 3024), {"max_pixels": 1_000_000}, (1152, 864), 36 * 27 + 2),
        # vl_high_resolution_images ignores a per-image max_pixels.
        (
            (4032, 3024),
            {"max_pixels": 1_000_000, "vl_high_resolution_images": True},
            (4032, 3008),
            11846,
        ),
        # 30x20 is under min_pixels (4096): scaled up, ceil -> 3x2 patches.
        ((30, 20), {}, (96, 64), 3 * 2 + 2),
    ],
)
def test_image_tokens_follow_the_documented_formula(
    size: tuple[int, int], budget: dict[str, Any], seen: tuple[int, int], tokens: int
) -> None:
    options = {"max_pixels": None, "min_pixels": None, "vl_high_resolution_images": False}
    facts = image_facts(*size, **{**options, **budget})
    assert (facts.seen_width, facts.seen_height) == seen
    assert facts.tokens == tokens


def test_video_tokens_use_half_the_frames_and_the_per_frame_cap() -> None:
    assert video_facts(4, 640, 480).tokens == 2 * 20 * 15 + 2
    # 1280x720 exceeds 640*32*32 per frame: beta = sqrt(921600/655360) -> 33x18 patches.
    hd = video_facts(8, 1280, 720)
    assert (hd.seen_width, hd.seen_height, hd.tokens) == (1056, 576, 4 * 33 * 18 + 2)
    assert video_facts(5, 640, 480).tokens == 3 * 20 * 15 + 2


# --- images: decoding and colours ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("rgb", "name"),
    [
        ((208, 32, 32), "red"),
        ((32, 64, 192), "blue"),
        ((20, 160, 40), "green"),
        ((250, 250, 250), "white"),
        ((5, 5, 5), "black"),
        ((128, 128, 128), "grey"),
        ((250, 220, 30), "yellow"),
        ((240, 140, 20), "orange"),
        ((120, 70, 20), "brown"),
        ((130, 40, 180), "purple"),
        ((250, 170, 190), "pink"),
        ((20, 200, 210), "cyan"),
    ],
)
def test_colour_names_are_plain_words(rgb: tuple[int, int, int], name: str) -> None:
    assert colour_name(*rgb) == name


def test_dominant_colours_report_shares_and_mean_hex() -> None:
    image = Image.new("RGB", (50, 20), (32, 64, 192))
    image.paste((208, 32, 32), (0, 0, 30, 20))  # left 60% red
    assert dominant_colours(image) == (
        ColourShare("red", "#d02020", 60),
        ColourShare("blue", "#2040c0", 40),
    )


def test_transparent_pixels_count_as_white() -> None:
    image = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    assert [c.name for c in dominant_colours(image)] == ["white"]


def test_decode_image_measures_a_png() -> None:
    decoded = decode_image(_png(64, 48))
    assert (decoded.width, decoded.height, decoded.format) == (64, 48, "PNG")
    assert decoded.colours[0].name == "red"


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"not an image at all", "The image format is illegal"),
        (_png(10, 50), "[height:50 or width:10 must be larger than 10]"),
        (_png(2300, 11), "aspect ratio"),
    ],
)
def test_decode_image_refuses_what_the_service_refuses(data: bytes, fragment: str) -> None:
    with pytest.raises(ServiceError) as caught:
        decode_image(data)
    assert caught.value.status == 400
    assert caught.value.message.startswith("<400> InternalError.Algo.InvalidParameter: ")
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.8.9.1", True), ("localhost", True), ("[::1]", True),
     ("::1", True), ("10.0.0.1", False), ("example.com", False), ("0.0.0.0", False), (None, False)],
)  # fmt: skip
def test_only_loopback_hosts_count_as_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback


# --- answer wording and limits ---------------------------------------------------------------


def test_free_text_answer_matches_the_documented_example() -> None:
    facts = image_facts(
        640,
        480,
        max_pixels=None,
        min_pixels=None,
        vl_high_resolution_images=False,
        colours=(ColourShare("red", "#d02020", 60), ColourShare("blue", "#2040c0", 35)),
    )
    answer = build_answer(_user("What is in this image?"), [facts])
    assert answer.content == (
        "[emulator] 1 image received. Image 1: 640×480 px (model sees 640×480, 302 tokens); "
        'dominant colours: red (#d02020) 60%, blue (#2040c0) 35%. You asked: "What is in this '
        'image?"'
    )
    assert answer.finish_reason == "stop"
    assert answer.completion_tokens == count_text_tokens(answer.content)


def test_remote_images_are_reported_as_not_fetched() -> None:
    facts = image_facts(
        1024,
        768,
        max_pixels=None,
        min_pixels=None,
        vl_high_resolution_images=False,
        fetched=False,
        url="https://example.com/cat.png",
    )
    assert describe_media([facts]) == (
        "1 image received. Image 1: not fetched (remote URL https://example.com/cat.png), "
        "nominal 1024×768 px (model sees 1024×768, 770 tokens)."
    )


def test_text_only_answer_echoes_the_question() -> None:
    assert build_answer(_user("Hello   there\nfriend"), []).content == (
        '[emulator] No images received. You asked: "Hello there friend"'
    )


def test_answers_are_deterministic_whatever_seed_and_temperature() -> None:
    first = build_answer(_user("Hi", seed=1, temperature=0.1), [])
    second = build_answer(_user("Hi", seed=2, temperature=1.9), [])
    assert first == second


def test_stop_cuts_before_the_first_occurrence() -> None:
    assert apply_stop("[emulator] a. b.", [" b", "."]) == ("[emulator] a", True)
    assert apply_stop("abc", ["x"]) == ("abc", False)
    answer = build_answer(_user("Hello", stop=["received"]), [])
    assert (answer.content, answer.finish_reason) == ("[emulator] No images ", "stop")


def test_max_tokens_truncates_with_finish_reason_length() -> None:
    assert truncate_to_tokens("abcdefghij", 2) == ("abcdefgh", True)
    assert truncate_to_tokens("abc", 2) == ("abc", False)
    assert truncate_to_tokens("ééé", 1) == ("éé", True)  # never splits a character
    answer = build_answer(_user("Hello", max_tokens=3), [])
    assert (answer.content, answer.finish_reason) == ("[emulator] N", "length")
    assert answer.completion_tokens == 3


def test_thinking_is_labelled_capped_and_counted_in_completion_tokens() -> None:
    answer = build_answer(_user("Hello", enable_thinking=True), [])
    assert answer.reasoning is not None
    assert answer.reasoning.startswith("[emulator] thinking: ")
    assert "Hello" in answer.reasoning
    assert answer.completion_tokens == answer.reasoning_tokens + count_text_tokens(answer.content)
    assert answer.usage()["completion_tokens_details"] == {
        "reasoning_tokens": answer.reasoning_tokens
    }
    capped = build_answer(_user("Hello", enable_thinking=True, thinking_budget=4), [])
    assert capped.reasoning == "[emulator] think"
    assert capped.reasoning_tokens == 4


def test_usage_without_thinking_has_no_completion_details() -> None:
    usage = build_answer(_user("Hello"), []).usage()
    assert "completion_tokens_details" not in usage
    assert usage["prompt_tokens_details"] == {
        "text_tokens": 2 + MESSAGE_OVERHEAD_TOKENS,
        "image_tokens": 0,
    }
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_split_pieces_are_word_sized_and_lossless() -> None:
    text = '[emulator] 1 image  received.\nYou asked: "x" '
    pieces = split_pieces(text)
    assert "".join(pieces) == text
    assert pieces[:3] == ["[emulator]", " 1", " image"]


# --- response_format --------------------------------------------------------------------------


def test_json_object_answer_is_a_json_object() -> None:
    answer = build_answer(_user("Answer in JSON", response_format={"type": "json_object"}), [])
    decoded = json.loads(answer.content)
    assert decoded["answer"].startswith(LABEL)


def test_json_object_uses_keys_quoted_in_the_prompt() -> None:
    prompt = (
        "Tell me a joke about cats. Return the result as a JSON with 'setup' and 'punchline' "
        "keys. Return nothing other than JSON."
    )
    answer = build_answer(_user(prompt, response_format={"type": "json_object"}), [])
    assert json.loads(answer.content) == {"setup": "cats", "punchline": "emulated punchline"}


def test_json_schema_answer_validates_and_uses_prompt_values_and_image_facts() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer", "minimum": 1, "maximum": 7},
            "width": {"type": "integer"},
            "colours": {"type": "array", "items": {"type": "string"}},
            "mood": {"type": "string", "enum": ["calm", "busy"]},
            "note": {"type": ["string", "null"]},
        },
        "required": ["city", "days", "width", "colours", "mood", "note"],
        "additionalProperties": False,
    }
    request = _user(
        "Plan 30 days in Paris, busy please",
        response_format={"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}},
    )
    facts = image_facts(
        640, 480, max_pixels=None, min_pixels=None, vl_high_resolution_images=False,
        colours=(ColourShare("red", "#d02020", 60), ColourShare("blue", "#2040c0", 40)),
    )  # fmt: skip
    value = json.loads(build_answer(request, [facts]).content)
    assert schema_errors(value, schema) == []
    assert value == {
        "city": "Paris",
        "days": 7,  # 30 found, clamped to the maximum
        "width": 640,
        "colours": ["red", "blue"],
        "mood": "busy",
        "note": "emulated note",
    }


def test_value_for_schema_follows_refs_anyof_and_nesting() -> None:
    schema = {
        "$defs": {
            "Point": {
                "type": "object",
                "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                "required": ["x", "y"],
            }
        },
        "type": "object",
        "properties": {
            "points": {"type": "array", "items": {"$ref": "#/$defs/Point"}, "minItems": 2},
            "label": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 5}]},
            "flag": {"type": "boolean"},
            "kind": {"const": "box"},
            "when": {"type": "string", "format": "date"},
            "optional": {"type": "string"},
        },
        "required": ["points", "label", "flag", "kind", "when"],
    }
    value = value_for_schema(schema, text="points 1.5 and 2, 3, 4; label: 'Garden shed'")
    assert schema_errors(value, schema) == []
    assert value == {
        "points": [{"x": 1.5, "y": 2}, {"x": 3, "y": 4}],
        "label": "Garde",
        "flag": True,
        "kind": "box",
        "when": "2026-01-22",
    }


def test_value_for_schema_uses_placeholders_when_the_prompt_has_nothing() -> None:
    schema = {
        "type": "object",
        "properties": {"setup": {"type": "string"}, "rating": {"type": "integer"}},
        "required": ["setup", "rating"],
    }
    assert value_for_schema(schema, text="tell me something") == {
        "setup": "emulated setup",
        "rating": 1,
    }


# --- tools --------------------------------------------------------------------------------


def _tool(name: str, properties: dict[str, Any] | None = None) -> dict[str, Any]:
    props = properties or {}
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": f"the {name} tool",
            "parameters": {"type": "object", "properties": props, "required": list(props)},
        },
    }


WEATHER = _tool("get_weather", {"city": {"type": "string"}, "days": {"type": "integer"}})
CLOCK = _tool("get_time", {"zone": {"type": "string"}})


def test_prompt_values_come_in_order_of_appearance() -> None:
    values = PromptValues('Weather in Paris for 3 days, units: "metric"')
    assert values.next_string() == "metric"  # quoted phrases first
    assert values.next_string() == "Paris"  # "Weather" only starts the sentence
    assert values.next_number() == 3
    assert values.explicit("units") == "metric"


def test_tool_names_are_matched_as_whole_words_in_order() -> None:
    names = ["get_weather", "get_time", "get"]
    assert mentioned_tools("call get_time, then get_weather", names) == ["get_time", "get_weather"]
    assert mentioned_tools("forget it", names) == []


def test_build_arguments_fills_required_fields_from_the_prompt() -> None:
    parameters = WEATHER["function"]["parameters"]
    assert build_arguments(parameters, "weather in Paris for 3 days", exclude=["get_weather"]) == {
        "city": "Paris",
        "days": 3,
    }
    magic = {"type": "object", "properties": {"input": {"type": "integer"}}, "required": ["input"]}
    assert build_arguments(magic, "What is the value of magic_function(3)? Use the tool.") == {
        "input": 3
    }


@pytest.mark.parametrize(
    ("text", "extra", "called"),
    [
        ("Hello there, how are you?", {}, []),
        ("What is the weather in Paris?", {}, ["get_weather"]),  # topic words of the name
        ("What time is it in Paris?", {}, ["get_time"]),
        ("Use get_weather for Paris", {}, ["get_weather"]),
        ("Use get_weather for Paris", {"tool_choice": "none"}, []),
        ("Use get_time and get_weather", {}, ["get_time"]),
        (
            "Use get_time and get_weather",
            {"parallel_tool_calls": True},
            ["get_time", "get_weather"],
        ),
        (
            "hello",
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            ["get_time"],
        ),
    ],
)
def test_which_tools_get_called(text: str, extra: dict[str, Any], called: list[str]) -> None:
    request = _user(text, tools=[WEATHER, CLOCK], **extra)
    assert [f["name"] for f in tools_to_call(request)] == called


def test_use_the_tool_calls_the_only_tool() -> None:
    assert [f["name"] for f in tools_to_call(_user("Please use the tool", tools=[CLOCK]))] == [
        "get_time"
    ]
    assert tools_to_call(_user("Please use the tool", tools=[CLOCK, WEATHER])) == []
    pirate = _user("Using the tool, generate a Pirate greeting.", tools=[CLOCK])
    assert [f["name"] for f in tools_to_call(pirate)] == ["get_time"]


def test_a_tool_result_is_reported_never_called_again() -> None:
    request = _chat(
        [
            {"role": "user", "content": "Use get_time"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "12:00 UTC"},
        ],
        tools=[CLOCK],
    )
    assert plan_tool_calls(request) == ()
    answer = build_answer(request, [])
    assert answer.content == "[emulator] The tool returned: 12:00 UTC"


def test_tool_call_answer_has_empty_content_and_valid_arguments() -> None:
    answer = build_answer(_user("Use get_weather for Paris, 2 days", tools=[WEATHER]), [])
    assert (answer.content, answer.finish_reason) == ("", "tool_calls")
    (call,) = answer.tool_calls
    assert call.id.startswith("call_")
    arguments = json.loads(call.arguments)
    assert arguments == {"city": "Paris", "days": 2}
    assert schema_errors(arguments, WEATHER["function"]["parameters"]) == []


# --- wire shapes ------------------------------------------------------------------------------


def _chunks(answer: Answer, *, include_usage: bool, repeat_ids: bool = False) -> list[Any]:
    return stream_chunks(
        answer,
        completion_id="chatcmpl-x",
        created=1,
        model=MODEL,
        include_usage=include_usage,
        repeat_ids=repeat_ids,
    )


def test_completion_body_has_the_recorded_keys() -> None:
    body = completion_body(
        build_answer(_user("Hi"), []), completion_id="chatcmpl-x", created=1, model=MODEL
    )
    assert list(body) == [
        "choices", "object", "usage", "created", "system_fingerprint", "model", "id",
    ]  # fmt: skip
    assert body["choices"][0]["logprobs"] is None
    assert body["choices"][0]["message"]["role"] == "assistant"


def test_stream_chunks_put_the_last_text_on_the_finish_chunk() -> None:
    answer = build_answer(_user("Hi"), [])
    chunks = _chunks(answer, include_usage=True)
    first, *middle, finish, usage = chunks
    assert first["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"]["content"] == ' "Hi"'
    text = "".join(c["choices"][0]["delta"]["content"] for c in [first, *middle, finish])
    assert text == answer.content
    assert usage["choices"] == []
    assert usage["usage"] == answer.usage()
    assert all(c["usage"] is None for c in chunks[:-1])
    no_usage = _chunks(answer, include_usage=False)
    assert no_usage == chunks[:-1]


def test_streamed_thinking_comes_before_content() -> None:
    answer = build_answer(_user("Hi", enable_thinking=True), [])
    deltas = [c["choices"][0]["delta"] for c in _chunks(answer, include_usage=False)]
    kinds = ["reasoning" if d.get("reasoning_content") else "content" for d in deltas[1:]]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == answer.reasoning
    assert "".join(d.get("content") or "" for d in deltas) == answer.content


@pytest.mark.parametrize("repeat_ids", [False, True])
def test_streamed_tool_calls_are_fragments(repeat_ids: bool) -> None:
    answer = build_answer(
        _user(
            "Use get_weather and get_time for Paris",
            tools=[WEATHER, CLOCK],
            parallel_tool_calls=True,
        ),
        [],
    )
    chunks = _chunks(answer, include_usage=False, repeat_ids=repeat_ids)
    fragments = [f for c in chunks for f in c["choices"][0]["delta"].get("tool_calls", [])]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"][0]["delta"]["tool_calls"]  # the last fragment rides on it
    for index, call in enumerate(answer.tool_calls):
        mine = [f for f in fragments if f["index"] == index]
        assert len(mine) > 2
        assert mine[0]["id"] == call.id
        assert mine[0]["function"]["name"] == call.name
        assert "".join(f["function"]["arguments"] for f in mine) == call.arguments
        later = mine[1:]
        if repeat_ids:
            assert all(f["id"] == call.id and f["function"]["name"] == call.name for f in later)
        else:
            assert all(
                set(f) == {"index", "function"} and set(f["function"]) == {"arguments"}
                for f in later
            )


# --- faults -----------------------------------------------------------------------------------


def test_fault_words_are_checked_and_merged() -> None:
    assert split_faults(" slow:200 , 429:0,truncate") == ["slow:200", "429:0", "truncate"]
    plan = plan_faults(["slow:200", "429:0", "truncate", "repeat-id"])
    assert (plan.status, plan.retry_after, plan.slow_ms, plan.truncate, plan.repeat_id) == (
        429, "0", 200, True, True,
    )  # fmt: skip
    assert plan_faults(["429:none"]).retry_after is None
    assert plan_faults(["500"]).status == 500
    assert plan_faults(["reset"]).reset
    with pytest.raises(ValueError, match="unknown emulator fault 'teapot'"):
        split_faults("slow:1, teapot")


# --- request checks that need no I/O ---------------------------------------------------------


def test_parse_request_picks_the_shape_from_the_body() -> None:
    assert _user("x").shape == "chat_completions"
    request = parse_request({"model": MODEL, "images": ["https://x.test/a.png"], "prompt": "What?"})
    assert request.shape == "images_prompt"
    assert request.last_user_text == "What?"
    assert [ref.url for ref in request.images] == ["https://x.test/a.png"]


def test_per_image_pixel_budget_is_read_beside_image_url() -> None:
    request = _chat(
        [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png"},
                     "max_pixels": 1_000_000, "min_pixels": 8192},
                ],
            }
        ]
    )  # fmt: skip
    assert (request.images[0].max_pixels, request.images[0].min_pixels) == (1_000_000, 8192)
