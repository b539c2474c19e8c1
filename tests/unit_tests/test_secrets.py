"""The API key never leaks: repr, str, dumps, serialization, DEBUG logs, errors, tracebacks.

(``pickle`` of a model keeps the key on purpose: that is how it is restored.)
"""

from __future__ import annotations

import logging
import traceback

import httpx
import pytest
from langchain_core.load import dumpd, dumps

from langchain_qwen_vl import ChatQwenVL, _transport
from langchain_qwen_vl.errors import QwenVLError

KEY = "sk-leak-canary-0123456789"
OK_BODY = {"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"content": "hi"}}]}


def _model(handler: object, **kwargs: object) -> ChatQwenVL:
    client = httpx.Client(transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    return ChatQwenVL(
        api_key=KEY, base_url="https://dashscope.test/v1", http_client=client, **kwargs
    )  # type: ignore[arg-type]


def test_not_in_any_rendering_of_the_model() -> None:
    llm = ChatQwenVL(api_key=KEY, base_url="https://dashscope.test/v1")
    llm._endpoint()  # the header exists now; the key still must not show
    renderings = [
        repr(llm),
        str(llm),
        str(llm.model_dump()),
        llm.model_dump_json(),
        str(dumpd(llm)),
        dumps(llm),
        repr(llm._endpoint()),
        str(llm._identifying_params),
        str(llm._get_ls_params()),
    ]
    for text in renderings:
        assert KEY not in text


def test_not_in_debug_logs_of_httpx_httpcore_or_ours(caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {KEY}"  # it is sent...
        return httpx.Response(200, json=OK_BODY)

    with caplog.at_level(logging.DEBUG):
        for name in ("httpx", "httpcore", "langchain_qwen_vl"):
            logging.getLogger(name).setLevel(logging.DEBUG)
        _model(handler).invoke("hello")
    assert caplog.records  # DEBUG logging really was on
    for record in caplog.records:
        assert KEY not in record.getMessage()  # ...but never logged
        assert KEY not in str(record.args)


def test_not_in_retry_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(_transport, "_sleep", lambda delay: None)
    answers = [httpx.Response(500, json={}), httpx.Response(200, json=OK_BODY)]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with caplog.at_level(logging.DEBUG, logger="langchain_qwen_vl"):
        _model(handler, max_retries=1).invoke("hello")
    assert any("retry 1 of 1" in r.getMessage() for r in caplog.records)
    assert all(KEY not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(401, json={"error": {"code": "invalid_api_key", "message": "bad key"}}),
        httpx.Response(200, content=b"{not json"),
        httpx.ConnectError("refused"),
    ],
)
def test_not_in_error_messages_or_tracebacks(answer: httpx.Response | Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    with pytest.raises(QwenVLError) as info:
        _model(handler, max_retries=0).invoke("hello")
    error = info.value
    assert KEY not in str(error)
    assert KEY not in repr(error)
    assert KEY not in "".join(traceback.format_exception(error))
    for value in vars(error).values():
        assert KEY not in repr(value)
