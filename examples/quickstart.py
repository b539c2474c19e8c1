"""Quickstart: describe an image, stream an answer, think, and count tokens.

With DASHSCOPE_API_KEY set this calls the real Qwen3-VL-Flash service. Without it, it starts
the bundled emulator on 127.0.0.1 (answers are labelled "[emulator]"; it is not the model).

    make demo            # or: python examples/quickstart.py
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from langchain_core.messages import HumanMessage

from langchain_qwen_vl import ChatQwenVL, image_block

ASSETS = Path(__file__).parent / "assets"
PHOTO = ASSETS / "scene.jpg"


@contextlib.contextmanager
def chat_model() -> Iterator[ChatQwenVL]:
    if os.environ.get("DASHSCOPE_API_KEY"):
        print("Using the real Qwen3-VL-Flash service (DASHSCOPE_API_KEY is set).")
        yield ChatQwenVL()
        return
    from langchain_qwen_vl.emulator import run_emulator

    with run_emulator() as emulator:
        print(
            f"No DASHSCOPE_API_KEY: using the local emulator at {emulator.base_url} "
            "(answers are generated from the image's pixels, not by the model)."
        )
        yield ChatQwenVL(api_key="sk-emulator", base_url=emulator.base_url)


def main() -> None:
    with chat_model() as llm:
        question = HumanMessage(
            content=[
                {"type": "text", "text": "Describe this picture in two sentences."},
                image_block(PHOTO),  # a local file: sent as a data URI, downscaled if too big
            ]
        )

        print("\n== 1. Describe a bundled image (invoke)")
        answer = llm.invoke([question])
        print(answer.text)

        print("\n== 2. Stream the answer token by token")
        for chunk in llm.stream([question]):
            print(chunk.text, end="|", flush=True)
        print()

        print("\n== 3. Thinking mode: reasoning shown apart from the answer")
        thinker = llm.bind(enable_thinking=True, thinking_budget=256)
        reasoning, text = [], []
        for chunk in thinker.stream([question]):
            reasoning.append(chunk.additional_kwargs.get("reasoning_content", ""))
            text.append(chunk.text)
        print("reasoning:", "".join(reasoning).strip())
        print("answer:   ", "".join(text).strip())

        print("\n== 4. Token usage")
        estimate = llm.get_num_tokens_from_messages([question])
        usage = answer.usage_metadata or {}
        print(f"estimated before sending: {estimate} input tokens")
        print(
            f"reported by the service:  {usage.get('input_tokens')} in, "
            f"{usage.get('output_tokens')} out, {usage.get('total_tokens')} total "
            f"(details: {usage.get('input_token_details', {})})"
        )


if __name__ == "__main__":
    main()
