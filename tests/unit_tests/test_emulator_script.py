"""Scripted replies, replies keyed by image, the default agent's tool choice, fault scoping."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from PIL import Image, ImageDraw
from pydantic import BaseModel, Field

from langchain_qwen_vl import ChatQwenVL, image_block
from langchain_qwen_vl.emulator import (
    InProcessEmulator,
    ScriptedRequest,
    by_image,
    image_fingerprint,
    in_process_emulator,
)
from langchain_qwen_vl.emulator._agent import find_references, reference_arguments
from langchain_qwen_vl.emulator._by_image import MAX_DISTANCE
from langchain_qwen_vl.emulator._script import Script, normalise_reply
from langchain_qwen_vl.tools import QwenVLTool

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "examples" / "assets"
AUTH = {"Authorization": "Bearer sk-test"}


def model(emu: InProcessEmulator) -> ChatQwenVL:
    return ChatQwenVL(
        api_key="sk-test",
        base_url=emu.base_url,
        http_client=emu.http_client,
        http_async_client=emu.http_async_client,
        max_retries=0,
    )


# --- replies are checked when given -------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (42, "should be a string, a dict or None"),
        ({"text": "hi"}, "unknown key"),
        ({}, "needs 'content' or 'tool_calls'"),
        ({"tool_calls": [{"function": {"arguments": "{}"}}]}, "needs a name"),
        ({"tool_calls": [{"function": {"name": "f", "arguments": 3}}]}, "dict or JSON"),
        ({"error": {"status": 200}}, "HTTP error status"),
    ],
)
def test_bad_replies_are_refused_up_front(reply: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Script([reply])


def test_a_single_string_is_not_taken_for_a_list() -> None:
    with pytest.raises(TypeError, match="wrap a single reply in a list"):
        Script("hello")  # type: ignore[arg-type]


def test_langchain_shaped_tool_calls_are_accepted() -> None:
    reply = normalise_reply({"tool_calls": [{"name": "f", "args": {"x": [1, 2]}}]})
    assert reply is not None
    assert (reply.tool_calls[0].name, json.loads(reply.tool_calls[0].arguments)) == (
        "f",
        {"x": [1, 2]},
    )
    assert reply.tool_calls[0].id.startswith("call_")


def test_a_failing_reply_function_is_a_labelled_400() -> None:
    def broken(request: ScriptedRequest) -> str:
        raise KeyError("no such page")

    with in_process_emulator(replies=broken) as emu:
        response = emu.http_client.post(
            "/chat/completions",
            json={"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]},
            headers=AUTH,
        )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "emulator_script_error"
    assert "KeyError" in error["message"]
    assert "no such page" in error["message"]


# --- replies keyed by image ---------------------------------------------------------------------


def _page(seed: int, colour: str) -> Image.Image:
    """A page-like picture: a coloured header band and six text-like bars of varying width."""
    image = Image.new("RGB", (600, 800), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 40, 560, 120), fill=colour)
    for row in range(6):
        y = 200 + 80 * row
        width = 120 + (seed * 137 + row * 71) % 400
        draw.rectangle((40, y, 40 + width, y + 30), fill="black")
    return image


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_fingerprints_survive_resizing_and_jpeg_but_tell_pictures_apart() -> None:
    scene = Image.open(ASSETS / "scene.jpg")
    smaller = scene.resize((scene.width // 3, scene.height // 3))
    buffer = io.BytesIO()
    smaller.convert("RGB").save(buffer, "JPEG", quality=60)
    same = image_fingerprint(ASSETS / "scene.jpg") ^ image_fingerprint(buffer.getvalue())
    other = image_fingerprint(ASSETS / "scene.jpg") ^ image_fingerprint(ASSETS / "chart.png")
    assert same.bit_count() <= MAX_DISTANCE // 2
    assert other.bit_count() > 2 * MAX_DISTANCE


def test_by_image_answers_each_image_with_its_own_reply() -> None:
    pages = {"red": _page(1, "red"), "blue": _page(2, "blue"), "green": _page(3, "green")}
    replies = by_image({_png(img): f"page with a {name} band" for name, img in pages.items()})
    with in_process_emulator(replies=replies) as emu:
        llm = model(emu)
        for name, img in pages.items():
            message = HumanMessage(
                content=[image_block(_png(img.resize((300, 400)))), {"type": "text", "text": "?"}]
            )
            assert llm.invoke([message]).content == f"page with a {name} band"
        unknown = HumanMessage(content=[image_block(ASSETS / "chart.png"), "What is it?"])
        assert str(llm.invoke([unknown]).content).startswith("[emulator] 1 image received.")
        assert emu.replies_left is None


def test_reply_function_sees_decoded_images_and_their_hash() -> None:
    seen: list[Any] = []

    def reply(request: ScriptedRequest) -> str:
        seen.extend(request.images)
        return f"{len(request.images)} image(s)"

    data = _png(_page(4, "red"))
    with in_process_emulator(replies=reply) as emu:
        message = HumanMessage(content=[image_block(data), {"type": "text", "text": "?"}])
        assert model(emu).invoke([message]).content == "1 image(s)"
    image = seen[0]
    assert (image.width, image.height) == (600, 800)
    assert len(image.sha256) == 64
    assert image.data is not None
    assert image.open().size == (600, 800)


# --- the default agent ----------------------------------------------------------------------


@tool
def count_pages(paths: list[str]) -> str:
    """Count the pages of the documents at these paths."""
    return f"{len(paths)} documents: {', '.join(paths)}"


@tool
def paint_code(colour: str) -> str:
    """The paint code of a colour."""
    return f"code for {colour}"


def test_find_references() -> None:
    text = "Compare ./scans/a.PDF, /tmp/b.png and https://x.test/c.jpg?s=1. Not e.g. or 3.5 m."
    assert find_references(text) == [
        "./scans/a.PDF",
        "/tmp/b.png",
        "https://x.test/c.jpg?s=1",
    ]


def test_list_argument_gets_a_json_list_valid_for_the_schema() -> None:
    parameters = count_pages.tool_call_schema.model_json_schema()
    text = "How many pages do report.pdf and annex.pdf have?"
    arguments = reference_arguments(parameters, text, find_references(text))
    assert arguments == {"paths": ["report.pdf", "annex.pdf"]}
    count_pages.tool_call_schema.model_validate(arguments)


@pytest.fixture
def vision_agent() -> Iterator[tuple[Any, InProcessEmulator]]:
    with in_process_emulator() as emu:
        llm = model(emu)
        look = QwenVLTool(llm=llm, allowed_dirs=[ASSETS])
        yield create_agent(llm, tools=[paint_code, look, count_pages]), emu


def test_a_natural_question_makes_the_agent_call_the_vision_tool(
    vision_agent: tuple[Any, InProcessEmulator],
) -> None:
    agent, emu = vision_agent
    question = "Is there a car in examples/assets/scene.jpg?"
    messages = agent.invoke({"messages": [HumanMessage(question)]})["messages"]
    call = messages[1].tool_calls[0]
    assert call["name"] == "look_at_image"
    assert call["args"] == {"image": "examples/assets/scene.jpg", "question": question}
    assert isinstance(messages[2], ToolMessage)
    assert messages[2].status == "success"
    assert "640×480 px" in messages[2].text  # the vision model really received the picture
    final = messages[-1]
    assert isinstance(final, AIMessage)
    assert not final.tool_calls
    assert final.text.startswith("[emulator] The tool returned: ")
    image_requests = [r for r in emu.requests if "tools" not in r]
    assert len(image_requests) == 1  # the tool's own model call


def test_the_agent_fills_a_list_argument_with_a_list(
    vision_agent: tuple[Any, InProcessEmulator],
) -> None:
    agent, _ = vision_agent
    question = "How many pages do report.pdf and annex.pdf have together?"
    messages = agent.invoke({"messages": [HumanMessage(question)]})["messages"]
    assert messages[1].tool_calls[0]["name"] == "count_pages"
    assert messages[1].tool_calls[0]["args"] == {"paths": ["report.pdf", "annex.pdf"]}
    assert messages[2].text == "2 documents: report.pdf, annex.pdf"


def test_without_a_reference_or_a_topic_the_agent_answers_in_text(
    vision_agent: tuple[Any, InProcessEmulator],
) -> None:
    agent, _ = vision_agent
    messages = agent.invoke({"messages": [HumanMessage("Good morning!")]})["messages"]
    assert len(messages) == 2
    assert not messages[1].tool_calls


# --- fault scoping ------------------------------------------------------------------------------


def _status(emu: InProcessEmulator) -> int:
    body = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]}
    return emu.http_client.post("/chat/completions", json=body, headers=AUTH).status_code


def test_faults_block_drops_its_unused_faults_at_exit() -> None:
    with in_process_emulator() as emu:
        emu.inject_faults("500")
        with emu.faults("429", "429", "429"):
            assert emu.pending_faults == ("500", "429", "429", "429")
            assert _status(emu) == 500
            assert _status(emu) == 429
        assert emu.pending_faults == ()  # the block's two unused 429s are gone
        assert [_status(emu), _status(emu)] == [200, 200]


def test_faults_block_keeps_faults_queued_outside_it() -> None:
    with in_process_emulator() as emu:
        with emu.faults("500"):
            emu.inject_faults("429")
        assert emu.pending_faults == ("429",)
        emu.clear_faults()
        assert emu.pending_faults == ()
        assert _status(emu) == 200


def test_faults_block_drops_faults_even_when_the_test_fails() -> None:
    with in_process_emulator() as emu:
        with pytest.raises(RuntimeError), emu.faults("429"):
            raise RuntimeError("the test failed")
        assert emu.pending_faults == ()
        assert _status(emu) == 200


def test_unknown_fault_words_are_refused_in_the_test() -> None:
    with (
        in_process_emulator() as emu,
        pytest.raises(ValueError, match="unknown emulator fault"),
        emu.faults("teapot"),
    ):
        pass


def test_clear_keeps_the_script_but_forgets_requests() -> None:
    with in_process_emulator(replies=["a", "b"]) as emu:
        assert model(emu).invoke("x").content == "a"
        emu.clear()
        assert emu.requests == []
        assert emu.request_count == 0
        assert model(emu).invoke("x").content == "b"
        emu.set_replies(None)
        assert str(model(emu).invoke("x").content).startswith("[emulator]")


def test_base64_images_in_scripts_are_hashed_as_sent() -> None:
    data = _png(_page(5, "blue"))
    uri = "data:image/png;base64," + base64.b64encode(data).decode()
    hashes: list[str] = []
    with in_process_emulator(replies=lambda r: hashes.append(r.images[0].sha256) or "ok") as emu:
        body = {
            "model": "qwen3-vl-flash",
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": uri}}]}
            ],
        }
        assert emu.http_client.post("/chat/completions", json=body, headers=AUTH).status_code == 200
    import hashlib

    assert hashes == [hashlib.sha256(data).hexdigest()]


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression."""
    return "27"


def test_an_arithmetic_question_calls_the_expression_tool() -> None:
    with in_process_emulator() as emu:
        llm = model(emu).bind_tools([paint_code, calculator])
        message = llm.invoke("A 4.5 m by 3 m wall painted twice: how much is 4.5 * 3 * 2?")
    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("calculator", {"expression": "4.5 * 3 * 2"})
    ]


class _Limited(BaseModel):
    paths: list[str] = Field(min_length=1, max_length=2)
    cover: str = Field(max_length=12)
    copies: int = Field(ge=1, le=3)


def test_reference_arguments_respect_the_schemas_limits() -> None:
    parameters = _Limited.model_json_schema()
    text = "Print ./a/very/long/name.pdf, b.pdf and c.pdf, 5 copies"
    arguments = reference_arguments(parameters, text, find_references(text))
    assert arguments["paths"] == ["./a/very/long/name.pdf", "b.pdf"]
    assert arguments["copies"] == 3
    _Limited.model_validate(arguments)  # every value valid for its field
