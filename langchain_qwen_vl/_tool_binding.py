"""Tools, tool choice and structured output: what ``bind_tools`` and
``with_structured_output`` send, and the refusals the service would otherwise answer with a 400.

The service: ``tool_choice`` takes ``auto``, ``none`` or a named function — there is no
``required`` — and naming a function is refused while thinking; ``response_format``
``json_object`` is refused while thinking and needs the word "json" in the messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_qwen_vl.errors import QwenVLUnsupportedFeatureError

if TYPE_CHECKING:
    from langchain_core.language_models import LanguageModelInput
    from langchain_core.messages import BaseMessage
    from langchain_core.runnables import Runnable
    from langchain_core.tools import BaseTool

# langchain_core.tools, output parsers and function_calling cost hundreds of milliseconds to
# import; they are imported inside the functions that need them so that `import
# langchain_qwen_vl` stays fast for the many users who never bind a tool.

StructuredOutputMethod = Literal["json_schema", "function_calling", "json_mode"]

_THINKING_FIX = (
    "use a model without thinking (ChatQwenVL(enable_thinking=False), or "
    "llm.model_copy(update={'enable_thinking': False})), or use method='json_schema', which "
    "works with thinking on"
)


def format_tools(
    tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
    *,
    strict: bool | None = None,
) -> list[dict[str, Any]]:
    """Convert tools to the OpenAI function format (anything ``convert_to_openai_tool`` takes)."""
    from langchain_core.utils.function_calling import convert_to_openai_tool

    return [convert_to_openai_tool(tool, strict=strict) for tool in tools]


def _tool_names(tools: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(t.get("function", {}).get("name")) for t in tools if t.get("type") == "function"]


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def resolve_tool_choice(
    tool_choice: str | bool | dict[str, Any] | None,
    tools: Sequence[Mapping[str, Any]],
    *,
    defer_required: bool = False,
) -> str | dict[str, Any] | None:
    """Map LangChain's tool_choice values to what DashScope accepts, or raise a clear error.

    With ``defer_required`` (used by ``bind_tools``), ``"any"`` over several tools is kept as
    ``"required"`` and refused when the request is built, still before anything is sent.

    Example:
        >>> tools = [{"type": "function", "function": {"name": "add"}}]
        >>> resolve_tool_choice("any", tools)
        {'type': 'function', 'function': {'name': 'add'}}
    """
    names = _tool_names(tools)
    if tool_choice is None or tool_choice is False:
        return None
    if tool_choice in ("auto", "none"):
        return str(tool_choice)
    if tool_choice in ("any", "required") or tool_choice is True:
        if len(names) == 1:
            return _named(names[0])
        if defer_required:
            return "required"
        raise QwenVLUnsupportedFeatureError(
            f"tool_choice={tool_choice!r}: DashScope has no 'required' mode, so forcing 'some "
            f"tool' works only with exactly one tool and {len(names)} are bound "
            f"({', '.join(names)}) — pass the name of the tool to force, bind only that tool, "
            "or use tool_choice='auto'."
        )
    if isinstance(tool_choice, str):
        if tool_choice not in names:
            raise QwenVLUnsupportedFeatureError(
                f"tool_choice={tool_choice!r}: no bound tool has that name — bound tools: "
                f"{', '.join(names) or 'none'}."
            )
        return _named(tool_choice)
    if isinstance(tool_choice, Mapping):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        if not name:
            raise QwenVLUnsupportedFeatureError(
                f"tool_choice={dict(tool_choice)!r}: a dict tool_choice must name a function, "
                "e.g. {'type': 'function', 'function': {'name': 'my_tool'}}."
            )
        return _named(str(name))
    raise QwenVLUnsupportedFeatureError(
        f"tool_choice={tool_choice!r}: use 'auto', 'none', 'any', a tool name, or a dict."
    )


def check_request_against_thinking(payload: Mapping[str, Any]) -> None:
    """Refuse, before sending, the combinations the service rejects while thinking."""
    if not payload.get("enable_thinking"):
        return
    tool_choice = payload.get("tool_choice")
    if isinstance(tool_choice, Mapping):
        name = tool_choice.get("function", {}).get("name")
        raise QwenVLUnsupportedFeatureError(
            f"tool_choice={{'function': {{'name': {name!r}}}}}: the service refuses to force a "
            "tool while thinking (enable_thinking=True) — use tool_choice='auto', or set "
            "enable_thinking=False for this call."
        )
    response_format = payload.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_object":
        raise QwenVLUnsupportedFeatureError(
            "response_format={'type': 'json_object'}: the service refuses JSON mode while "
            f"thinking (enable_thinking=True) — {_THINKING_FIX}."
        )


def response_format_for(schema: Any, *, strict: bool | None = None) -> dict[str, Any]:
    """A ``json_schema`` response_format for a pydantic model, TypedDict or JSON Schema dict.

    A dict that already is a response_format (``{"type": "json_schema", ...}``) is kept.
    """
    if isinstance(schema, Mapping) and schema.get("type") in ("json_schema", "json_object"):
        return dict(schema)
    from langchain_core.utils.function_calling import convert_to_json_schema

    json_schema = convert_to_json_schema(schema)
    name = json_schema.get("title") or getattr(schema, "__name__", None) or "response"
    spec: dict[str, Any] = {"name": str(name), "schema": json_schema}
    if "description" in json_schema:
        spec["description"] = json_schema["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def _is_pydantic_class(schema: Any) -> bool:
    from langchain_core.utils.pydantic import is_basemodel_subclass

    return isinstance(schema, type) and is_basemodel_subclass(schema)


def structured_output_runnable(
    llm: Runnable[LanguageModelInput, BaseMessage],
    schema: Any,
    *,
    method: StructuredOutputMethod,
    include_raw: bool,
    strict: bool | None,
    thinking: bool,
) -> Runnable[LanguageModelInput, Any]:
    """Bind ``llm`` for structured output and attach the matching parser."""
    from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
    from langchain_core.output_parsers.openai_tools import (
        JsonOutputKeyToolsParser,
        PydanticToolsParser,
    )
    from langchain_core.runnables import RunnableMap, RunnablePassthrough
    from langchain_core.utils.function_calling import convert_to_openai_tool

    if schema is None and method != "json_mode":
        raise ValueError(
            f"schema: required for method={method!r} — pass a pydantic model, "
            "TypedDict or JSON Schema dict, or use method='json_mode'."
        )
    ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable[Any, Any]
    if method == "json_schema":
        bound = llm.bind(
            response_format=response_format_for(schema, strict=strict),
            ls_structured_output_format=ls_format,
        )
        parser = (
            PydanticOutputParser(pydantic_object=schema)
            if _is_pydantic_class(schema)
            else JsonOutputParser()
        )
    elif method == "function_calling":
        if thinking:
            raise QwenVLUnsupportedFeatureError(
                "method='function_calling': it forces the schema's tool, which the service "
                f"refuses while thinking (enable_thinking=True) — {_THINKING_FIX}."
            )
        tool = convert_to_openai_tool(schema, strict=strict)
        name = tool["function"]["name"]
        bound = llm.bind(
            tools=[tool], tool_choice=_named(name), ls_structured_output_format=ls_format
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if _is_pydantic_class(schema)
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method == "json_mode":
        if thinking:
            raise QwenVLUnsupportedFeatureError(
                "method='json_mode': the service refuses JSON mode while thinking — "
                f"{_THINKING_FIX}."
            )
        bound = llm.bind(
            response_format={"type": "json_object"}, ls_structured_output_format=ls_format
        )
        parser = (
            PydanticOutputParser(pydantic_object=schema)
            if _is_pydantic_class(schema)
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"method={method!r}: use 'json_schema' (default), 'function_calling' or 'json_mode'."
        )
    if not include_raw:
        return bound | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    fallback = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=bound) | parse.with_fallbacks([fallback], exception_key="parsing_error")
