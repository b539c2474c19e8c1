"""Adopting a batch a crashed run created, found by its file's hash in ``metadata`` (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from langchain_qwen_vl import ChatQwenVL, QwenVLBatch
from langchain_qwen_vl.batch import PART_TAG_KEY, QwenVLBatchJob


def _tag(inputs: list[str]) -> str:
    """The hash ``submit`` puts in the metadata of the one file ``inputs`` make."""
    files = QwenVLBatch(ChatQwenVL(api_key="sk-test", region="beijing"))._write_parts(inputs)
    try:
        [part] = files.parts
        return part.tag
    finally:
        files.close()


class ListingService:
    """Answers ``GET /batches`` with ``pages`` (one per call) and counts uploads and creates."""

    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[str] = []
        self.created: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/compatible-mode/v1")
        self.calls.append(f"{request.method} {path}?{request.url.query.decode()}".rstrip("?"))
        if (request.method, path) == ("GET", "/batches"):
            return httpx.Response(200, json=self.pages.pop(0))
        if (request.method, path) == ("POST", "/files"):
            return httpx.Response(200, json={"id": "file-batch-1"})
        body = json.loads(request.content)
        self.created.append(body)
        return httpx.Response(200, json={"id": "batch_new", "status": "validating"})


def _batch(service: ListingService, **options: Any) -> QwenVLBatch:
    client = httpx.Client(transport=httpx.MockTransport(service))
    llm = ChatQwenVL(api_key="sk-test", region="beijing", http_client=client)
    return QwenVLBatch(llm, **options)


def _listed(batch_id: str, tag: str, status: str = "completed") -> dict[str, Any]:
    return {"id": batch_id, "status": status, "metadata": {PART_TAG_KEY: tag}}


def test_the_newest_tagged_batch_that_ran_is_adopted_across_list_pages() -> None:
    tag = _tag(["a"])
    service = ListingService(
        [
            {
                "data": [_listed("batch_9", "0" * 64), _listed("batch_8", tag, "failed")],
                "has_more": True,
                "last_id": "batch_8",
            },
            {
                "data": [_listed("batch_7", tag, "in_progress"), _listed("batch_6", tag)],
                "has_more": True,
                "last_id": "batch_6",
            },
        ]
    )
    parts: list[QwenVLBatchJob] = []
    job = _batch(service, adopt_existing=True).submit(["a"], on_part=parts.append)
    assert job.id == "qvlb2:batch_7@0+1"  # batch_8 failed (nothing ran); batch_7 is newer than 6
    assert [p.id for p in parts] == [job.id]
    # the second page was asked for after the first one's last id; no third page, no upload
    assert service.calls == ["GET /batches?limit=100", "GET /batches?limit=100&after=batch_8"]


def test_nothing_tagged_so_the_file_goes_up_with_its_tag() -> None:
    service = ListingService([{"data": None, "has_more": False, "first_id": None}])
    job = _batch(service, adopt_existing=True).submit(["a"])
    assert job.id == "qvlb2:batch_new@0+1"
    assert service.calls == ["GET /batches?limit=100", "POST /files", "POST /batches"]
    assert service.created[0]["metadata"][PART_TAG_KEY] == _tag(["a"])


def test_without_adopt_existing_nothing_is_listed() -> None:
    service = ListingService([])
    _batch(service).submit(["a"])
    assert service.calls == ["POST /files", "POST /batches"]
