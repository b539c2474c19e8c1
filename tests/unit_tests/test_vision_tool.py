"""QwenVLTool with a recording fake vision model: path policy, arguments, artifact, errors."""

from __future__ import annotations

import base64
import io
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_tests.unit_tests import ToolsUnitTests
from PIL import Image
from pydantic import BaseModel, Field, ValidationError

from langchain_qwen_vl import (
    QwenVLAPIStatusError,
    QwenVLContentModerationError,
    QwenVLImageError,
    QwenVLRateLimitError,
    QwenVLServerError,
)
from langchain_qwen_vl.tools import QwenVLTool, QwenVLToolInput

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
ANSWER = "A red square on a blue background."


class RecordingVisionModel(BaseChatModel):
    """Answers every call with ``answer`` (or raises ``error``) and records what it was sent."""

    answer: str = ANSWER
    reasoning: str | None = None
    error: Exception | None = None
    calls: list[tuple[str, list[BaseMessage]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-vision-fake"

    def _result(self) -> ChatResult:
        if self.error is not None:
            raise self.error
        extra = {"reasoning_content": self.reasoning} if self.reasoning else {}
        message = AIMessage(
            content=self.answer,
            additional_kwargs=extra,
            response_metadata={"model_name": "fake-vl", "finish_reason": "stop"},
            usage_metadata={"input_tokens": 310, "output_tokens": 9, "total_tokens": 319},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(("sync", messages))
        return self._result()

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls.append(("async", messages))
        return self._result()

    def sent_blocks(self) -> list[dict[str, Any]]:
        """The content blocks of the one message of the last call."""
        (message,) = self.calls[-1][1]
        assert isinstance(message.content, list)
        return [b for b in message.content if isinstance(b, dict)]


def png_bytes(size: tuple[int, int] = (64, 48), colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def call(tool: QwenVLTool, **args: Any) -> ToolMessage:
    """Invoke the tool the way an agent's ToolNode does: with a ToolCall dict."""
    result = tool.invoke({"type": "tool_call", "id": "call-1", "name": tool.name, "args": args})
    assert isinstance(result, ToolMessage)
    return result


@pytest.fixture
def llm() -> RecordingVisionModel:
    return RecordingVisionModel()


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """allowed/ (with an image, a text file, a subdir and symlinks) next to outside/."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    (allowed / "photo.png").write_bytes(png_bytes())
    (allowed / "notes.txt").write_text("not an image")
    (allowed / "sub").mkdir()
    (allowed / "sub" / "inner.png").write_bytes(png_bytes(colour="blue"))
    (outside / "secret.png").write_bytes(png_bytes(colour="green"))
    (allowed / "escape.png").symlink_to(outside / "secret.png")
    (allowed / "escape_dir").symlink_to(outside, target_is_directory=True)
    (allowed / "alias.png").symlink_to(allowed / "photo.png")
    (allowed / "loop_a").symlink_to(allowed / "loop_b")
    (allowed / "loop_b").symlink_to(allowed / "loop_a")
    return {"allowed": allowed, "outside": outside}


@pytest.fixture
def tool(llm: RecordingVisionModel, layout: dict[str, Path]) -> QwenVLTool:
    return QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"]])


# --- langchain-tests ------------------------------------------------------------------------


class TestQwenVLToolStandard(ToolsUnitTests):
    @property
    def tool_constructor(self) -> type[QwenVLTool]:
        return QwenVLTool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"llm": RecordingVisionModel(), "allowed_dirs": [ASSETS]}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"image": "https://example.com/scene.jpg", "question": "What shape is red?"}


# --- what the calling LLM sees --------------------------------------------------------------


def test_schema_offers_image_images_and_question(tool: QwenVLTool) -> None:
    schema = tool.tool_call_schema
    assert isinstance(schema, type)
    assert issubclass(schema, BaseModel)
    properties = schema.model_json_schema()["properties"]
    assert set(properties) == {"image", "images", "question", "region"}
    assert tool.name == "look_at_image"
    assert "exactly one" in tool.description


def test_description_says_whether_local_files_are_readable(
    llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    assert "local files are not available" in QwenVLTool(llm=llm).description
    assert "local files in the directories" in (
        QwenVLTool(llm=llm, allowed_dirs=layout["allowed"]).description
    )
    assert QwenVLTool(llm=llm, description="Mine.").description == "Mine."


@pytest.mark.parametrize(
    "args",
    [
        {"question": "What is it?"},
        {"image": "https://x.test/a.png", "images": ["https://x.test/b.png"], "question": "Q?"},
        {"images": [], "question": "Q?"},
        {"images": ["https://x.test/a.png", " "], "question": "Q?"},
        {"image": "https://x.test/a.png", "question": ""},
    ],
)
def test_arguments_must_name_exactly_one_image_form(args: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        QwenVLToolInput(**args)


def test_bad_arguments_come_back_as_an_error_message(
    tool: QwenVLTool, llm: RecordingVisionModel
) -> None:
    both = call(tool, image="https://x.test/a.png", images=["https://x.test/b.png"], question="Q")
    assert both.status == "error"
    assert "exactly one of `image`" in str(both.content)
    neither = call(tool, question="Q")
    assert neither.status == "error"
    missing = call(tool, image="https://x.test/a.png")
    assert missing.status == "error"
    assert "question" in str(missing.content)
    assert llm.calls == []


# --- what reaches the vision model ---------------------------------------------------------


def test_url_is_passed_through_and_answer_returned(
    tool: QwenVLTool, llm: RecordingVisionModel
) -> None:
    result = call(tool, image="https://example.com/cat.jpg", question="What animal?")
    assert result.status == "success"
    assert result.content == ANSWER
    assert result.artifact is None
    assert llm.sent_blocks() == [
        {"type": "image", "url": "https://example.com/cat.jpg"},
        {"type": "text", "text": "What animal?"},
    ]


def test_plain_invoke_returns_the_text(tool: QwenVLTool) -> None:
    assert tool.invoke({"image": "https://example.com/a.png", "question": "Q?"}) == ANSWER


def test_file_inside_allowed_dir_is_sent_as_data_uri(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    path = layout["allowed"] / "photo.png"
    result = call(tool, image=str(path), question="Colour?")
    assert result.status == "success"
    image = llm.sent_blocks()[0]
    assert image["url"] == "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def test_images_list_keeps_order_and_puts_question_last(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    allowed = layout["allowed"]
    images = [str(allowed / "photo.png"), "https://example.com/b.png", str(allowed / "alias.png")]
    result = call(tool, images=images, question="Compare them.")
    assert result.status == "success"
    blocks = llm.sent_blocks()
    assert [b["type"] for b in blocks] == ["image", "image", "image", "text"]
    assert blocks[0]["url"].startswith("data:image/png;base64,")
    assert blocks[1]["url"] == "https://example.com/b.png"
    assert blocks[2]["url"] == blocks[0]["url"]  # a symlink to a file inside is fine
    assert blocks[3] == {"type": "text", "text": "Compare them."}


def test_too_many_images_is_an_error(llm: RecordingVisionModel) -> None:
    tool = QwenVLTool(llm=llm, max_images=2)
    result = call(tool, images=[f"https://example.com/{i}.png" for i in range(3)], question="Q")
    assert result.status == "error"
    assert "at most 2" in str(result.content)
    assert llm.calls == []


def test_data_uri_is_accepted_without_file_access(llm: RecordingVisionModel) -> None:
    uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
    tool = QwenVLTool(llm=llm, response_format="content_and_artifact")
    result = call(tool, image=uri, question="Q")
    assert result.status == "success"
    assert llm.sent_blocks()[0] == {"type": "image", "url": uri}
    (source,) = result.artifact["sources"]
    assert source.startswith("data:image/png;base64,…")
    assert source.endswith("chars)")


def test_relative_path_is_taken_from_the_working_directory(
    tool: QwenVLTool, layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(layout["allowed"].parent)
    assert call(tool, image="allowed/sub/inner.png", question="Q").status == "success"
    assert call(tool, image="outside/secret.png", question="Q").status == "error"


# --- the path policy -------------------------------------------------------------------------


def test_no_allowed_dirs_means_no_local_files(
    llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    tool = QwenVLTool(llm=llm)
    for reference in (str(layout["allowed"] / "photo.png"), "photo.png", "file:///etc/hosts"):
        result = call(tool, image=reference, question="Q")
        assert result.status == "error"
        assert str(result.content).startswith("Refused:")
        assert "reads no local files" in str(result.content)
    assert llm.calls == []


@pytest.mark.parametrize(
    "reference",
    [
        "{outside}/secret.png",
        "{allowed}/../outside/secret.png",
        "{allowed}/sub/../../outside/secret.png",
        "{allowed}/escape.png",
        "{allowed}/escape_dir/secret.png",
        "{allowed}/escape_dir/../outside/secret.png",
        "{allowed}/loop_a",
        "file://{outside}/secret.png",
        "file://localhost{outside}/secret.png",
        "file://{allowed}/escape.png",
        "file://{allowed}/%2E%2E/outside/secret.png",
        "/etc/passwd",
        "{allowed}/photo.png\x00.txt",
    ],
)
def test_paths_outside_allowed_dirs_are_refused(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path], reference: str
) -> None:
    text = reference.format(**{k: str(v) for k, v in layout.items()})
    result = call(tool, image=text, question="Q")
    assert result.status == "error"
    assert str(result.content).startswith("Refused:")
    assert "outside the directories this tool may read" in str(result.content)
    assert llm.calls == []


def test_refusal_does_not_reveal_whether_the_file_exists(
    tool: QwenVLTool, layout: dict[str, Path]
) -> None:
    outside = layout["outside"]
    existing = call(tool, image=str(outside / "secret.png"), question="Q")
    missing = call(tool, image=str(outside / "nothere.png"), question="Q")
    a_dir = call(tool, image=str(outside), question="Q")
    texts = {
        str(m.content).replace(str(p), "<path>")
        for m, p in (
            (existing, outside / "secret.png"),
            (missing, outside / "nothere.png"),
            (a_dir, outside),
        )
    }
    assert len(texts) == 1


def test_file_url_inside_allowed_dir_is_read(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    path = layout["allowed"] / "sub" / "inner.png"
    assert call(tool, image=path.as_uri(), question="Q").status == "success"
    assert llm.sent_blocks()[0]["url"].startswith("data:image/png;base64,")


def test_file_urls_are_read_by_the_media_rule(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    """One parser for file URLs (the chat model's: percent-decoded path, then allowed_dirs)."""
    named = layout["allowed"] / "été 2024 #1.png"
    named.write_bytes(png_bytes(colour="blue"))
    url = named.as_uri()
    assert "%C3%A9t%C3%A9%202024%20%231.png" in url
    result = call(tool, image=url, question="Q")
    assert result.status == "success"
    sent = base64.b64decode(llm.sent_blocks()[0]["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(sent)).getpixel((0, 0)) == (0, 0, 255)
    remote = call(tool, image=url.replace("file://", "file://remote.example"), question="Q")
    assert remote.status == "error"
    assert "names a remote host — use 'file:///path'" in str(remote.content)
    assert len(llm.calls) == 1


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("missing.png", "does not exist"),
        ("sub", "is a directory"),
        ("notes.txt", "not a recognised image"),
    ],
)
def test_unusable_files_inside_allowed_dir_are_errors(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path], name: str, expected: str
) -> None:
    result = call(tool, image=str(layout["allowed"] / name), question="Q")
    assert result.status == "error"
    assert expected in str(result.content)
    assert not str(result.content).startswith("Refused:")
    assert llm.calls == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_are_not_read(tool: QwenVLTool, layout: dict[str, Path]) -> None:
    fifo = layout["allowed"] / "pipe.png"
    os.mkfifo(fifo)
    result = call(tool, image=str(fifo), question="Q")  # must not block waiting for a writer
    assert result.status == "error"
    assert "not a regular file" in str(result.content)


def test_file_over_the_size_limit_is_not_read(
    llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    tool = QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"]], max_file_bytes=100)
    result = call(tool, image=str(layout["allowed"] / "photo.png"), question="Q")
    assert result.status == "error"
    assert "over this tool's limit of 100 bytes" in str(result.content)


@pytest.mark.parametrize("url", ["ftp://example.com/a.png", "s3://bucket/a.png", "http:///a.png"])
def test_unsupported_urls_are_errors(tool: QwenVLTool, url: str) -> None:
    result = call(tool, image=url, question="Q")
    assert result.status == "error"
    assert url.split(":")[0] in str(result.content) or "no host" in str(result.content)


def test_allowed_dirs_are_checked_when_the_tool_is_created(
    llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"] / "nope"])
    with pytest.raises(ValidationError, match="is not a directory"):
        QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"] / "photo.png"])
    single = QwenVLTool(llm=llm, allowed_dirs=str(layout["allowed"]))
    assert single.allowed_dirs == (layout["allowed"],)
    assert QwenVLTool(llm=llm, allowed_dirs=None).allowed_dirs == ()


def test_symlink_out_and_back_in_reads_the_file_inside(
    tool: QwenVLTool, layout: dict[str, Path]
) -> None:
    # allowed/escape_dir/.. is the parent of allowed/, so this names allowed/photo.png itself.
    text = str(layout["allowed"] / "escape_dir" / ".." / "allowed" / "photo.png")
    assert call(tool, image=text, question="Q").status == "success"


def test_allowed_dir_given_through_a_symlink(llm: RecordingVisionModel, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "a.png").write_bytes(png_bytes())
    (tmp_path / "link").symlink_to(real, target_is_directory=True)
    tool = QwenVLTool(llm=llm, allowed_dirs=[tmp_path / "link"])
    assert call(tool, image=str(tmp_path / "link" / "a.png"), question="Q").status == "success"
    assert call(tool, image=str(real / "a.png"), question="Q").status == "success"


# --- artifact ------------------------------------------------------------------------------


def test_artifact_carries_usage_reasoning_and_model_name(layout: dict[str, Path]) -> None:
    llm = RecordingVisionModel(reasoning="The image is mostly blue.")
    tool = QwenVLTool(
        llm=llm, allowed_dirs=[layout["allowed"]], response_format="content_and_artifact"
    )
    path = layout["allowed"] / "photo.png"
    result = call(tool, images=[str(path), "https://example.com/b.png"], question="Q")
    assert result.status == "success"
    assert result.content == ANSWER
    assert result.artifact == {
        "model_name": "fake-vl",
        "usage_metadata": {"input_tokens": 310, "output_tokens": 9, "total_tokens": 319},
        "reasoning": "The image is mostly blue.",
        "finish_reason": "stop",
        "sources": [str(path.resolve()), "https://example.com/b.png"],
    }


def test_artifact_reasoning_is_none_without_thinking() -> None:
    tool = QwenVLTool(llm=RecordingVisionModel(), response_format="content_and_artifact")
    result = call(tool, image="https://example.com/a.png", question="Q")
    assert result.artifact["reasoning"] is None


# --- model errors become error ToolMessages ------------------------------------------------


def _status_error(cls: type[QwenVLAPIStatusError], status: int, code: str) -> Exception:
    return cls(f"Qwen-VL API error {status} ({code}): refused", status_code=status, code=code)


@pytest.mark.parametrize(
    ("error", "retry_hint"),
    [
        (_status_error(QwenVLRateLimitError, 429, "Throttling.RateQuota"), True),
        (_status_error(QwenVLServerError, 500, "InternalError"), True),
        (_status_error(QwenVLContentModerationError, 400, "data_inspection_failed"), False),
        (QwenVLImageError("messages[0].content[0]: image is 5x5 px — too small"), False),
    ],
)
def test_model_errors_become_error_tool_messages(error: Exception, retry_hint: bool) -> None:
    tool = QwenVLTool(llm=RecordingVisionModel(error=error))
    result = call(tool, image="https://example.com/a.png", question="Q")
    assert result.status == "error"
    content = str(result.content)
    assert content.startswith(f"The vision model failed ({type(error).__name__}):")
    assert str(error) in content
    assert ("try again later" in content) is retry_hint


def test_unexpected_errors_are_not_swallowed() -> None:
    tool = QwenVLTool(llm=RecordingVisionModel(error=RuntimeError("bug")))
    with pytest.raises(RuntimeError, match="bug"):
        call(tool, image="https://example.com/a.png", question="Q")


def test_empty_answer_is_an_error() -> None:
    tool = QwenVLTool(llm=RecordingVisionModel(answer=""))
    result = call(tool, image="https://example.com/a.png", question="Q")
    assert result.status == "error"
    assert "returned no text" in str(result.content)


# --- async -----------------------------------------------------------------------------------


async def test_async_uses_the_models_native_async(
    tool: QwenVLTool, llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    args = {"image": str(layout["allowed"] / "photo.png"), "question": "Q"}
    result = await tool.ainvoke({"type": "tool_call", "id": "c", "name": tool.name, "args": args})
    assert isinstance(result, ToolMessage)
    assert result.status == "success"
    assert result.content == ANSWER
    assert [kind for kind, _ in llm.calls] == ["async"]


async def test_async_refusal_and_model_error(layout: dict[str, Path]) -> None:
    llm = RecordingVisionModel(error=_status_error(QwenVLRateLimitError, 429, "Throttling"))
    tool = QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"]])

    async def acall(**args: Any) -> ToolMessage:
        message = await tool.ainvoke(
            {"type": "tool_call", "id": "c", "name": tool.name, "args": args}
        )
        assert isinstance(message, ToolMessage)
        return message

    refused = await acall(image=str(layout["allowed"] / "escape.png"), question="Q")
    assert refused.status == "error"
    assert str(refused.content).startswith("Refused:")
    assert llm.calls == []
    failed = await acall(image="https://example.com/a.png", question="Q")
    assert failed.status == "error"
    assert "QwenVLRateLimitError" in str(failed.content)
    plain = await tool.ainvoke({"image": "/etc/passwd", "question": "Q"})
    assert isinstance(plain, str)
    assert plain.startswith("Refused:")


# --- region: zoom into a part of the original ---------------------------------------------------


def quadrants_png(size: tuple[int, int] = (2000, 1000)) -> bytes:
    """Red left half, blue right half; a small green square at 800-900 x 200-400 (0-1000 grid)."""
    width, height = size
    image = Image.new("RGB", size, "red")
    image.paste("blue", (width // 2, 0, width, height))
    image.paste(
        (0, 255, 0), (int(0.8 * width), int(0.2 * height), int(0.9 * width), int(0.4 * height))
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def sent_picture(llm: RecordingVisionModel) -> Image.Image:
    (block,) = [b for b in llm.sent_blocks() if b.get("type") == "image"]
    return Image.open(io.BytesIO(base64.b64decode(block["url"].split(",", 1)[1])))


def test_region_crops_the_original_at_full_resolution(
    llm: RecordingVisionModel, layout: dict[str, Path]
) -> None:
    (layout["allowed"] / "big.png").write_bytes(quadrants_png())
    tool = QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"]])
    result = call(
        tool,
        image=str(layout["allowed"] / "big.png"),
        question="What?",
        region=[800, 200, 900, 400],
    )
    assert result.status == "success", result.content
    picture = sent_picture(llm).convert("RGB")
    assert picture.size == (200, 200)  # 10% x 20% of 2000 x 1000, not the downscaled view
    assert picture.getpixel((100, 100)) == (0, 255, 0)


def test_region_of_a_data_uri_and_its_refusals(llm: RecordingVisionModel) -> None:
    tool = QwenVLTool(llm=llm)
    uri = "data:image/png;base64," + base64.b64encode(quadrants_png()).decode()
    assert call(tool, image=uri, question="What?", region=[0, 0, 500, 1000]).status == "success"
    assert sent_picture(llm).convert("RGB").getpixel((10, 10)) == (255, 0, 0)
    remote = call(tool, image="https://x.test/a.png", question="What?", region=[0, 0, 10, 10])
    assert remote.status == "error"
    assert "cannot be cropped" in str(remote.content)
    several = call(tool, images=[uri, uri], question="What?", region=[0, 0, 10, 10])
    assert several.status == "error"
    assert "`region` zooms into `image`" in str(several.content)
    outside = call(tool, image=uri, question="What?", region=[0, 0, 10, 1200])
    assert outside.status == "error"
    assert "0-1000 grid" in str(outside.content)


# --- prepared once --------------------------------------------------------------------------------


def test_prepared_images_reach_the_wire_without_a_second_decode(
    layout: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tool prepares each file once, for the model's budget; ChatQwenVL sends it as it is
    (no header sniff, no pixel decode, no base64 decode of the prepared data URI)."""
    import httpx

    from langchain_qwen_vl import ChatQwenVL
    from langchain_qwen_vl.media import _codec, _sources

    photo = Image.frombytes("RGB", (3000, 2000), random.Random(0).randbytes(3000 * 2000 * 3))
    photo.save(layout["allowed"] / "photo.jpg", quality=80)
    bodies: list[dict[str, Any]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        message = {"role": "assistant", "content": ANSWER}
        return httpx.Response(
            200,
            json={
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "qwen3-vl-flash",
                "choices": [{"index": 0, "finish_reason": "stop", "message": message}],
                "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
            },
        )

    client = httpx.Client(transport=httpx.MockTransport(answer))
    llm = ChatQwenVL(
        api_key="sk-test",
        base_url="http://127.0.0.1:9/v1",
        http_client=client,
        max_pixels=1_000_000,
    )
    tool = QwenVLTool(llm=llm, allowed_dirs=[layout["allowed"]])
    prepared_blocks: list[Any] = []
    prepare = QwenVLTool._prepare

    def fail(*args: Any, **kwargs: Any) -> None:
        pytest.fail("an image the tool prepared was decoded again")

    def prepare_then_forbid_decoding(self: QwenVLTool, *args: Any) -> Any:
        prepared = prepare(self, *args)
        prepared_blocks.extend(prepared.message.content[:-1])
        for name in ("inspect", "decode", "reencode", "encode_pil"):
            monkeypatch.setattr(_codec, name, fail)
        monkeypatch.setattr(_sources, "decode", fail)
        return prepared

    monkeypatch.setattr(QwenVLTool, "_prepare", prepare_then_forbid_decoding)
    files = [str(layout["allowed"] / "photo.jpg"), str(layout["allowed"] / "sub" / "inner.png")]
    result = call(tool, images=files, question="Q")
    assert result.status == "success", result.content
    (body,) = bodies
    sent = [p for p in body["messages"][0]["content"] if p["type"] == "image_url"]
    assert [p["image_url"]["url"] for p in sent] == [b["url"] for b in prepared_blocks]
    photo_sent = base64.b64decode(sent[0]["image_url"]["url"].split(",", 1)[1])
    width, height = Image.open(io.BytesIO(photo_sent)).size
    assert width * height <= 1_000_000  # downscaled once, by the tool, for the model's budget
