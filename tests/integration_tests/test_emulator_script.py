"""Scripted replies over real loopback HTTP, from Python and from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from langchain_qwen_vl import ChatQwenVL
from langchain_qwen_vl.emulator import run_emulator
from langchain_qwen_vl.emulator.__main__ import load_replies
from langchain_qwen_vl.emulator.__main__ import main as cli_main

AUTH = {"Authorization": "Bearer sk-test"}
BODY = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]}
CALL = {
    "type": "function",
    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
}


def test_run_emulator_replies_list_then_a_clear_error() -> None:
    with run_emulator(replies=["one", {"content": "two", "tool_calls": [CALL]}]) as emu:
        first = httpx.post(emu.base_url + "/chat/completions", json=BODY, headers=AUTH)
        assert first.json()["choices"][0]["message"]["content"] == "one"
        stream = httpx.post(
            emu.base_url + "/chat/completions", json={**BODY, "stream": True}, headers=AUTH
        )
        events = [e[len("data: ") :] for e in stream.text.strip().split("\n\n")]
        deltas = [json.loads(e)["choices"][0]["delta"] for e in events[:-1]]
        assert "".join(d.get("content") or "" for d in deltas) == "two"
        arguments = "".join(
            d["tool_calls"][0]["function"]["arguments"] for d in deltas if "tool_calls" in d
        )
        assert json.loads(arguments) == {"city": "Paris"}
        assert json.loads(events[-2])["choices"][0]["finish_reason"] == "tool_calls"
        third = httpx.post(emu.base_url + "/chat/completions", json=BODY, headers=AUTH)
        assert third.status_code == 400
        assert third.json()["error"]["code"] == "emulator_script_exhausted"
        assert len(emu.requests) == 3


def test_chat_model_over_loopback_with_a_reply_function() -> None:
    def reply(request: Any) -> str:
        return f"you said {request.text!r}"

    with run_emulator(replies=reply) as emu:
        llm = ChatQwenVL(api_key="sk-test", base_url=emu.base_url)
        assert llm.invoke("hello").content == "you said 'hello'"
        assert "".join(str(c.content) for c in llm.stream("hello")) == "you said 'hello'"


def test_replies_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "replies.jsonl"
    jsonl.write_text('"plain text"\n\n{"content": "an object"}\nnull\n', encoding="utf-8")
    assert load_replies(jsonl) == ["plain text", {"content": "an object"}, None]
    listed = tmp_path / "replies.json"
    listed.write_text('["a", "b"]', encoding="utf-8")
    assert load_replies(listed) == ["a", "b"]
    listed.write_text('{"content": "a"}', encoding="utf-8")
    with pytest.raises(ValueError, match="expected a JSON list"):
        load_replies(listed)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('"ok"\n{oops\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not JSON"):
        load_replies(bad)
    bad.write_text('{"text": "wrong key"}\n', encoding="utf-8")
    assert cli_main(["--port", "0", "--replies", str(bad)]) == 2


def test_cli_serves_scripted_replies(tmp_path: Path) -> None:
    replies = tmp_path / "replies.jsonl"
    replies.write_text('"from the file"\n', encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "langchain_qwen_vl.emulator", "--port", "0", "--replies", replies],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        first = httpx.post(base_url + "/chat/completions", json=BODY, headers=AUTH)
        assert first.json()["choices"][0]["message"]["content"] == "from the file"
        second = httpx.post(base_url + "/chat/completions", json=BODY, headers=AUTH)
        assert second.json()["error"]["code"] == "emulator_script_exhausted"
    finally:
        process.terminate()
        process.wait(timeout=10)


_LEAK_TESTS = """
import pytest
from langchain_qwen_vl.emulator import in_process_emulator

@pytest.fixture(scope="module")
def shared():
    with in_process_emulator() as emu:
        yield emu

def test_a_queues_faults_and_uses_one(shared):
    shared.inject_faults("500", "429", "429")
    body = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "Hi"}]}
    headers = {"Authorization": "Bearer sk-test"}
    response = shared.http_client.post("/chat/completions", json=body, headers=headers)
    assert response.status_code == 500

def test_b_starts_without_them(shared):
    assert shared.pending_faults == ()

def test_c_session_emulator_queues_faults(qwen_emulator):
    qwen_emulator.inject_faults("500")

def test_d_session_emulator_starts_clean(qwen_emulator):
    assert qwen_emulator.pending_faults == ()
"""


def test_faults_on_a_shared_emulator_end_with_the_test(tmp_path: Path) -> None:
    """The plugin users enable (``pytest_plugins = [...pytest_plugin]``), on tests in order."""
    (tmp_path / "test_leak.py").write_text(_LEAK_TESTS, encoding="utf-8")
    root = Path(__file__).resolve().parents[2]
    code = pytest.main(
        [
            *("-q", "-c", str(root / "pyproject.toml")),
            *("-p", "langchain_qwen_vl.emulator.pytest_plugin"),
            *("-p", "no:randomly", "-p", "no:cacheprovider", str(tmp_path / "test_leak.py")),
        ]
    )
    assert code == pytest.ExitCode.OK
