"""The vision tool: lets any tool-calling agent — even one driven by a text-only LLM — look at
images through a vision chat model (normally :class:`~langchain_qwen_vl.ChatQwenVL`).

Safety model, in one paragraph: the arguments come from an LLM, and an LLM can be talked into
anything by text it reads (prompt injection). So the tool never reads a local file outside the
directories its owner allowed (``allowed_dirs``, empty by default: URLs only), and it refuses
such a path with the same message whether or not the file exists. A path must be inside an
allowed directory both as written (``..`` folded, no file system access) and once every
symlink is resolved; the file is then opened without following a final symlink and, on Linux,
the opened file's real path is checked again. Refusals and model errors come back to the agent
as a ``ToolMessage`` with ``status="error"``, never as an exception that ends the run.
"""

from __future__ import annotations

import asyncio
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from langchain_core.exceptions import ModelError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import ArgsSchema, BaseTool, ToolException
from langchain_core.tools.base import ToolExceptionHandlerOutput
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic.v1 import ValidationError as ValidationErrorV1
from typing_extensions import TypedDict

__all__ = ["QwenVLTool", "QwenVLToolInput", "VisionToolArtifact"]

_DESCRIPTION = (
    "Look at one or more images and answer a question about them. You cannot see images "
    "yourself: use this tool whenever the answer depends on what an image shows (objects, "
    "text, numbers in a chart, colours, layout) and you have the image's URL or file path. "
    "Pass `image` for one image or `images` for several looked at together — exactly one of "
    "the two — and a self-contained `question`: the tool sees only the images and the "
    "question, not this conversation."
)
_NO_FILES_NOTE = " Images must be http(s) URLs or data: URIs; local files are not available."
_FILES_NOTE = (
    " Images may be http(s) URLs, data: URIs, or paths of local files in the directories this "
    "application allows."
)
_URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_SHOWN_CHARS = 120
_DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024


class QwenVLToolInput(BaseModel):
    """The arguments the calling LLM gives: ``image`` or ``images`` (exactly one), ``question``.

    Example:
        >>> QwenVLToolInput(image="https://example.com/cat.jpg", question="What animal?").image
        'https://example.com/cat.jpg'
    """

    image: str | None = Field(
        default=None,
        min_length=1,
        description="One image: an http(s) URL, a data: URI, or a local file path.",
    )
    images: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Several images looked at together (same forms as `image`). Use instead "
        "of `image`, never together with it.",
    )
    question: str = Field(
        min_length=1,
        description="What to find out about the image(s). Self-contained: the tool does not "
        "see the conversation.",
    )
    region: list[float] | None = Field(
        default=None,
        min_length=4,
        max_length=4,
        description="Optional: look closer at one part of `image`, given as a box [x1, y1, x2, "
        "y2] on a 0-1000 grid of the picture (as boxes from a localization answer are "
        "written). The region is cropped at full resolution before the model sees it.",
    )

    @model_validator(mode="after")
    def _exactly_one_image_argument(self) -> Self:
        if (self.image is None) == (self.images is None):
            raise ValueError(
                "give exactly one of `image` (one URL or path) or `images` (a list of them)"
            )
        if self.images is not None and any(not item.strip() for item in self.images):
            raise ValueError("`images` holds an empty string; give a URL or path for each image")
        if self.region is not None and self.image is None:
            raise ValueError("`region` zooms into `image`; give one `image` with it")
        if self.region is not None and not all(0 <= v <= 1000 for v in self.region):
            raise ValueError("`region` values are on a 0-1000 grid: each between 0 and 1000")
        return self


class VisionToolArtifact(TypedDict):
    """The artifact of a ``response_format="content_and_artifact"`` call (not shown to the LLM).

    ``sources`` lists what was sent, one entry per image: the URL, the resolved path of a local
    file, or ``data:<mime>;… (N chars)`` for a data URI.
    """

    model_name: str | None
    usage_metadata: UsageMetadata | None
    reasoning: str | None
    finish_reason: str | None
    sources: list[str]


def _format_validation_error(error: ValidationError | ValidationErrorV1) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "Invalid arguments: " + "; ".join(problems) + "."


def _shown(reference: str) -> str:
    """A reference as quoted back in messages: short, and never a whole data URI."""
    if reference[:5].lower() == "data:":
        head = reference.split(",", 1)[0][:60]
        return f"{head},… ({len(reference):,} chars)"
    return repr(reference if len(reference) <= _SHOWN_CHARS else reference[:_SHOWN_CHARS] + "…")


@dataclass(frozen=True, slots=True)
class _Prepared:
    message: HumanMessage
    sources: list[str]


# --- the tool ------------------------------------------------------------------------------


class QwenVLTool(BaseTool):
    """A tool that answers questions about images with a vision chat model.

    Give it to any tool-calling agent; the calling LLM passes ``image`` (one URL or path) or
    ``images`` (a list), and a ``question``; the tool returns the vision model's answer text.

    Key init args:
        llm: the vision chat model, normally ``ChatQwenVL(...)`` (any LangChain chat model that
            takes standard image blocks works). Its own settings (``max_pixels``,
            ``enable_thinking``, ``max_retries`` …) apply to every call.
        allowed_dirs: directories whose files the tool may read (default: none — URLs only).
            Paths are checked after resolving ``..`` and symlinks; anything outside is refused.
            Relative paths given by the agent are taken from the current working directory.
        response_format: ``"content"`` (default) or ``"content_and_artifact"``, whose artifact
            (:class:`VisionToolArtifact`) carries ``usage_metadata``, ``reasoning`` (when the
            model thinks), ``model_name``, ``finish_reason`` and the ``sources`` sent.
        max_images: most images in one call (default 8).
        max_file_bytes: largest local file read (default 64 MiB).
        llm_tags: tags put on the vision model's runs (default ``("nostream",)``: in an agent
            streamed with LangGraph's ``stream_mode="messages"``, the tool's own model does not
            stream its tokens out as if they were the agent's). ``llm_tags=()`` streams them.

    Image references: http(s) URLs are passed to the model as they are (with ChatQwenVL the
    service downloads them; this tool makes no request of its own). ``data:`` URIs are
    accepted — they carry their bytes and open no file. ``file://`` URLs and plain paths go
    through the ``allowed_dirs`` check. Other URL schemes are refused.

    Errors: a refused path, an unreadable file, bad arguments, and any model error (a rate
    limit after the model's retries, a moderation refusal, a bad image — every
    ``langchain_core.exceptions.ModelError``, so every ``QwenVLError``) come back as tool
    output. Invoked with a tool call (as agents do), that is a ``ToolMessage`` with
    ``status="error"`` whose content says what went wrong; invoked with plain arguments, it is
    that text. A refusal reads the same whether or not the file exists.

    Example:
        .. code-block:: python

            from langchain_qwen_vl import ChatQwenVL, QwenVLTool

            look = QwenVLTool(llm=ChatQwenVL(), allowed_dirs=["examples/assets"])
            look.invoke({"image": "examples/assets/scene.jpg", "question": "What shape?"})
    """

    name: str = "look_at_image"
    description: str = _DESCRIPTION
    args_schema: ArgsSchema | None = QwenVLToolInput
    handle_tool_error: bool | str | Callable[[ToolException], ToolExceptionHandlerOutput] | None = (
        True
    )
    handle_validation_error: (
        bool | str | Callable[[ValidationError | ValidationErrorV1], str] | None
    ) = _format_validation_error

    llm: BaseChatModel
    """The vision chat model that answers (normally ``ChatQwenVL``)."""
    allowed_dirs: tuple[Path, ...] = ()
    """Directories whose files may be read (absolute; symlinks in them resolved at each call)."""
    max_images: int = Field(default=8, ge=1)
    """Most images accepted in one call."""
    max_file_bytes: int = Field(default=_DEFAULT_MAX_FILE_BYTES, ge=1)
    """Largest local file read."""
    llm_tags: tuple[str, ...] = ("nostream",)
    """Tags on the vision model's runs; ``"nostream"`` keeps its tokens out of an agent's
    ``stream_mode="messages"`` stream. ``()`` lets them through."""

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _resolve_allowed_dirs(cls, value: Any) -> tuple[Path, ...]:
        from langchain_qwen_vl.media import normalise_dirs

        return normalise_dirs(value) or ()

    @model_validator(mode="after")
    def _describe_file_access(self) -> Self:
        if "description" not in self.model_fields_set:
            self.description = _DESCRIPTION + (_FILES_NOTE if self.allowed_dirs else _NO_FILES_NOTE)
        return self

    # --- building the request (no model call) ----------------------------------------------

    def _refusal(self, label: str) -> ToolException:
        if not self.allowed_dirs:
            return ToolException(
                f"Refused: {label} is a local file, and this tool reads no local files. Pass an "
                "http(s) URL or a data: URI instead."
            )
        return ToolException(
            f"Refused: {label} is outside the directories this tool may read. Pass an http(s) "
            "URL, a data: URI, or a file inside the allowed directories."
        )

    def _image_block(
        self, reference: str, label: str, region: list[float] | None = None
    ) -> tuple[dict[str, Any], str]:
        """The content block for one image reference and how it is listed in ``sources``."""
        text = reference.strip()
        lowered = text[:8].lower()
        if lowered.startswith(("http://", "https://")):
            if not urllib.parse.urlsplit(text).netloc:
                raise ToolException(f"{label} is not a valid URL: it has no host.")
            if region is not None:
                raise ToolException(
                    f"Could not zoom into {label}: an http(s) image is never downloaded here, so "
                    "it cannot be cropped — ask about the whole image, or pass a local file."
                )
            return {"type": "image", "url": text}, text
        if lowered.startswith("data:"):
            if region is not None:
                return self._prepared(text, label, region), _shown(text) + _region_note(region)
            return {"type": "image", "url": text}, _shown(text)
        scheme = _URL_SCHEME.match(text)
        if scheme and len(scheme.group(1)) > 1 and "://" in text[:40] and lowered[:5] != "file:":
            raise ToolException(
                f"{label} uses an unsupported URL scheme ({scheme.group(1)}:) — pass an "
                "http(s) URL, a data: URI or a local file path."
            )
        from langchain_qwen_vl import media
        from langchain_qwen_vl.media import _sources

        # The same policy as ChatQwenVL(allowed_dirs=...); the tool's default is no files.
        policy = media.LocalFilePolicy(self.allowed_dirs)
        try:
            path = _sources.path_from_str(text, "image", policy=policy)
            data = policy.read(path, self.max_file_bytes, "this tool's limit")
        except _sources.FileRefused:
            raise self._refusal(label) from None
        except ValueError as error:  # QwenVLImageError: a remote file URL, no such file …
            raise ToolException(f"Could not use {label}: {_detail(error)}") from None
        except media.FileProblem as problem:
            if problem.refused:
                raise self._refusal(label) from None
            raise ToolException(f"Could not read {label}: {problem.reason}.") from None
        return self._prepared(data, label, region), path + _region_note(region)

    def _prepared(
        self, data: bytes | str, label: str, region: list[float] | None
    ) -> dict[str, Any]:
        """The image prepared here, once, for the model's budget (the model sends it as it
        is); with ``region``, the crop of the original at full resolution."""
        from langchain_qwen_vl import media

        try:
            source: Any = data
            if region is not None:
                from langchain_qwen_vl.grounding import crop_region

                source = crop_region(data, region)
            prepared = media.prepare_image(source, **_budget_of(self.llm))
        except ValueError as error:  # QwenVLImageError: not an image, empty, bad size
            raise ToolException(f"Could not use {label}: {_detail(error)}") from None
        return media.prepared_block(prepared)

    def _prepare(
        self,
        question: str,
        image: str | None,
        images: list[str] | None,
        region: list[float] | None = None,
    ) -> _Prepared:
        if images is not None:
            references = list(images)
            labels = [f"images[{i}] {_shown(ref)}" for i, ref in enumerate(references)]
        elif image is not None:
            references, labels = [image], [f"image {_shown(image)}"]
        else:  # the args schema rules this out; direct _run calls may not go through it
            raise ToolException("Invalid arguments: give `image` or `images`.")
        if len(references) > self.max_images:
            raise ToolException(
                f"Too many images: {len(references)} given, this tool takes at most "
                f"{self.max_images} in one call — ask about fewer at a time."
            )
        blocks: list[dict[str, Any]] = []
        sources: list[str] = []
        for reference, label in zip(references, labels, strict=True):
            block, source = self._image_block(reference, label, region)
            blocks.append(block)
            sources.append(source)
        content: list[str | dict[str, Any]] = [*blocks, {"type": "text", "text": question}]
        return _Prepared(HumanMessage(content=content), sources)

    # --- the answer ------------------------------------------------------------------------

    def _model_failure(self, error: ModelError) -> ToolException:
        hint = (
            " This may be temporary; you can try again later or go on without the image."
            if error.is_retryable
            else ""
        )
        return ToolException(f"The vision model failed ({type(error).__name__}): {error}{hint}")

    def _output(
        self, answer: BaseMessage, prepared: _Prepared
    ) -> str | tuple[str, VisionToolArtifact]:
        text = answer.text.strip()
        metadata = answer.response_metadata
        finish_reason = metadata.get("finish_reason")
        if not text:
            raise ToolException(
                f"The vision model returned no text (finish_reason={finish_reason!r}); try a "
                "shorter or clearer question."
            )
        if self.response_format != "content_and_artifact":
            return text
        usage = answer.usage_metadata if isinstance(answer, AIMessage) else None
        artifact: VisionToolArtifact = {
            "model_name": metadata.get("model_name") or metadata.get("model"),
            "usage_metadata": usage,
            "reasoning": _reasoning_of(answer),
            "finish_reason": finish_reason,
            "sources": prepared.sources,
        }
        return text, artifact

    def _llm_config(self) -> RunnableConfig | None:
        return {"tags": list(self.llm_tags)} if self.llm_tags else None

    def _run(
        self,
        question: str,
        image: str | None = None,
        images: list[str] | None = None,
        region: list[float] | None = None,
    ) -> str | tuple[str, VisionToolArtifact]:
        prepared = self._prepare(question, image, images, region)
        try:
            answer = self.llm.invoke([prepared.message], config=self._llm_config())
        except ModelError as error:
            raise self._model_failure(error) from error
        return self._output(answer, prepared)

    async def _arun(
        self,
        question: str,
        image: str | None = None,
        images: list[str] | None = None,
        region: list[float] | None = None,
    ) -> str | tuple[str, VisionToolArtifact]:
        # Reading files and pixels blocks: keep it off the event loop.
        prepared = await asyncio.to_thread(self._prepare, question, image, images, region)
        try:
            answer = await self.llm.ainvoke([prepared.message], config=self._llm_config())
        except ModelError as error:
            raise self._model_failure(error) from error
        return self._output(answer, prepared)


def _detail(error: ValueError) -> str:
    """A media error's message without its ``where:`` prefix (the tool names the image)."""
    return str(error).split(": ", 1)[-1].replace("image bytes", "the file", 1)


def _region_note(region: list[float] | None) -> str:
    return "" if region is None else f" region {[round(v, 1) for v in region]}"


def _budget_of(llm: BaseChatModel) -> dict[str, Any]:
    """The pixel budget fields of the tool's model (a ChatQwenVL has them; others do not)."""
    names = ("max_pixels", "min_pixels", "vl_high_resolution_images")
    return {name: value for name in names if (value := getattr(llm, name, None)) is not None}


def _reasoning_of(message: BaseMessage) -> str | None:
    """The model's reasoning text, from ``reasoning_content`` or standard reasoning blocks."""
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        return reasoning
    parts = [
        str(block.get("reasoning") or "")
        for block in message.content_blocks
        if block.get("type") == "reasoning"
    ]
    joined = "".join(parts)
    return joined or None
