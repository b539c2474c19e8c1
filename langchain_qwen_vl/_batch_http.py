"""HTTP calls of the Batch API (files and batches), sync and async, on the model's clients.

Retries follow the model's policy (429, 5xx, connection errors, timeouts) through the
transport's one retry decision — except creating a batch, which has no idempotency key: a
retried create could start (and bill) a job twice, so it is sent once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from langchain_qwen_vl import _transport
from langchain_qwen_vl._pool import ClientPool
from langchain_qwen_vl.errors import QwenVLError

C = TypeVar("C", httpx.Client, httpx.AsyncClient)


def _answer(response: httpx.Response, endpoint: _transport.Endpoint) -> dict[str, Any]:
    """The JSON object of a Batch API answer, or the error the real-time path would raise (a
    2xx that is not a JSON object is a response error, never retried)."""
    body = response.content
    if response.status_code >= 400:
        raise _transport._status_error(response, body, endpoint)
    return _transport._decode_json(response, body, endpoint, require_choices=False)


def one_client(client: C | ClientPool[C]) -> C:
    """A client for a one-off call: the model's own, or the least busy one of its pool."""
    if isinstance(client, ClientPool):
        slot, chosen = client.acquire()
        client.release(slot)  # a handful of short calls: no need to hold the slot
        return chosen
    return client


@dataclass(frozen=True)
class BatchHttp:
    """Where and how to call the Batch API (headers hold the key; never printed)."""

    base_url: str
    headers: Mapping[str, str]
    policy: _transport.RetryPolicy
    client: Callable[[], httpx.Client]
    aclient: Callable[[], httpx.AsyncClient]

    def __repr__(self) -> str:
        return f"BatchHttp(base_url={self.base_url!r})"

    def _endpoint(self, path: str, *, json_body: bool = True) -> _transport.Endpoint:
        headers = dict(self.headers)
        if not json_body:
            headers.pop("Content-Type", None)  # httpx sets the multipart boundary
        headers["Accept"] = "application/json"
        return _transport.Endpoint(
            url=self.base_url + path, headers=headers, base_url=self.base_url
        )

    # --- one retried request ----------------------------------------------------------------

    def _call(
        self, endpoint: _transport.Endpoint, send: Callable[[], httpx.Response], retries: bool
    ) -> dict[str, Any]:
        policy = self.policy if retries else _transport.RetryPolicy(max_retries=0)
        attempt = 0
        while True:
            try:
                try:
                    response = send()
                except httpx.HTTPError as http_error:
                    raise _transport._from_httpx(http_error, endpoint) from http_error
                return _answer(response, endpoint)
            except QwenVLError as error:
                _transport._sleep(_transport._retry_delay_or_raise(error, attempt, policy))
                attempt += 1

    async def _acall(
        self,
        endpoint: _transport.Endpoint,
        send: Callable[[], Awaitable[httpx.Response]],
        retries: bool,
    ) -> dict[str, Any]:
        policy = self.policy if retries else _transport.RetryPolicy(max_retries=0)
        attempt = 0
        while True:
            try:
                try:
                    response = await send()
                except httpx.HTTPError as http_error:
                    raise _transport._from_httpx(http_error, endpoint) from http_error
                return _answer(response, endpoint)
            except QwenVLError as error:
                await _transport._asleep(_transport._retry_delay_or_raise(error, attempt, policy))
                attempt += 1

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        retries: bool = True,
    ) -> dict[str, Any]:
        """A JSON request; the decoded JSON answer."""
        endpoint = self._endpoint(path)
        client = self.client()
        return self._call(
            endpoint,
            lambda: client.request(
                method, endpoint.url, json=json, params=params, headers=endpoint.headers
            ),
            retries,
        )

    async def arequest(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        retries: bool = True,
    ) -> dict[str, Any]:
        """Async :meth:`request`."""
        endpoint = self._endpoint(path)
        client = self.aclient()
        return await self._acall(
            endpoint,
            lambda: client.request(
                method, endpoint.url, json=json, params=params, headers=endpoint.headers
            ),
            retries,
        )

    # --- files ----------------------------------------------------------------------------

    def upload(self, path: str, filename: str) -> dict[str, Any]:
        """Upload a JSONL file (streamed from disk) with ``purpose=batch``."""
        endpoint = self._endpoint("/files", json_body=False)
        client = self.client()
        with open(path, "rb") as fh:

            def send() -> httpx.Response:
                fh.seek(0)
                return client.post(
                    endpoint.url,
                    files={"file": (filename, fh, "application/jsonl")},
                    data={"purpose": "batch"},
                    headers=endpoint.headers,
                )

            return self._call(endpoint, send, True)

    async def aupload(self, path: str, filename: str) -> dict[str, Any]:
        """Async :meth:`upload`."""
        endpoint = self._endpoint("/files", json_body=False)
        client = self.aclient()
        with open(path, "rb") as fh:

            async def send() -> httpx.Response:
                fh.seek(0)
                return await client.post(
                    endpoint.url,
                    files={"file": (filename, fh, "application/jsonl")},
                    data={"purpose": "batch"},
                    headers=endpoint.headers,
                )

            return await self._acall(endpoint, send, True)

    def iter_file_lines(self, file_id: str) -> Iterator[str]:
        """Lines of a result file, read from the response stream one at a time."""
        endpoint = self._endpoint(f"/files/{file_id}/content")
        client = self.client()
        attempt = 0
        while True:
            try:
                try:
                    with client.stream("GET", endpoint.url, headers=endpoint.headers) as response:
                        if response.status_code >= 400:
                            raise _transport._status_error(response, response.read(), endpoint)
                        yield from response.iter_lines()
                        return
                except httpx.HTTPError as http_error:
                    raise _transport._from_httpx(http_error, endpoint) from http_error
            except QwenVLError as error:
                _transport._sleep(_transport._retry_delay_or_raise(error, attempt, self.policy))
                attempt += 1

    async def aiter_file_lines(self, file_id: str) -> AsyncIterator[str]:
        """Async :meth:`iter_file_lines`."""
        endpoint = self._endpoint(f"/files/{file_id}/content")
        client = self.aclient()
        attempt = 0
        while True:
            try:
                try:
                    async with client.stream(
                        "GET", endpoint.url, headers=endpoint.headers
                    ) as response:
                        if response.status_code >= 400:
                            body = await response.aread()
                            raise _transport._status_error(response, body, endpoint)
                        async for line in response.aiter_lines():
                            yield line
                        return
                except httpx.HTTPError as http_error:
                    raise _transport._from_httpx(http_error, endpoint) from http_error
            except QwenVLError as error:
                delay = _transport._retry_delay_or_raise(error, attempt, self.policy)
                await _transport._asleep(delay)
                attempt += 1
