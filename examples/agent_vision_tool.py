"""An agent whose model *is* the vision model: ChatQwenVL looks at a picture and calls tools.

`langchain.agents.create_agent` with ChatQwenVL as the model and two plain tools: a paint-code
lookup and a calculator. The first question needs the image (which colour dominates?) and the
lookup; the follow-up, in the same conversation, needs the calculator.

With DASHSCOPE_API_KEY set this calls the real Qwen3-VL-Flash service. Without it, it starts
the bundled emulator on 127.0.0.1, which is not a model but acts as a plain agent: it calls
the tool whose topic the question mentions ("paint code") or whose arguments the question
fills (an arithmetic expression for the calculator), fills the arguments from the prompt and
from what it measures in the image (here: the dominant colour), and answers a tool result with
"[emulator] The tool returned: …".

    python examples/agent_vision_tool.py
"""

from __future__ import annotations

import ast
import contextlib
import operator
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool

from langchain_qwen_vl import ChatQwenVL, image_block

PHOTO = Path(__file__).parent / "assets" / "scene.jpg"

PAINT_CODES = {
    "blue": "RAL 5005 Signal blue",
    "red": "RAL 3020 Traffic red",
    "green": "RAL 6018 Yellow green",
    "yellow": "RAL 1023 Traffic yellow",
    "white": "RAL 9016 Traffic white",
    "black": "RAL 9005 Jet black",
    "grey": "RAL 7035 Light grey",
}

_OPERATORS: dict[type[ast.AST], Callable[..., float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.left), _evaluate(node.right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _OPERATORS:
        return _OPERATORS[type(node.op)](_evaluate(node.operand))
    raise ValueError("only numbers, + - * / ** and parentheses are allowed")


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression such as "4.5 * 3 * 2" (numbers, + - * / **, ())."""
    try:
        value = _evaluate(ast.parse(expression.replace("×", "*"), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError) as error:
        return f"cannot evaluate {expression!r}: {error}"
    return f"{expression} = {value:g}"


@tool
def lookup_paint_code(colour: str) -> str:
    """Look up the RAL paint code for a colour name such as "blue" or "dark red"."""
    words = colour.lower().replace("-", " ").split()
    for name, code in PAINT_CODES.items():
        if name in words or (name == "grey" and "gray" in words):
            return f"{colour}: {code}"
    return f"no paint code for {colour!r}; known colours: {', '.join(PAINT_CODES)}"


@contextlib.contextmanager
def vision_model() -> Iterator[ChatQwenVL]:
    if os.environ.get("DASHSCOPE_API_KEY"):
        print("Using the real Qwen3-VL-Flash service (DASHSCOPE_API_KEY is set).")
        yield ChatQwenVL(temperature=0)
        return
    from langchain_qwen_vl.emulator import run_emulator

    with run_emulator() as emulator:
        print(f"No DASHSCOPE_API_KEY: using the local emulator at {emulator.base_url}.")
        yield ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url)


def show(message: AnyMessage) -> None:
    """Print one step of the agent's run."""
    if isinstance(message, AIMessage) and message.tool_calls:
        for call in message.tool_calls:
            print(f"  model calls {call['name']}({call['args']})")
    elif isinstance(message, AIMessage):
        print(f"  model answers: {message.text}")
    elif isinstance(message, ToolMessage):
        print(f"  {message.name} returned: {message.text}")


def ask(agent: Any, history: list[AnyMessage], question: HumanMessage) -> list[AnyMessage]:
    """Run one turn, printing each step as it happens; return the whole conversation."""
    messages = [*history, question]
    for update in agent.stream({"messages": messages}, stream_mode="updates"):
        for step in update.values():
            for message in (step or {}).get("messages", []):
                show(message)
                messages.append(message)
    return messages


def main() -> None:
    with vision_model() as llm:
        agent = create_agent(
            llm,
            tools=[lookup_paint_code, calculator],
            system_prompt="You can see images. Use the tools for paint codes and arithmetic.",
        )

        print("\n== 1. A question about the picture that needs a tool")
        first = HumanMessage(
            content=[
                image_block(PHOTO),
                {
                    "type": "text",
                    "text": "Which colour covers most of this picture, and what is its paint code?",
                },
            ]
        )
        print("  user: Which colour covers most of this picture, and what is its paint code?")
        history = ask(agent, [], first)

        print("\n== 2. A follow-up in the same conversation that needs the calculator")
        follow_up = "I will paint a 4.5 m by 3 m wall twice: how many square metres is 4.5 * 3 * 2?"
        print(f"  user: {follow_up}")
        history = ask(agent, history, HumanMessage(follow_up))

        tools_used = [m.name for m in history if isinstance(m, ToolMessage)]
        print(f"\nDone: {len(history)} messages, tools used: {', '.join(map(str, tools_used))}.")


if __name__ == "__main__":
    main()
