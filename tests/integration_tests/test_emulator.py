"""The emulator over real HTTP on 127.0.0.1: shapes, validation, media, streaming, tools, faults.

Raw httpx only (no ChatQwenVL), so these tests pin the wire behaviour the client is tested
against. Recorded service bodies live in ``tests/fixtures/dashscope/``.
"""

from __future__ import annotations

import ast
import asyncio
import base64
import functools
import http.server
import io
import json
import math
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from PIL import Image

from langchain_qwen_vl.emulator import EmulatorHandle, run_emulator
from langchain_qwen_vl.emulator.__main__ import main as cli_main

MODEL = "qwen3-vl-flash"
AUTH = {"Authorization": "Bearer sk-emulator-test"}
MAPPED_URL = "https://images.example.com/mapped.png"
MISSING_URL = "https://images.example.com/missing.png"
PREFIX = "<400> InternalError.Algo.InvalidParameter: "


# --- helpers ------------------------------------------------------------------------------------


def png_bytes(width: int, height: int, colour: tuple[int, int, int] = (208, 32, 32)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, "PNG")
    return buffer.getvalue()


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@functools.cache
def big_photo() -> str:
    """A 4032x3024 PNG as a data URI (a 12 MP phone photo's size), built once."""
    return data_uri(png_bytes(4032, 3024))


def red_blue_png() -> bytes:
    """640x480, left three quarters red (#d02020), right quarter blue (#2040c0)."""
    image = Image.new("RGB", (640, 480), (32, 64, 192))
    image.paste((208, 32, 32), (0, 0, 480, 480))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def user(*parts: Any) -> dict[str, Any]:
    content = [{"type": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return {"role": "user", "content": content}


def image_part(url: str, **budget: int) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}, **budget}


def chat_body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages), **extra}


def parse_sse(text: str) -> list[Any]:
    """``data:`` payloads in order; ``[DONE]`` stays a string."""
    events = []
    for block in text.split("\n\n"):
        if block.strip():
            assert block.startswith("data: "), block
            payload = block[len("data: ") :]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


class _ImageHandler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        payload = self.files.get(self.path)
        self.send_response(200 if payload is not None else 404)
        self.send_header("Content-Length", str(len(payload or b"")))
        self.end_headers()
        self.wfile.write(payload or b"")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def image_server() -> Iterator[str]:
    """A tiny HTTP server on 127.0.0.1 serving generated images (the "remote" host)."""
    _ImageHandler.files = {"/green.png": png_bytes(1000, 500, (20, 160, 40))}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ImageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    folder = tmp_path_factory.mktemp("mapped")
    (folder / "mapped.png").write_bytes(png_bytes(320, 240, (250, 220, 30)))
    url_map = {MAPPED_URL: folder / "mapped.png", MISSING_URL: folder / "nope.png"}
    with run_emulator(url_map=url_map) as handle:
        yield handle


@pytest.fixture
def client(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    emu.clear()
    with httpx.Client(base_url=emu.base_url, headers=AUTH, timeout=30) as http_client:
        yield http_client


def post(client: httpx.Client, body: Any, **headers: str) -> httpx.Response:
    return client.post("/chat/completions", json=body, headers=headers)


def content_of(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["choices"][0]["message"]["content"])


# --- basics -------------------------------------------------------------------------------------


def test_base_url_is_loopback_and_health_answers(emu: EmulatorHandle) -> None:
    assert emu.base_url == f"http://127.0.0.1:{emu.port}/compatible-mode/v1"
    assert httpx.get(emu.root_url + "/health").json()["status"] == "ok"


def test_both_routes_answer(emu: EmulatorHandle, client: httpx.Client) -> None:
    body = chat_body(user("Hi"))
    short = httpx.post(emu.root_url + "/chat/completions", json=body, headers=AUTH)
    assert content_of(short) == content_of(post(client, body))


def test_unknown_route_is_a_json_404(emu: EmulatorHandle) -> None:
    response = httpx.post(emu.root_url + "/v1/embeddings", json={}, headers=AUTH)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    wrong_method = httpx.get(emu.base_url + "/chat/completions", headers=AUTH)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer pk-123"},
     {"Authorization": "Bearer sk-bad-key"}, {"Authorization": "Basic sk-123"}],
)  # fmt: skip
def test_bad_keys_get_the_recorded_401(
    emu: EmulatorHandle, recorded: Path, headers: dict[str, str]
) -> None:
    response = httpx.post(
        emu.base_url + "/chat/completions", json=chat_body(user("Hi")), headers=headers
    )
    assert response.status_code == 401
    body = response.json()
    assert isinstance(body.pop("request_id"), str)
    assert body == json.loads((recorded / "compat-error-401.json").read_text())


def test_requests_are_recorded_in_order(emu: EmulatorHandle, client: httpx.Client) -> None:
    post(client, chat_body(user("one")))
    client.post("/chat/completions", content=b"not json")
    post(client, chat_body(user("two")))
    assert [r["messages"][0]["content"][0]["text"] for r in emu.requests] == ["one", "two"]
    assert emu.request_count == 3


def test_importing_the_package_does_not_import_the_server_stack() -> None:
    code = (
        "import sys, langchain_qwen_vl; "
        "print(sorted(m for m in ('starlette', 'uvicorn') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


# --- images, answers and usage ----------------------------------------------------------------


def test_data_uri_image_is_decoded_and_counted(client: httpx.Client) -> None:
    body = chat_body(user(image_part(data_uri(red_blue_png())), "What is in this image?"))
    response = post(client, body)
    content = content_of(response)
    assert content == (
        "[emulator] 1 image received. Image 1: 640×480 px (model sees 640×480, 302 tokens); "
        'dominant colours: red (#d02020) 75%, blue (#2040c0) 25%. You asked: "What is in this '
        'image?"'
    )
    usage = response.json()["usage"]
    # Text: "What is in this image?" = 22 bytes -> 6 tokens, + 3 for the message.
    # Image: 640x480 -> 20*15 patches + 2 = 302.
    assert usage["prompt_tokens_details"] == {"text_tokens": 9, "image_tokens": 302}
    assert usage["prompt_tokens"] == 311
    assert usage["completion_tokens"] == math.ceil(len(content.encode()) / 4)
    assert usage["total_tokens"] == 311 + usage["completion_tokens"]
    assert "completion_tokens_details" not in usage


def test_images_prompt_shape_with_a_loopback_image(client: httpx.Client, image_server: str) -> None:
    body = {"model": MODEL, "images": [image_server + "/green.png"], "prompt": "Describe"}
    response = post(client, body)
    # 1000x500: round(31.25)=31 and round(15.625)=16 patches -> 992x512, 496 + 2 tokens.
    assert content_of(response) == (
        "[emulator] 1 image received. Image 1: 1000×500 px (model sees 992×512, 498 tokens); "
        'dominant colours: green (#14a028) 100%. You asked: "Describe"'
    )
    assert response.json()["usage"]["prompt_tokens"] == 498 + 2 + 3  # "Describe": 8 bytes


def test_mapped_and_remote_urls(client: httpx.Client) -> None:
    body = chat_body(user(image_part(MAPPED_URL), image_part("https://example.com/cat.jpg"), "Hi"))
    response = post(client, body)
    content = content_of(response)
    assert (
        "Image 1: 320×240 px (model sees 320×256, 82 tokens); dominant colours: yellow" in content
    )
    assert (
        "Image 2: not fetched (remote URL https://example.com/cat.jpg), nominal 1024×768 px "
        "(model sees 1024×768, 770 tokens)." in content
    )
    assert response.json()["usage"]["prompt_tokens_details"]["image_tokens"] == 82 + 770


@pytest.mark.parametrize(
    ("budget", "tokens"),
    [
        ({}, 58 * 43 + 2),  # default cap 2,621,440
        ({"max_pixels": 1_000_000}, 36 * 27 + 2),  # per-image cap beside image_url
        ({"vl_high_resolution_images": True}, 126 * 94 + 2),  # cap 16,777,216
    ],
)
def test_pixel_budgets_change_the_token_count(
    client: httpx.Client, budget: dict[str, Any], tokens: int
) -> None:
    big = big_photo()
    part = image_part(big, **{k: v for k, v in budget.items() if k == "max_pixels"})
    top = {k: v for k, v in budget.items() if k != "max_pixels"}
    response = post(client, chat_body(user(part, "x"), **top))
    assert response.json()["usage"]["prompt_tokens_details"]["image_tokens"] == tokens


def test_video_frames_and_video_files_are_counted(client: httpx.Client) -> None:
    frame = data_uri(png_bytes(640, 480))
    frames = {"type": "video", "video": [frame] * 4, "fps": 2}
    file = {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}}
    response = post(client, chat_body(user(frames, file, "What happens?")))
    details = response.json()["usage"]["prompt_tokens_details"]
    # Frames: ceil(4/2) * 20*15 + 2. File: nominal 10 s at 2 fps = 20 frames of 1024x768,
    # capped at 640*32*32 px per frame -> 29x21 patches: 10 * 29*21 + 2.
    assert details == {"text_tokens": 4 + 3, "image_tokens": 0, "video_tokens": 602 + 6092}
    assert "2 videos received. Video 1: 4 frames of 640×480 px" in content_of(response)


def test_max_tokens_and_stop(client: httpx.Client) -> None:
    cut = post(client, chat_body(user("Hello"), max_tokens=3)).json()
    assert cut["choices"][0]["message"]["content"] == "[emulator] N"
    assert cut["choices"][0]["finish_reason"] == "length"
    assert cut["usage"]["completion_tokens"] == 3
    stopped = post(client, chat_body(user("Hello"), stop=["images"])).json()
    assert stopped["choices"][0]["message"]["content"] == "[emulator] No "
    assert stopped["choices"][0]["finish_reason"] == "stop"


def test_thinking_non_stream(client: httpx.Client) -> None:
    response = post(client, chat_body(user("Hello"), enable_thinking=True, thinking_budget=50))
    message = response.json()["choices"][0]["message"]
    assert message["reasoning_content"].startswith("[emulator] thinking: ")
    usage = response.json()["usage"]
    reasoning = usage["completion_tokens_details"]["reasoning_tokens"]
    assert 0 < reasoning <= 50
    assert usage["completion_tokens"] == reasoning + math.ceil(len(message["content"]) / 4)


# --- streaming --------------------------------------------------------------------------------


def test_stream_shape_matches_the_recording(client: httpx.Client) -> None:
    body = chat_body(
        user("Tell me about streams"), stream=True, stream_options={"include_usage": True}
    )
    response = post(client, body)
    assert response.headers["content-type"].startswith("text/event-stream")
    *chunks, done = parse_sse(response.text)
    assert done == "[DONE]"
    first, *_, finish, usage_chunk = chunks
    assert first["choices"][0]["delta"] == {"content": "", "role": "assistant"}
    assert finish["choices"][0]["finish_reason"] == "stop"
    assert finish["choices"][0]["delta"]["content"]  # the last text rides on the finish chunk
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["total_tokens"] > 0
    assert all(c["usage"] is None for c in chunks[:-1])
    assert {(c["id"], c["created"], c["model"], c["object"]) for c in chunks} == {
        (first["id"], first["created"], MODEL, "chat.completion.chunk")
    }
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks[:-1])
    assert text == content_of(post(client, chat_body(user("Tell me about streams"))))


def test_stream_without_include_usage_has_no_usage(client: httpx.Client) -> None:
    *chunks, done = parse_sse(post(client, chat_body(user("Hi"), stream=True)).text)
    assert done == "[DONE]"
    assert all(c["usage"] is None and c["choices"] for c in chunks)


def test_streamed_thinking_comes_first(client: httpx.Client) -> None:
    body = chat_body(user("Hi"), stream=True, enable_thinking=True)
    deltas = [c["choices"][0]["delta"] for c in parse_sse(post(client, body).text)[:-1]]
    assert deltas[0] == {"content": None, "reasoning_content": "", "role": "assistant"}
    kinds = ["reasoning" if d.get("reasoning_content") else "content" for d in deltas[1:]]
    switch = kinds.index("content")
    assert switch > 0
    assert set(kinds[switch:]) == {"content"}
    assert all(d["content"] is None for d in deltas[1 : switch + 1])
    assert "".join(d.get("reasoning_content") or "" for d in deltas).startswith(
        "[emulator] thinking: "
    )


# --- validation ---------------------------------------------------------------------------------

TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "parameters": {
            "type": "object",
            "properties": {"zone": {"type": "string"}},
            "required": ["zone"],
        },
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
ASSISTANT_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    ],
}
TINY = data_uri(png_bytes(10, 50))
THIN = data_uri(png_bytes(2300, 11))
HUGE = "data:image/png;base64," + "A" * (10 * 1024 * 1024)

INVALID: dict[str, tuple[dict[str, Any], str]] = {
    "file url": (chat_body(user(image_part("file:///tmp/a.png"))), "file:// URLs are not accepted"),
    "malformed data uri": (
        chat_body(user(image_part("data:image/png;base64,@@@"))),
        "data-uri is malformed",
    ),
    "undecodable image": (
        chat_body(user(image_part(data_uri(b"GIF? no")))),
        "The image format is illegal",
    ),
    "side of 10 px": (chat_body(user(image_part(TINY))), "must be larger than 10"),
    "aspect over 200": (chat_body(user(image_part(THIN))), "aspect ratio"),
    "over 10 MB": (chat_body(user(image_part(HUGE))), "Exceeded limit on max bytes per data-uri"),
    "257 images": (
        chat_body(user(*[image_part(f"https://example.com/{i}.png") for i in range(257)])),
        "max images per request",
    ),
    "temperature 2": (chat_body(user("x"), temperature=2), "Temperature should be in [0.0, 2.0)"),
    "temperature -0.1": (chat_body(user("x"), temperature=-0.1), "Temperature"),
    "top_p 0": (chat_body(user("x"), top_p=0), "top_p"),
    "top_p 1.5": (chat_body(user("x"), top_p=1.5), "top_p"),
    "seed -1": (chat_body(user("x"), seed=-1), "seed"),
    "seed 2**31": (chat_body(user("x"), seed=2**31), "seed"),
    "named tool while thinking": (
        chat_body(user("x"), tools=[TOOL], tool_choice=NAMED, enable_thinking=True),
        "thinking mode",
    ),
    "json_object while thinking": (
        chat_body(
            user("json please"), response_format={"type": "json_object"}, enable_thinking=True
        ),
        "thinking mode",
    ),
    "json_object without the word": (
        chat_body(user("x"), response_format={"type": "json_object"}),
        "'messages' must contain the word 'json' in some form",
    ),
    "max_tokens 0": (chat_body(user("x"), max_tokens=0), "max_tokens"),
    "empty messages": (chat_body(), "messages should be a non-empty list"),
    "unknown role": (chat_body({"role": "bot", "content": "x"}), "role should be one of"),
    "orphan tool message": (
        chat_body(
            user("x"), ASSISTANT_CALL, {"role": "tool", "tool_call_id": "call_2", "content": "1"}
        ),
        "must be a response to a preceding message with 'tool_calls'",
    ),
    "unknown field in images+prompt": (
        {"model": MODEL, "images": ["https://x.test/a.png"], "prompt": "x", "stream": True},
        "Unrecognized field(s)",
    ),
    "messages with images": (
        {"model": MODEL, "images": ["https://x.test/a.png"], "prompt": "x", "messages": []},
        "cannot be used together",
    ),
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_requests_get_service_style_400s(client: httpx.Client, case: str) -> None:
    body, fragment = INVALID[case]
    response = post(client, body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert set(payload) == {"error", "id"}
    assert payload["id"].startswith("chatcmpl-")
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert (error["type"], error["code"]) == ("invalid_request_error", "invalid_parameter_error")
    assert error["message"].startswith(PREFIX)
    assert fragment in error["message"]


def test_unknown_model_is_404(client: httpx.Client) -> None:
    response = post(client, {"model": "gpt-4o", "messages": [user("x")]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    assert post(client, chat_body(user("x"), model="qwen3-vl-flash-2026-01-22")).status_code == 200
    assert post(client, chat_body(user("x"), model="qwen-vl-max")).status_code == 200


def _recorded_download_error(recorded: Path) -> dict[str, Any]:
    line = (recorded / "compat-error-400-image-download.pyrepr.txt").read_text()
    return dict(ast.literal_eval(line[line.index("{") :].strip()))


@pytest.mark.parametrize("where", ["loopback 404", "loopback refused", "mapped missing file"])
def test_unreachable_images_get_the_recorded_download_error(
    client: httpx.Client, recorded: Path, image_server: str, where: str
) -> None:
    url = {
        "loopback 404": image_server + "/nothing.png",
        "loopback refused": "http://127.0.0.1:9/a.png",  # discard port: nothing listens
        "mapped missing file": MISSING_URL,
    }[where]
    response = post(client, chat_body(user(image_part(url), "x")))
    assert response.status_code == 400
    expected = _recorded_download_error(recorded)
    assert response.json()["error"] == expected["error"]
    assert response.json()["id"].startswith("chatcmpl-")


# --- tools and structured output -------------------------------------------------------------


def test_tool_call_non_stream(client: httpx.Client) -> None:
    body = chat_body(user("Use get_weather for the weather in Paris for 3 days"), tools=[TOOL])
    choice = post(client, body).json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == ""
    (call,) = choice["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "days": 3}


def test_named_tool_choice_and_none(client: httpx.Client) -> None:
    forced = post(client, chat_body(user("Paris, 2 days"), tools=[TOOL], tool_choice=NAMED)).json()
    assert forced["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "get_weather"
    never = post(
        client, chat_body(user("Use get_weather"), tools=[TOOL], tool_choice="none")
    ).json()
    assert never["choices"][0]["finish_reason"] == "stop"


def test_parallel_tool_calls(client: httpx.Client) -> None:
    text = "Use get_time and get_weather for Paris"
    single = post(client, chat_body(user(text), tools=[TOOL, TIME_TOOL])).json()
    assert len(single["choices"][0]["message"]["tool_calls"]) == 1
    both = post(
        client, chat_body(user(text), tools=[TOOL, TIME_TOOL], parallel_tool_calls=True)
    ).json()
    calls = both["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time", "get_weather"]
    assert [c["index"] for c in calls] == [0, 1]


def test_tool_result_is_answered_in_text(client: httpx.Client) -> None:
    history = [user("Use get_weather for Paris"), ASSISTANT_CALL]
    tool_message = {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21 °C"}
    body = chat_body(*history, tool_message, tools=[TOOL])
    assert content_of(post(client, body)) == "[emulator] The tool returned: sunny, 21 °C"


def _merge_tool_fragments(chunks: list[Any]) -> dict[int, dict[str, str]]:
    merged: dict[int, dict[str, str]] = {}
    for chunk in chunks:
        for fragment in chunk["choices"][0]["delta"].get("tool_calls", []):
            slot = merged.setdefault(fragment["index"], {"id": "", "name": "", "arguments": ""})
            slot["id"] = fragment.get("id") or slot["id"]
            slot["name"] = fragment.get("function", {}).get("name") or slot["name"]
            slot["arguments"] += fragment["function"].get("arguments", "")
    return merged


@pytest.mark.parametrize("mode", ["standard", "repeat-id header", "repeat-id fault"])
def test_streamed_tool_calls(emu: EmulatorHandle, client: httpx.Client, mode: str) -> None:
    body = chat_body(
        user("Use get_time and get_weather for Paris, 3 days"),
        tools=[TOOL, TIME_TOOL],
        parallel_tool_calls=True,
        stream=True,
    )
    headers = {"X-Emulator-Tool-Stream": "repeat-id"} if mode == "repeat-id header" else {}
    if mode == "repeat-id fault":
        emu.inject_faults("repeat-id")
    *chunks, done = parse_sse(post(client, body, **headers).text)
    assert done == "[DONE]"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    fragments = [f for c in chunks for f in c["choices"][0]["delta"].get("tool_calls", [])]
    later = [f for f in fragments if f["function"].get("name") is None]
    if mode == "standard":
        assert later
        assert all(set(f) == {"index", "function"} for f in later)
    else:
        assert not later
        assert all("id" in f for f in fragments)
    merged = _merge_tool_fragments(chunks)
    assert [merged[i]["name"] for i in sorted(merged)] == ["get_time", "get_weather"]
    assert json.loads(merged[1]["arguments"]) == {"city": "Paris", "days": 3}
    assert all(m["id"].startswith("call_") for m in merged.values())


def test_json_schema_output_is_valid_json_for_the_schema(client: httpx.Client) -> None:
    schema = {
        "type": "object",
        "properties": {
            "colour": {"type": "string"},
            "width": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "ok": {"type": "boolean"},
        },
        "required": ["colour", "width", "tags", "ok"],
        "additionalProperties": False,
    }
    fmt = {
        "type": "json_schema",
        "json_schema": {"name": "facts", "schema": schema, "strict": True},
    }
    body = chat_body(
        user(image_part(data_uri(red_blue_png())), "Tags for Rome"), response_format=fmt
    )
    value = json.loads(content_of(post(client, body)))
    assert value == {"colour": "red", "width": 640, "tags": ["Rome", "emulated tags"], "ok": True}


def test_json_object_output(client: httpx.Client) -> None:
    body = chat_body(user("Reply in JSON"), response_format={"type": "json_object"})
    assert json.loads(content_of(post(client, body)))["answer"].startswith("[emulator] ")


# --- faults -----------------------------------------------------------------------------------


def test_429_body_and_retry_after(client: httpx.Client) -> None:
    response = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "429"})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == {
        "message": "Requests rate limit exceeded, please try again later.",
        "type": "limit_requests",
        "param": None,
        "code": "Throttling.RateQuota",
    }
    later = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "429:7"})
    assert later.headers["Retry-After"] == "7"
    silent = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "429:none"})
    assert "Retry-After" not in silent.headers


def test_500(client: httpx.Client) -> None:
    response = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "500"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"


def test_queued_faults_are_consumed_one_per_request(
    emu: EmulatorHandle, client: httpx.Client
) -> None:
    emu.inject_faults("429", "500")
    statuses = [post(client, chat_body(user("x"))).status_code for _ in range(3)]
    assert statuses == [429, 500, 200]
    with pytest.raises(ValueError, match="unknown emulator fault"):
        emu.inject_faults("teapot")


def test_unknown_fault_header_is_refused(client: httpx.Client) -> None:
    response = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "teapot"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "emulator_bad_fault"


def test_reset_closes_the_connection_without_a_response(client: httpx.Client) -> None:
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        post(client, chat_body(user("x")), **{"X-Emulator-Fault": "reset"})
    assert content_of(post(client, chat_body(user("x")))).startswith("[emulator] ")


def test_truncate_stream_has_no_done(client: httpx.Client) -> None:
    body = chat_body(
        user("Tell me a long story"), stream=True, stream_options={"include_usage": True}
    )
    events = parse_sse(post(client, body, **{"X-Emulator-Fault": "truncate"}).text)
    assert events
    assert "[DONE]" not in events
    assert all(e["choices"] and e["choices"][0]["finish_reason"] is None for e in events)


def test_truncate_non_stream_sends_a_cut_body(client: httpx.Client) -> None:
    response = post(client, chat_body(user("x")), **{"X-Emulator-Fault": "truncate"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


async def test_slow_requests_run_concurrently(emu: EmulatorHandle) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, headers=AUTH, timeout=30) as client:
        started = time.monotonic()
        responses = await asyncio.gather(
            *(
                client.post(
                    "/chat/completions",
                    json=chat_body(user(f"request {i}")),
                    headers={"X-Emulator-Fault": "slow:500"},
                )
                for i in range(16)
            )
        )
        elapsed = time.monotonic() - started
    assert [r.status_code for r in responses] == [200] * 16
    assert 0.5 <= elapsed < 2.0


def test_latency_ms_delays_every_answer() -> None:
    with run_emulator(latency_ms=300, remote_image_size=(640, 480)) as slow:
        started = time.monotonic()
        response = httpx.post(
            slow.base_url + "/chat/completions",
            json=chat_body(user(image_part("https://example.com/a.png"), "x")),
            headers=AUTH,
        )
        assert time.monotonic() - started >= 0.3
    assert "nominal 640×480 px (model sees 640×480, 302 tokens)" in content_of(response)


# --- command line ----------------------------------------------------------------------------


def test_cli_refuses_non_loopback_hosts() -> None:
    assert cli_main(["--host", "0.0.0.0"]) == 2
    with pytest.raises(ValueError, match="loopback only"):
        EmulatorHandle(0, host="192.168.1.2")


def test_cli_serves_and_prints_the_base_url() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "langchain_qwen_vl.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:")
        assert base_url.endswith("/compatible-mode/v1")
        response = httpx.post(
            base_url + "/chat/completions", json=chat_body(user("Hi")), headers=AUTH
        )
        assert content_of(response) == '[emulator] No images received. You asked: "Hi"'
    finally:
        process.terminate()
        process.wait(timeout=10)
