"""QwenVLTool with a real ChatQwenVL against the emulator (loopback HTTP), and both agent
examples run end to end offline."""

from __future__ import annotations

import base64
import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_tests.integration_tests import ToolsIntegrationTests
from PIL import Image

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import EmulatorHandle
from langchain_qwen_vl.tools import QwenVLTool

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "examples" / "assets"
SCENE = ASSETS / "scene.jpg"
SCENE_ANSWER = "[emulator] 1 image received. Image 1: 640×480 px (model sees 640×480, 302 tokens)"


@pytest.fixture
def emu(emulator: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """The session emulator with no leftover requests or queued faults."""
    emulator.clear()
    yield emulator
    emulator.clear()


def vision_llm(emu: EmulatorHandle, **kwargs: Any) -> ChatQwenVL:
    return ChatQwenVL(api_key="sk-emulator", base_url=emu.base_url, **kwargs)


def tool_call(tool: QwenVLTool, **args: Any) -> dict[str, Any]:
    return {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}


def run(tool: QwenVLTool, **args: Any) -> ToolMessage:
    result = tool.invoke(tool_call(tool, **args))
    assert isinstance(result, ToolMessage)
    return result


async def arun(tool: QwenVLTool, **args: Any) -> ToolMessage:
    result = await tool.ainvoke(tool_call(tool, **args))
    assert isinstance(result, ToolMessage)
    return result


# --- langchain-tests ------------------------------------------------------------------------


class TestQwenVLToolIntegration(ToolsIntegrationTests):
    @pytest.fixture(autouse=True)
    def _bind_emulator(self, emu: EmulatorHandle) -> None:
        self._base_url = emu.base_url

    @property
    def tool_constructor(self) -> type[QwenVLTool]:
        return QwenVLTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        llm = ChatQwenVL(api_key="sk-emulator", base_url=self._base_url)
        return {"llm": llm, "allowed_dirs": [ASSETS]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": str(SCENE), "question": "What colour is the square?"}


class TestQwenVLToolWithArtifactIntegration(TestQwenVLToolIntegration):
    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return super().tool_constructor_params | {"response_format": "content_and_artifact"}


# --- real calls ----------------------------------------------------------------------------


def test_sync_answer_and_artifact(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(
        llm=vision_llm(emu), allowed_dirs=[ASSETS], response_format="content_and_artifact"
    )
    result = run(tool, image=str(SCENE), question="What colour is the square?")
    assert result.status == "success"
    assert str(result.content).startswith(SCENE_ANSWER)
    assert 'You asked: "What colour is the square?"' in str(result.content)
    artifact = result.artifact
    assert artifact["model_name"] == "qwen3-vl-flash"
    assert artifact["finish_reason"] == "stop"
    assert artifact["usage_metadata"]["input_token_details"]["image"] == 302
    assert artifact["reasoning"] is None
    assert artifact["sources"] == [str(SCENE.resolve())]
    (request,) = emu.requests
    (message,) = request["messages"]
    image_part, text_part = message["content"]
    assert image_part["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert text_part == {"type": "text", "text": "What colour is the square?"}


async def test_async_answer_with_several_images(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu), allowed_dirs=[ASSETS])
    images = [str(SCENE), (ASSETS / "chart.png").as_uri()]
    result = await arun(tool, images=images, question="Compare them.")
    assert result.status == "success"
    assert str(result.content).startswith("[emulator] 2 images received.")
    assert "Image 2: 800×500 px" in str(result.content)
    assert len(emu.requests) == 1


async def test_thinking_reasoning_lands_in_the_artifact(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(
        llm=vision_llm(emu, enable_thinking=True),
        allowed_dirs=[ASSETS],
        response_format="content_and_artifact",
    )
    result = await arun(tool, image=str(SCENE), question="Describe it.")
    assert result.status == "success"
    assert result.artifact["reasoning"].startswith("[emulator] thinking:")
    assert result.artifact["usage_metadata"]["output_token_details"]["reasoning"] > 0


def test_remote_url_is_left_to_the_service(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu))
    result = run(tool, image="https://example.com/cat.jpg", question="What is it?")
    assert result.status == "success"
    assert "Image 1: not fetched (remote URL https://example.com/cat.jpg)" in str(result.content)
    (request,) = emu.requests
    assert request["messages"][0]["content"][0]["image_url"]["url"] == (
        "https://example.com/cat.jpg"
    )


# --- refusals and errors --------------------------------------------------------------------


def test_refused_path_never_reaches_the_model(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu), allowed_dirs=[ASSETS])
    escape = str(ASSETS / ".." / ".." / "pyproject.toml")
    for reference in (escape, "/etc/passwd", "file:///etc/hostname"):
        result = run(tool, image=reference, question="Read it.")
        assert result.status == "error"
        assert str(result.content).startswith("Refused:")
    assert emu.request_count == 0


def test_rate_limit_becomes_an_error_tool_message(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu, max_retries=0), allowed_dirs=[ASSETS])
    emu.inject_faults("429")
    result = run(tool, image=str(SCENE), question="What is it?")
    assert result.status == "error"
    assert "QwenVLRateLimitError" in str(result.content)
    assert "429" in str(result.content)
    assert "try again later" in str(result.content)
    assert emu.request_count == 1
    # The tool is not broken by the failure: the next call succeeds.
    assert run(tool, image=str(SCENE), question="What is it?").status == "success"


async def test_rate_limit_async_and_plain_invoke(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu, max_retries=0), allowed_dirs=[ASSETS])
    emu.inject_faults("429", "429")
    result = await arun(tool, image=str(SCENE), question="What is it?")
    assert result.status == "error"
    assert "QwenVLRateLimitError" in str(result.content)
    plain = await tool.ainvoke({"image": str(SCENE), "question": "What is it?"})
    assert isinstance(plain, str)
    assert plain.startswith("The vision model failed (QwenVLRateLimitError)")


def test_rate_limit_retried_by_the_model_is_invisible(emu: EmulatorHandle) -> None:
    tool = QwenVLTool(llm=vision_llm(emu, max_retries=2), allowed_dirs=[ASSETS])
    emu.inject_faults("429:0")
    result = run(tool, image=str(SCENE), question="What is it?")
    assert result.status == "success"
    assert emu.request_count == 2


def test_image_the_model_rejects_is_an_error_tool_message(emu: EmulatorHandle) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (5, 5), "red").save(buffer, format="PNG")
    tiny = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    tool = QwenVLTool(llm=vision_llm(emu))
    result = run(tool, image=tiny, question="What is it?")
    assert result.status == "error"
    assert "QwenVLImageError" in str(result.content)
    assert emu.request_count == 0


# --- the examples keep working --------------------------------------------------------------


def _load_example(name: str) -> ModuleType:
    path = ROOT / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_agent_vision_tool(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    _load_example("agent_vision_tool").main()
    out = capsys.readouterr().out
    assert out.startswith("No DASHSCOPE_API_KEY: using the local emulator")
    # The colour argument is what the emulator measured in the image.
    assert "model calls lookup_paint_code({'colour': 'blue'})" in out
    assert "lookup_paint_code returned: blue: RAL 5005 Signal blue" in out
    assert "user: Which colour covers most of this picture, and what is its paint code?" in out
    assert "model calls calculator({'expression': '4.5 * 3 * 2'})" in out
    assert "calculator returned: 4.5 * 3 * 2 = 27" in out
    assert "model answers: [emulator] The tool returned: 4.5 * 3 * 2 = 27" in out
    assert "tools used: lookup_paint_code, calculator." in out


def test_example_text_agent_with_vision_tool(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    _load_example("agent_text_llm_with_vision_tool").main()
    out = capsys.readouterr().out
    assert "agent model and vision tool -> local emulator" in out
    # A natural question that names the chart's path makes the agent call the vision tool.
    chart = ROOT / "examples" / "assets" / "chart.png"
    assert f"agent calls look_at_image({{'image': '{chart}', 'question': 'In the chart" in out
    assert "look_at_image [success]: [emulator] 1 image received. Image 1: 800×500 px" in out
    assert "agent answers: [emulator] The tool returned: [emulator] 1 image received." in out
    assert "agent calls look_at_image({'image': '/etc/passwd'" in out
    assert "look_at_image [error]: Refused: image '/etc/passwd' is outside" in out
    assert "agent answers: [emulator] The tool returned: Refused: image '/etc/passwd'" in out
    assert "Done: 1 refused tool call(s)" in out


def test_region_zooms_into_the_picture(emu: EmulatorHandle, tmp_path: Path) -> None:
    from PIL import Image

    picture = Image.new("RGB", (1600, 1200), "white")
    picture.paste("red", (1200, 900, 1600, 1200))  # the bottom-right quarter
    picture.save(tmp_path / "board.png")
    tool = QwenVLTool(llm=vision_llm(emu), allowed_dirs=[tmp_path])
    result = run(
        tool,
        image=str(tmp_path / "board.png"),
        question="What colour?",
        region=[750, 750, 1000, 1000],
    )
    assert result.status == "success", result.content
    assert "400×300 px" in str(result.content)  # the crop, at the original's resolution
    assert "red" in str(result.content).lower()
    (request,) = emu.requests
    assert request["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png")
