"""ClientPool: connections spread over small clients, opened only as concurrency needs them."""

from __future__ import annotations

import asyncio
import json

import httpx

from langchain_qwen_vl import ChatQwenVL, _pool
from langchain_qwen_vl._pool import PER_CLIENT, ClientPool, shared_ssl_context

OK_BODY = {"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"content": "hi"}}]}


def _pool_of(max_connections: int | None, keepalive: int | None = None) -> ClientPool[httpx.Client]:
    made: list[httpx.Limits] = []

    def make(limits: httpx.Limits) -> httpx.Client:
        made.append(limits)
        return httpx.Client(limits=limits)

    return ClientPool(make, max_connections=max_connections, max_keepalive_connections=keepalive)


def test_sequential_use_stays_on_one_client() -> None:
    pool = _pool_of(64)
    for _ in range(5):
        slot, _client = pool.acquire()
        pool.release(slot)
    assert len(pool.clients) == 1


def test_concurrency_fills_a_client_before_opening_the_next() -> None:
    pool = _pool_of(64)
    slots = [pool.acquire()[0] for _ in range(PER_CLIENT + 1)]
    assert slots == [0] * PER_CLIENT + [1]
    pool.release(0)
    assert pool.acquire()[0] == 1  # the least busy client
    for _ in range(PER_CLIENT):
        pool.release(0)
    assert pool.acquire()[0] == 0


def test_the_cap_bounds_clients_and_then_requests_share() -> None:
    pool = _pool_of(2 * PER_CLIENT)
    slots = [pool.acquire()[0] for _ in range(5 * PER_CLIENT)]
    assert len(pool.clients) == 2
    assert slots.count(0) == slots.count(1)


def test_small_caps_and_keepalive_shape_each_client() -> None:
    pool = _pool_of(3, keepalive=1)
    _, client = pool.acquire()
    limits = client._transport._pool  # type: ignore[attr-defined]
    assert (limits._max_connections, limits._max_keepalive_connections) == (3, 1)


def test_one_ssl_context_for_every_client_and_loop() -> None:
    llm = ChatQwenVL(api_key="sk-test", base_url="https://dashscope.test/v1")
    sync_pool = llm._sync_client()
    assert isinstance(sync_pool, ClientPool)
    [client] = [sync_pool.acquire()[1]]

    async def async_context() -> object:
        pool = llm._async_client()
        assert isinstance(pool, ClientPool)
        return pool.acquire()[1]._transport._pool._ssl_context  # type: ignore[attr-defined]

    contexts = {asyncio.run(async_context()) for _ in range(2)}
    contexts.add(client._transport._pool._ssl_context)  # type: ignore[attr-defined]
    assert contexts == {shared_ssl_context()}
    assert _pool._ssl_context is shared_ssl_context()


def test_model_requests_return_their_slot() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if b'"stream":true' in request.content:
            chunk = {"id": "c1", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
            sse = f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"
            return httpx.Response(200, text=sse, headers={"content-type": "text/event-stream"})
        return httpx.Response(200, json=OK_BODY)

    llm = ChatQwenVL(api_key="sk-test", base_url="https://dashscope.test/v1")
    pool = llm._sync_client()
    assert isinstance(pool, ClientPool)
    pool._make = lambda limits: httpx.Client(transport=httpx.MockTransport(handler))
    llm.batch(["a", "b", "c"])
    for _ in llm.stream("d"):
        pass
    assert pool._busy == [0] * len(pool._busy)
    llm.close()
    assert pool.clients == []
