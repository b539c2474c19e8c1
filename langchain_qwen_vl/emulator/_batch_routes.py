"""HTTP routes of the emulated Batch API (files and batches), on the emulator's Starlette app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from langchain_qwen_vl.emulator._batch import BatchService, batch_error
from langchain_qwen_vl.emulator._errors import ServiceError, new_request_id
from langchain_qwen_vl.emulator._responses import dumps

_Handler = Callable[[Request], Awaitable[Response]]


def _service(request: Request) -> BatchService:
    service: BatchService = request.app.state.emulator.batch
    return service


def _guarded(handler: _Handler) -> _Handler:
    async def wrapped(request: Request) -> Response:
        from langchain_qwen_vl.emulator._server import _check_auth

        request_id = new_request_id()
        try:
            _check_auth(request)
            return await handler(request)
        except ServiceError as error:
            body = error.body(request_id)
            return Response(
                dumps(body),
                status_code=error.status,
                media_type="application/json",
                headers={"x-request-id": request_id},
            )

    return wrapped


def _ok(payload: Any) -> Response:
    return Response(
        dumps(payload), media_type="application/json", headers={"x-request-id": new_request_id()}
    )


async def upload_file(request: Request) -> Response:
    service = _service(request)
    async with request.form(max_part_size=1 << 30) as form:
        upload, purpose = form.get("file"), form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise batch_error("'file' is required (multipart/form-data)", param="file")
        record = await run_in_threadpool(
            service.add_file, upload.file, upload.filename or "upload.jsonl", str(purpose or "")
        )
    return _ok(record.wire())


async def list_files(request: Request) -> Response:
    service = _service(request)
    data = [f.wire() for f in sorted(service.files.values(), key=lambda f: -f.created_at)]
    return _ok({"object": "list", "data": data, "has_more": False})


async def get_file(request: Request) -> Response:
    return _ok(_service(request).file(request.path_params["file_id"]).wire())


async def delete_file(request: Request) -> Response:
    service = _service(request)
    return _ok(await run_in_threadpool(service.delete_file, request.path_params["file_id"]))


async def file_content(request: Request) -> Response:
    record = _service(request).file(request.path_params["file_id"])
    if not record.id.startswith("file-batch_output-"):
        raise batch_error(
            "Only file ids starting with file-batch_output can be downloaded", code="invalid_file"
        )

    async def chunks() -> AsyncIterator[bytes]:
        with open(record.path, "rb") as fh:
            while chunk := await run_in_threadpool(fh.read, 1 << 16):
                yield chunk

    return StreamingResponse(chunks(), media_type="application/jsonl")


async def create_batch(request: Request) -> Response:
    try:
        body = json.loads(await request.body())
    except ValueError:
        body = None
    return _ok(_service(request).create(body).wire())


async def get_batch(request: Request) -> Response:
    service = _service(request)
    record = service.get(request.path_params["batch_id"])
    return _ok((await service.observe(record, request.app.state.emulator)).wire())


async def cancel_batch(request: Request) -> Response:
    service = _service(request)
    record = await service.observe(
        service.get(request.path_params["batch_id"]), request.app.state.emulator
    )
    return _ok((await service.cancel(record)).wire())


async def list_batches(request: Request) -> Response:
    service = _service(request)
    params = request.query_params
    try:
        limit = int(params.get("limit", "20"))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise batch_error("limit must be between 1 and 100", param="limit")
    wanted = {s for s in (params.get("status") or "").split(",") if s}
    records = sorted(service.batches.values(), key=lambda r: -r.created)
    after = params.get("after")
    if after:
        ids = [r.id for r in records]
        records = records[ids.index(after) + 1 :] if after in ids else []
    page = []
    for record in records:
        await service.observe(record, request.app.state.emulator)
        if not wanted or record.status in wanted:
            page.append(record.wire())
        if len(page) > limit:
            break
    data, more = page[:limit], len(page) > limit
    return _ok(
        {
            "object": "list",
            "data": data or None,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }
    )


def batch_routes(prefixes: tuple[str, ...] = ("", "/compatible-mode/v1")) -> list[Route]:
    """The file and batch routes under each prefix."""
    table: list[tuple[str, _Handler, str]] = [
        ("/files", upload_file, "POST"),
        ("/files", list_files, "GET"),
        ("/files/{file_id}", get_file, "GET"),
        ("/files/{file_id}", delete_file, "DELETE"),
        ("/files/{file_id}/content", file_content, "GET"),
        ("/batches", create_batch, "POST"),
        ("/batches", list_batches, "GET"),
        ("/batches/{batch_id}", get_batch, "GET"),
        ("/batches/{batch_id}/cancel", cancel_batch, "POST"),
    ]
    routes: list[Route] = []
    for prefix in prefixes:
        by_path: dict[str, dict[str, _Handler]] = {}
        for path, handler, method in table:
            by_path.setdefault(prefix + path, {})[method] = _guarded(handler)
        for path, handlers in by_path.items():
            routes.append(Route(path, _dispatch(handlers), methods=list(handlers)))
    return routes


def _dispatch(handlers: dict[str, _Handler]) -> _Handler:
    async def endpoint(request: Request) -> Response:
        return await handlers[request.method](request)

    return endpoint
