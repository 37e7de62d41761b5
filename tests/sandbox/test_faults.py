"""The sandbox's scripted faults, as the chaos harness and the dispatcher's tests use them over HTTP."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from sandbox.app import create_app

AUTH = {"authorization": "Bearer line-token"}
PUSH = {"to": "U1", "messages": [{"type": "text", "text": "hello"}]}
GRAPH = "/v21.0/106540352242922/messages"
WHATSAPP = {"messaging_product": "whatsapp", "to": "972", "type": "text", "text": {"body": "hi"}}


@pytest.fixture
async def sandbox(monkeypatch) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("SWITCHBOARD_ACCOUNTS", "[]")
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        yield client


async def test_a_provider_down_for_a_duration_refuses_every_call_until_it_is_over(sandbox, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("sandbox.state.time.monotonic", lambda: clock[0])
    assert (await sandbox.post("/sandbox/faults", json={"status": 503, "seconds": 120})).status_code == 204
    for _ in range(5):
        assert (await sandbox.post(GRAPH, json=WHATSAPP, headers=AUTH)).status_code == 503
    clock[0] += 121
    assert (await sandbox.post(GRAPH, json=WHATSAPP, headers=AUTH)).status_code == 200


async def test_a_fault_may_ask_for_a_wait_with_retry_after(sandbox):
    await sandbox.post("/sandbox/faults", json={"status": 429, "count": 1, "retry_after": 7})
    refused = await sandbox.post(GRAPH, json=WHATSAPP, headers=AUTH)
    assert (refused.status_code, refused.headers["retry-after"]) == (429, "7")
    assert "retry-after" not in (await sandbox.post(GRAPH, json=WHATSAPP, headers=AUTH)).headers


async def test_a_fault_with_a_path_leaves_the_other_providers_alone(sandbox):
    await sandbox.post("/sandbox/faults", json={"status": 503, "count": 5, "path": "/v21.0/"})
    assert (await sandbox.post("/v2/bot/message/push", json=PUSH, headers=AUTH)).status_code == 200
    assert (await sandbox.post(GRAPH, json=WHATSAPP, headers=AUTH)).status_code == 503


async def test_a_line_retry_key_is_taken_on_arrival_so_a_retry_overtaking_a_slow_answer_is_a_repeat(sandbox):
    await sandbox.put("/sandbox/latency", json={"delay_ms": 300})
    headers = {**AUTH, "x-line-retry-key": str(uuid.uuid4())}
    first = asyncio.create_task(sandbox.post("/v2/bot/message/push", json=PUSH, headers=headers))
    await asyncio.sleep(0.1)  # the first is still being answered
    retry = await sandbox.post("/v2/bot/message/push", json=PUSH, headers=headers)
    assert (await first).status_code == 200
    assert retry.status_code == 409
    assert retry.headers["x-line-accepted-request-id"] == (await first).headers["x-line-request-id"]
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert (stats["marked_requests"], stats["accepted_marked"], stats["accepted_distinct"]) == (2, 1, 1)


async def test_a_refused_push_does_not_spend_its_retry_key(sandbox):
    await sandbox.post("/sandbox/faults", json={"status": 500, "count": 1})
    headers = {**AUTH, "x-line-retry-key": str(uuid.uuid4())}
    assert (await sandbox.post("/v2/bot/message/push", json=PUSH, headers=headers)).status_code == 500
    assert (await sandbox.post("/v2/bot/message/push", json=PUSH, headers=headers)).status_code == 200
