"""The emulator's body faults on the wire, seen with raw httpx (no ChatQwenVL in between).

These pin what each fault sends, so the fault matrix tests the client against known server
behaviour: ``stall`` answers nothing, ``*-mid``/``cut`` break a started body, the others send
well-formed HTTP with a bogus body.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from langchain_qwen_vl.emulator import EmulatorHandle, run_emulator
from langchain_qwen_vl.emulator._faults import split_faults

BODY = {"model": "qwen3-vl-flash", "messages": [{"role": "user", "content": "hello there"}]}
STREAM_BODY = {**BODY, "stream": True, "stream_options": {"include_usage": True}}


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorHandle]:
    with run_emulator() as handle:
        yield handle


@pytest.fixture
def client(emu: EmulatorHandle) -> Iterator[httpx.Client]:
    headers = {"Authorization": "Bearer sk-test"}
    timeout = httpx.Timeout(0.3, connect=2.0)
    with httpx.Client(base_url=emu.base_url, headers=headers, timeout=timeout) as c:
        yield c


def _post(client: httpx.Client, fault: str, body: dict[str, Any] = BODY) -> httpx.Response:
    return client.post("/chat/completions", json=body, headers={"X-Emulator-Fault": fault})


def test_stall_sends_nothing_until_the_client_gives_up(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        _post(client, "stall")


def test_stall_mid_sends_the_head_and_half_a_stream(client: httpx.Client) -> None:
    request = client.build_request(
        "POST", "/chat/completions", json=STREAM_BODY, headers={"X-Emulator-Fault": "stall-mid"}
    )
    response = client.send(request, stream=True)
    try:
        assert response.status_code == 200
        lines: list[str] = []
        with pytest.raises(httpx.ReadTimeout):
            lines.extend(response.iter_lines())
        assert any(line.startswith("data: {") for line in lines)
        assert "data: [DONE]" not in lines
    finally:
        response.close()


@pytest.mark.parametrize("fault", ["reset-mid", "cut"])
def test_broken_bodies_fail_part_way(client: httpx.Client, fault: str) -> None:
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _post(client, fault)
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        _post(client, fault, STREAM_BODY)


def test_html502_is_a_proxy_page(client: httpx.Client) -> None:
    response = _post(client, "html502")
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "502 Bad Gateway" in response.text
    assert "x-request-id" not in response.headers


def test_malformed_is_a_200_that_is_not_json(client: httpx.Client) -> None:
    response = _post(client, "malformed")
    assert response.status_code == 200
    with pytest.raises(ValueError, match="Extra data"):
        json.loads(response.content)
    first = _post(client, "malformed", STREAM_BODY).text.split("\n\n")[0]
    with pytest.raises(ValueError, match="Expecting value"):
        json.loads(first.removeprefix("data: "))


def test_stream_error_is_an_error_object_inside_a_200(client: httpx.Client) -> None:
    response = _post(client, "stream-error", STREAM_BODY)
    assert response.status_code == 200
    [event] = [block for block in response.text.split("\n\n") if block]
    payload = json.loads(event.removeprefix("data: "))
    assert payload["error"]["code"] == "internal_error"
    assert payload["id"] == f"chatcmpl-{response.headers['x-request-id']}"
    plain = _post(client, "stream-error")
    assert (plain.status_code, plain.json()["error"]["code"]) == (200, "internal_error")


def test_empty_choices(client: httpx.Client) -> None:
    response = _post(client, "empty-choices")
    assert response.status_code == 200
    assert response.json()["choices"] == []
    assert response.json()["id"].startswith("chatcmpl-")
    events = _post(client, "empty-choices", STREAM_BODY).text.split("\n\n")
    assert json.loads(events[0].removeprefix("data: "))["choices"] == []
    assert events[1] == "data: [DONE]"


def test_unknown_fault_names_the_new_kinds() -> None:
    with pytest.raises(ValueError, match="stall-mid"):
        split_faults("stall-forever")
