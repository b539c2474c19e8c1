"""Batch HTTP on a mock transport (no sockets): retries, the unretried create, partial submit."""

from __future__ import annotations

import json

import httpx
import pytest

from langchain_qwen_vl import ChatQwenVL, QwenVLBatch, QwenVLBatchError, _transport

BASE = "https://dashscope.aliyuncs.com/compatible-mode/v1"


class FakeService:
    """Answers /files and /batches; ``fail`` maps "METHOD path" to a list of statuses to send."""

    def __init__(self, fail: dict[str, list[int]]) -> None:
        self.fail = fail
        self.calls: list[str] = []
        self.created = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        where = f"{request.method} {request.url.path.removeprefix('/compatible-mode/v1')}"
        self.calls.append(where)
        assert request.headers["authorization"] == "Bearer sk-test"
        queued = self.fail.get(where)
        if queued:
            status = queued.pop(0)
            return httpx.Response(status, json={"error": {"code": "x", "message": "boom"}})
        if where == "POST /files":
            assert b'name="purpose"' in request.content
            assert b"batch" in request.content
            assert request.headers["content-type"].startswith("multipart/form-data")
            return httpx.Response(200, json={"id": f"file-batch-{len(self.calls)}"})
        if where == "POST /batches":
            self.created += 1
            body = json.loads(request.content)
            assert body["endpoint"] == "/v1/chat/completions"
            assert body["completion_window"] == "24h"
            return httpx.Response(200, json={"id": f"batch_{self.created}", "status": "validating"})
        return httpx.Response(404, json={"error": {"message": "no"}})


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_transport, "_sleep", lambda _: None)


def _batch(service: FakeService, **options: object) -> QwenVLBatch:
    client = httpx.Client(transport=httpx.MockTransport(service))
    llm = ChatQwenVL(api_key="sk-test", region="beijing", http_client=client, max_retries=2)
    return QwenVLBatch(llm, **options)  # type: ignore[arg-type]


def test_upload_is_retried_and_create_is_not() -> None:
    service = FakeService({"POST /files": [500], "POST /batches": [500]})
    with pytest.raises(QwenVLBatchError, match="no job was created") as caught:
        _batch(service).submit(["a", "b"])
    assert service.calls == ["POST /files", "POST /files", "POST /batches"]
    assert caught.value.code == "submit_failed"
    assert isinstance(caught.value.__cause__, Exception)


def test_partial_submit_names_the_job_to_collect_or_cancel() -> None:
    service = FakeService({})
    original = service.__call__

    def second_create_fails(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/batches") and service.created == 1:
            service.calls.append("POST /batches (failed)")
            return httpx.Response(503, json={"error": {"message": "busy"}})
        return original(request)

    client = httpx.Client(transport=httpx.MockTransport(second_create_fails))
    llm = ChatQwenVL(api_key="sk-test", region="beijing", http_client=client)
    with pytest.raises(QwenVLBatchError, match=r"qvlb2:batch_1@0\+1") as caught:
        QwenVLBatch(llm, max_requests_per_file=1).submit(["a", "b"])
    assert caught.value.job_id == "qvlb2:batch_1@0+1"
    assert service.calls.count("POST /batches (failed)") == 1
