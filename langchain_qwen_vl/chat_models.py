"""ChatQwenVL: the LangChain chat model for Qwen3-VL-Flash."""

from __future__ import annotations

import asyncio
import json
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Self

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LangSmithParams
from langchain_core.language_models.model_profile import ModelProfile
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.utils import from_env, secret_from_env
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticSerializationError, to_json

from langchain_qwen_vl import _params, _parse_guard, _tool_binding, _transport, media
from langchain_qwen_vl._endpoints import (
    REGION_BASE_URLS,
    Region,
    completions_url,
    normalise_base_url,
)
from langchain_qwen_vl._grounding_methods import GroundingMethodsMixin
from langchain_qwen_vl._pool import ClientPool, shared_ssl_context
from langchain_qwen_vl._retry_callbacks import notifier
from langchain_qwen_vl._wire import chat_completions, images_prompt
from langchain_qwen_vl._wire.chat_completions import MODEL_PROVIDER, StreamAssembler
from langchain_qwen_vl.errors import QwenVLInputError, QwenVLUnsupportedFeatureError
from langchain_qwen_vl.media._budget import PixelCount

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

__all__ = ["ChatQwenVL"]

_USER_AGENT = "langchain-qwen-vl/0.1.0"


@dataclass(frozen=True, slots=True, repr=False)
class _Fixed:
    """What every request of one model shares, built on its first call and dropped whenever
    one of its fields is assigned (``__setattr__``): several µs a call saved (bench_overhead)."""

    owner: int  # id() of the model: a model_copy() shares private attributes, not this
    fields: dict[str, Any]  # the per-call fields' values, copied into each call's params
    endpoint: _transport.Endpoint | None  # None: no API key (raised at the call)
    policy: _transport.RetryPolicy
    files: media.LocalFilePolicy
    identifying: dict[str, Any]  # _identifying_params (LangChain reads it on every call)


class ChatQwenVL(BaseChatModel, GroundingMethodsMixin):
    """Qwen3-VL-Flash chat model (DashScope / Alibaba Cloud Model Studio), on httpx.

    Setup:
        Install the package (see the README's Install section) and set
        ``DASHSCOPE_API_KEY``. A key works only in its region: pick ``region=`` (singapore by
        default, beijing, virginia, hongkong) or set ``base_url`` / ``DASHSCOPE_BASE_URL``.
        Without a key, try everything offline against the bundled emulator
        (``langchain_qwen_vl.emulator.run_emulator``).

    Key init args — request:
        model: model id, default ``qwen3-vl-flash``.
        temperature, top_p, top_k, max_tokens, seed, stop, presence_penalty: sampling.
        enable_thinking, thinking_budget: thinking mode (off unless enabled).
        vl_high_resolution_images, max_pixels, min_pixels: the per-image pixel budget; images
            above the cap are downscaled on the client to exactly what the server would keep.
        wire_format: ``"chat_completions"`` (default) or ``"images_prompt"`` (the documented
            images + prompt request: for one-shot questions about images on a deployment that
            only accepts that shape; no tools, stop sequences, seed or video).
        extra_body: extra JSON keys merged into every request.

    Key init args — client:
        api_key, base_url, region, timeout, max_retries, max_connections,
        max_keepalive_connections, default_headers, http_client, http_async_client,
        allow_insecure_http.

    Instantiate:
        .. code-block:: python

            from langchain_qwen_vl import ChatQwenVL

            llm = ChatQwenVL(temperature=0.2, max_tokens=512)

    Invoke:
        .. code-block:: python

            from langchain_core.messages import HumanMessage

            msg = HumanMessage(content=[
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image", "url": "https://example.com/cat.jpg"},
            ])
            llm.invoke([msg]).content

    Image input (any of these, anywhere in a message):
        http(s) URLs, ``data:`` URIs, LangChain standard blocks (``{"type": "image", "url"|
        "base64": ...}``), OpenAI ``image_url`` parts, local paths (``str``, ``Path``,
        ``file://``), raw ``bytes`` and PIL images (``{"type": "image", "image": <value>}`` or
        ``langchain_qwen_vl.image_block(value)``).

    Stream:
        .. code-block:: python

            for chunk in llm.stream([msg]):
                print(chunk.text, end="", flush=True)

    Async:
        ``await llm.ainvoke([msg])``, ``async for c in llm.astream([msg])``, ``await
        llm.abatch([[msg], [msg]])`` — native async on httpx.AsyncClient.

    Thinking:
        .. code-block:: python

            thinker = ChatQwenVL(enable_thinking=True, thinking_budget=2048)
            answer = thinker.invoke([msg])
            answer.additional_kwargs["reasoning_content"]  # also a "reasoning" content block

    Token usage:
        ``answer.usage_metadata`` → ``{"input_tokens", "output_tokens", "total_tokens",
        "input_token_details": {"cache_read", "image", "text"}, "output_token_details":
        {"reasoning"}}`` (details only when the service sends them).
        ``llm.get_num_tokens_from_messages([msg])`` estimates before sending.

    Response metadata:
        ``id``, ``model_name``, ``finish_reason``, ``system_fingerprint``, ``created``,
        ``model_provider`` (``"qwen"``).

    Errors:
        Every error subclasses ``langchain_qwen_vl.errors.QwenVLError`` and the matching
        ``langchain_core.exceptions`` class; bad input raises a ``ValueError`` subclass before
        any network call.
    """

    model_config = ConfigDict(populate_by_name=True, arbitrary_types_allowed=True)

    model: str = Field(default="qwen3-vl-flash", alias="model_name", min_length=1)
    """Model id, e.g. ``qwen3-vl-flash`` or the snapshot ``qwen3-vl-flash-2026-01-22``."""
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("DASHSCOPE_API_KEY", default=None),
        alias="dashscope_api_key",
    )
    """DashScope API key; read from ``DASHSCOPE_API_KEY`` when not given."""
    base_url: str | None = Field(default_factory=from_env("DASHSCOPE_BASE_URL", default=None))
    """Endpoint base (…/compatible-mode/v1); from ``DASHSCOPE_BASE_URL``, else from ``region``."""
    region: Region = "singapore"
    """Region whose endpoint is used when ``base_url`` is unset (keys are per region)."""
    wire_format: Literal["chat_completions", "images_prompt"] = "chat_completions"
    """``chat_completions`` (OpenAI-compatible messages) or ``images_prompt`` (images + prompt)."""
    temperature: Annotated[float, Field(ge=0, lt=2)] | None = None
    top_p: Annotated[float, Field(gt=0, le=1)] | None = None
    top_k: Annotated[int, Field(ge=0)] | None = None
    max_tokens: Annotated[int, Field(ge=1)] | None = None
    seed: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    presence_penalty: Annotated[float, Field(ge=-2, le=2)] | None = None
    enable_thinking: bool | None = None
    """Thinking mode; the service keeps it off unless this is True."""
    thinking_budget: Annotated[int, Field(ge=1)] | None = None
    vl_high_resolution_images: bool | None = None
    """Fix the pixel cap at 16,777,216 per image (ignores ``max_pixels``)."""
    max_pixels: PixelCount | None = None
    """Default per-image pixel cap (server default 2,621,440); a block may set its own."""
    min_pixels: PixelCount | None = None
    allowed_dirs: tuple[Path, ...] | None = None
    """Local files the model may read: None (default) any path; a list only files inside those
    directories (after resolving symlinks and ``..``, also for ``file://``); ``[]`` no local
    file at all (URLs, data URIs, bytes and PIL images still work). Set it when messages come
    from outside your code (a web request, an agent's tool output)."""
    timeout: Annotated[float, Field(gt=0)] | None = 120.0
    """Seconds to wait for the service (connect: at most 10 s). Set, it applies to every
    request, also through a client you pass; unset, such a client keeps its own timeout."""
    max_retries: Annotated[int, Field(ge=0)] = 2
    streaming: bool = False
    stream_usage: bool = True
    """Ask for usage in streams (``stream_options.include_usage``)."""
    extra_body: dict[str, Any] | None = None
    """Extra JSON keys merged into each request body (never mutated)."""
    default_headers: dict[str, str] | None = None
    """Headers added to every request. Assign a new dict to change them: an edit in place
    after the first call is not seen (the headers are built once per value)."""
    allow_insecure_http: bool = False
    """Allow a plain-http base_url on a non-loopback host (the key travels in clear text)."""
    max_connections: Annotated[int, Field(ge=1)] | None = 256
    """Most connections open at once per event loop (and for sync calls); ``None``: no cap.

    The default lets ``abatch``'s default (unbounded) concurrency and 256 concurrent streams
    run without queueing; connections open only as concurrency needs them."""
    max_keepalive_connections: Annotated[int, Field(ge=0)] | None = None
    """Idle connections kept for reuse; ``None``: as many as ``max_connections``."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own sync client (its pool, proxies, limits); created lazily when unset."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own async client; created lazily (one pool per event loop) when unset."""

    _client: ClientPool[httpx.Client] | None = PrivateAttr(default=None)
    _async_clients: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, ClientPool[httpx.AsyncClient]
    ] = PrivateAttr(default_factory=weakref.WeakKeyDictionary)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _fixed: _Fixed | None = PrivateAttr(default=None)

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if not name.startswith("_"):  # a field changed: rebuild the request constants
            private = getattr(self, "__pydantic_private__", None)
            if private is not None:
                private["_fixed"] = None

    @field_validator("allowed_dirs", mode="before")
    @classmethod
    def _normalise_allowed_dirs(cls, value: Any) -> tuple[Path, ...] | None:
        return media.normalise_dirs(value)

    @model_validator(mode="after")
    def _check_base_url(self) -> Self:
        if self.base_url is not None:
            self.base_url = normalise_base_url(
                self.base_url, allow_insecure_http=self.allow_insecure_http
            )
        return self

    # --- LangChain conventions --------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return "qwen-vl-chat"

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": "DASHSCOPE_API_KEY"}

    @classmethod
    def is_lc_serializable(cls) -> bool:
        # langchain-core's load() revives only classes on its own allow-list (ours is not).
        return False

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return dict(self._constants().identifying)  # a copy: callers may add keys

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider=MODEL_PROVIDER,
            ls_model_name=str(kwargs.get("model") or self.model),
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        return ModelProfile(
            name="Qwen3-VL-Flash",
            max_input_tokens=262_144,
            max_output_tokens=32_768,
            text_inputs=True,
            image_inputs=True,
            image_url_inputs=True,
            video_inputs=True,
            image_tool_message=True,
            pdf_inputs=False,
            audio_inputs=False,
            text_outputs=True,
            reasoning_output=True,
            tool_calling=True,
            tool_choice=True,
            tool_call_streaming=True,
            structured_output=True,
        )

    # --- connection ----------------------------------------------------------------------

    @property
    def resolved_base_url(self) -> str:
        """The base URL requests go to (``base_url`` if set, else the region's)."""
        return self.base_url or REGION_BASE_URLS[self.region]

    def _constants(self) -> _Fixed:
        # Read through __pydantic_private__: pydantic's private-attribute lookup costs ~1.5 µs.
        fixed: _Fixed | None = self.__pydantic_private__["_fixed"]  # type: ignore[index]
        if fixed is None or fixed.owner != id(self):
            fixed = _Fixed(
                owner=id(self),
                fields={name: getattr(self, name) for name in _params.PER_CALL_FIELDS},
                endpoint=self._build_endpoint(),
                policy=_transport.RetryPolicy(max_retries=self.max_retries),
                files=media.LocalFilePolicy(self.allowed_dirs),
                identifying=self._build_identifying_params(),
            )
            self.__pydantic_private__["_fixed"] = fixed  # type: ignore[index]
        return fixed

    def _build_identifying_params(self) -> dict[str, Any]:
        params = {name: getattr(self, name) for name in _params.SAMPLING_FIELDS}
        params |= {"model": self.model, "wire_format": self.wire_format, "stop": self.stop}
        return {k: v for k, v in params.items() if v is not None}

    def _build_endpoint(self) -> _transport.Endpoint | None:
        if self.api_key is None or not self.api_key.get_secret_value():
            return None
        headers = {
            "Authorization": f"Bearer {self.api_key.get_secret_value()}",
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
            "User-Agent": _USER_AGENT,
        }
        if self.default_headers:
            headers |= self.default_headers
        base = self.resolved_base_url
        # A timeout you set applies to every request, through your own http_client too.
        timeout = self._httpx_timeout() if "timeout" in self.model_fields_set else None
        return _transport.Endpoint(completions_url(base), headers, base, timeout)

    def _endpoint(self) -> _transport.Endpoint:
        endpoint = self._constants().endpoint
        if endpoint is None:
            raise QwenVLInputError(
                "api_key: no DashScope API key — pass api_key=... or set DASHSCOPE_API_KEY "
                "(or run offline against langchain_qwen_vl.emulator.run_emulator())."
            )
        return endpoint

    def _policy(self) -> _transport.RetryPolicy:
        return self._constants().policy

    def _httpx_timeout(self) -> httpx.Timeout:
        connect = min(self.timeout, 10.0) if self.timeout is not None else 10.0
        return httpx.Timeout(self.timeout, connect=connect)

    def _limits(self) -> dict[str, Any]:
        return {
            "max_connections": self.max_connections,
            "max_keepalive_connections": self.max_keepalive_connections,
        }

    def _sync_client(self) -> httpx.Client | ClientPool[httpx.Client]:
        if self.http_client is not None:
            return self.http_client
        client: ClientPool[httpx.Client] | None = self.__pydantic_private__["_client"]  # type: ignore[index]
        if client is not None:  # the common case: no lock, no private-attribute lookup
            return client
        with self._lock:
            if self._client is None:
                timeout, verify = self._httpx_timeout(), shared_ssl_context()
                self._client = ClientPool(
                    lambda limits: httpx.Client(timeout=timeout, limits=limits, verify=verify),
                    **self._limits(),
                )
            return self._client

    def _async_client(self) -> httpx.AsyncClient | ClientPool[httpx.AsyncClient]:
        if self.http_async_client is not None:
            return self.http_async_client
        # An AsyncClient's pool belongs to the event loop that opened its connections, so keep
        # one per loop (pytest-asyncio and asyncio.run() each bring a fresh loop).
        loop = asyncio.get_running_loop()
        clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, ClientPool[httpx.AsyncClient]
        ] = self.__pydantic_private__["_async_clients"]  # type: ignore[index]
        pool = clients.get(loop)
        if pool is not None:  # the common case: no lock, no private-attribute lookup
            return pool
        with self._lock:
            pool = self._async_clients.get(loop)
            if pool is None:
                timeout, verify = self._httpx_timeout(), shared_ssl_context()
                pool = ClientPool(
                    lambda limits: httpx.AsyncClient(timeout=timeout, limits=limits, verify=verify),
                    **self._limits(),
                )
                self._async_clients[loop] = pool
            return pool

    def close(self) -> None:
        """Close the sync clients this model created (a user-given client is left open)."""
        with self._lock:
            pool, self._client = self._client, None
        for client in pool.take_all() if pool is not None else []:
            client.close()

    async def aclose(self) -> None:
        """Close the async clients this model created for the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            pool = self._async_clients.pop(loop, None)
        for client in pool.take_all() if pool is not None else []:
            await client.aclose()

    # --- request building (pure) ----------------------------------------------------------

    def _call_params(self, stop: list[str] | None, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The effective parameters of one call: fields overridden by validated kwargs."""
        return _params.resolve(type(self), self._constants().fields, stop, kwargs)

    def _media_options(self, params: Mapping[str, Any]) -> media.MediaOptions:
        return media.MediaOptions(
            max_pixels=params["max_pixels"],
            min_pixels=params["min_pixels"],
            vl_high_resolution_images=bool(params["vl_high_resolution_images"]),
        )

    def _file_policy(self) -> media.LocalFilePolicy:
        return self._constants().files

    def _check_expressible(
        self, messages: Sequence[BaseMessage], params: Mapping[str, Any]
    ) -> None:
        """Refuse what the wire format cannot say before any image is prepared."""
        if self.wire_format == "images_prompt":
            images_prompt.refuse_undocumented(
                {k: params[k] for k in ("stop", "seed", "top_k", "presence_penalty", "min_pixels")}
                | params["_body"]
            )
            images_prompt.check_expressible(messages)

    def _build_payload(
        self,
        messages: Sequence[BaseMessage],
        stop: list[str] | None = None,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The JSON body for ``messages``: images prepared (files read, downscaled) here."""
        params = self._call_params(stop, kwargs)
        self._check_expressible(messages, params)
        prepared = media.prepare_messages(
            messages, self._media_options(params), self._file_policy()
        )
        return self._payload(prepared, params, stream=stream)

    async def _abuild_payload(
        self,
        messages: Sequence[BaseMessage],
        stop: list[str] | None = None,
        *,
        stream: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """:meth:`_build_payload` with file reads and pixel work off the event loop."""
        params = self._call_params(stop, kwargs)
        self._check_expressible(messages, params)
        prepared = await media.aprepare_messages(
            messages, self._media_options(params), self._file_policy()
        )
        return self._payload(prepared, params, stream=stream)

    def _payload(
        self, prepared: Sequence[media.PreparedMessage], params: Mapping[str, Any], *, stream: bool
    ) -> dict[str, Any]:
        """The body from prepared messages (pure: no I/O)."""
        if self.wire_format == "images_prompt":
            body = images_prompt.build_request(prepared, model=params["model"], params=params)
            if params["extra_body"]:
                body |= params["extra_body"]
            return body
        payload: dict[str, Any] = {
            "model": params["model"],
            "messages": chat_completions.messages_to_wire(prepared),
        }
        payload |= {k: params[k] for k in _params.SAMPLING_FIELDS if params[k] is not None}
        if params["stop"]:
            payload["stop"] = params["stop"]
        payload |= params["_body"]
        if stream:
            payload["stream"] = True
            if params["stream_usage"]:
                payload["stream_options"] = {"include_usage": True}
        if params["extra_body"]:
            payload |= params["extra_body"]
        if "tool_choice" in payload:
            payload["tool_choice"] = _tool_binding.resolve_tool_choice(
                payload["tool_choice"], payload.get("tools") or []
            )
        _tool_binding.check_request_against_thinking(payload)
        return payload

    def _encode(self, payload: Mapping[str, Any]) -> bytes:
        # pydantic-core's encoder (compact UTF-8, as json.dumps(ensure_ascii=False) writes
        # it): ~5x faster than the json module on a request body.
        try:
            return to_json(payload)
        except PydanticSerializationError as error:
            raise QwenVLInputError(
                f"request body: a value cannot be sent as JSON ({error}) — pass only JSON "
                "types (str, int, float, bool, None, list, dict) in extra_body, tools and "
                "per-call arguments."
            ) from error

    # --- generation -------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = self._encode(self._build_payload(messages, stop, **kwargs))
        response = _transport.post_json(
            self._sync_client(), self._endpoint(), body, self._policy(), notifier(run_manager)
        )
        return _parse_guard.parse_result(response)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        body = self._encode(await self._abuild_payload(messages, stop, **kwargs))
        response = await _transport.apost_json(
            self._async_client(), self._endpoint(), body, self._policy(), notifier(run_manager)
        )
        return _parse_guard.parse_result(response)

    # Streams: langchain-core calls _stream/_astream from stream()/astream() without a run
    # manager, so retries of those show in the log only; a streamed invoke passes one.

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        if self.wire_format == "images_prompt":
            # The images + prompt request has no streaming flag: one request, one chunk.
            yield _as_single_chunk(self._generate(messages, stop, run_manager, **kwargs))
            return
        body = self._encode(self._build_payload(messages, stop, stream=True, **kwargs))
        assembler = StreamAssembler(output_version=self.output_version)
        events = _transport.stream_events(
            self._sync_client(), self._endpoint(), body, self._policy(), notifier(run_manager)
        )
        for payload in events:
            chunk = _parse_guard.feed(assembler, payload)
            if chunk is not None:
                yield chunk
        if (last := assembler.finish()) is not None:
            yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        if self.wire_format == "images_prompt":
            yield _as_single_chunk(await self._agenerate(messages, stop, run_manager, **kwargs))
            return
        body = self._encode(await self._abuild_payload(messages, stop, stream=True, **kwargs))
        assembler = StreamAssembler(output_version=self.output_version)
        events = _transport.astream_events(
            self._async_client(), self._endpoint(), body, self._policy(), notifier(run_manager)
        )
        async for payload in events:
            chunk = _parse_guard.feed(assembler, payload)
            if chunk is not None:
                yield chunk
        if (last := assembler.finish()) is not None:
            yield last

    # --- tools and structured output ----------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        parallel_tool_calls: bool | None = None,
        strict: bool | None = None,
        response_format: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (pydantic models, functions, ``BaseTool`` or OpenAI dicts) to the model.

        ``tool_choice``: ``"auto"``, ``"none"``, a tool name, a dict naming a function, or
        ``"any"``/``"required"``/``True`` — DashScope has no "required" mode, so these force the
        tool when exactly one is bound; with several, the call raises a clear error before any
        request is sent. Forcing a tool while
        thinking is refused by the service, so it is refused here before sending.
        ``parallel_tool_calls`` is sent as given (the service default is False).
        ``response_format`` (a schema or a response_format dict, as ``create_agent`` passes
        it) is bound too. The instance is never mutated.

        Example:
            >>> def add(a: int, b: int) -> int:
            ...     \"\"\"Add two integers.\"\"\"
            ...     return a + b
            >>> llm = ChatQwenVL(api_key="sk-test").bind_tools([add], tool_choice="add")
        """
        if self.wire_format == "images_prompt":
            raise QwenVLUnsupportedFeatureError(
                "tools: the images_prompt wire format has no tools — create the model with "
                "wire_format='chat_completions' to call tools."
            )
        formatted = _tool_binding.format_tools(tools, strict=strict)
        # An empty "tools" array is rejected by OpenAI-compatible servers; send none instead.
        bind_kwargs: dict[str, Any] = {"tools": formatted} if formatted else {}
        choice = _tool_binding.resolve_tool_choice(tool_choice, formatted, defer_required=True)
        if choice is not None:
            bind_kwargs["tool_choice"] = choice
            thinking = kwargs.get("enable_thinking", self.enable_thinking)
            _tool_binding.check_request_against_thinking(
                {"enable_thinking": thinking, "tool_choice": choice}
            )
        if parallel_tool_calls is not None:
            bind_kwargs["parallel_tool_calls"] = parallel_tool_calls
        if response_format is not None:
            bind_kwargs["response_format"] = _tool_binding.response_format_for(
                response_format, strict=strict
            )
        return super().bind(**bind_kwargs, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: _tool_binding.StructuredOutputMethod = "json_schema",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Return a runnable whose output follows ``schema`` (pydantic v2, TypedDict, JSON Schema).

        Methods: ``"json_schema"`` (default; ``response_format: json_schema``, works with
        thinking on), ``"function_calling"`` (forces the schema as a tool; refused while
        thinking) and ``"json_mode"`` (``json_object``; refused while thinking, and the
        messages must mention "json"). Thinking is never switched off behind your back: the
        refused combinations raise a clear error instead. Output that does not validate raises
        ``OutputParserException`` with the raw text in ``llm_output`` (or, with
        ``include_raw=True``, comes back as ``{"raw", "parsed": None, "parsing_error"}``).
        """
        if kwargs:
            raise QwenVLInputError(
                f"with_structured_output: unexpected arguments {sorted(kwargs)} — use schema, "
                "method, include_raw, strict."
            )
        if self.wire_format == "images_prompt":
            raise QwenVLUnsupportedFeatureError(
                "with_structured_output: the images_prompt wire format has no response_format "
                "or tools — use wire_format='chat_completions'."
            )
        return _tool_binding.structured_output_runnable(
            self,
            schema,
            method=method,
            include_raw=include_raw,
            strict=strict,
            thinking=bool(self.enable_thinking),
        )

    # --- token estimates -------------------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """Rough text token estimate (no tokenizer ships offline): ~4 UTF-8 bytes a token."""
        return (len(text.encode()) + 3) // 4

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Estimate input tokens: images and videos by the service's formulas, text roughly.

        Images are measured from their headers only (no pixel decoded), with the same budget
        and rules as the request, so the count matches what the service bills for them.
        Remote image URLs are not downloaded; they count as the cap's maximum (an upper bound).
        """
        options = self._media_options(self._call_params(None, {}))
        total = media.count_tokens(messages, options, self._file_policy(), self.get_num_tokens)
        if tools:
            total += self.get_num_tokens(json.dumps([_tool_repr(t) for t in tools]))
        return total


def _tool_repr(tool: Any) -> Any:
    return tool if isinstance(tool, (dict, str)) else getattr(tool, "name", repr(tool))


def _as_single_chunk(result: ChatResult) -> ChatGenerationChunk:
    message = result.generations[0].message
    assert isinstance(message, AIMessage)
    chunk = AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        usage_metadata=message.usage_metadata,
        id=message.id,
    )
    return ChatGenerationChunk(message=chunk, generation_info=result.generations[0].generation_info)
