"""Replies meeting slow, failing and throttling providers: sent once, never stranded, never holding the others."""

import time
from datetime import datetime
from typing import Any

import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import KAFKA, Stack
from tests.integration.test_channel_line import assigned as line_conversation

pytestmark = pytest.mark.integration


async def whatsapp_conversation(switchboard: Switchboard, wa_id: str, agent: dict[str, Any] | None = None):
    agent = agent or await switchboard.online_agent("Ana", max_pending=20)
    held = {c["id"] for c in await switchboard.agent_conversations(agent)}
    await switchboard.customer_writes(wa_id, "hello")

    async def assigned():
        return [c for c in await switchboard.agent_conversations(agent) if c["id"] not in held]

    [conversation] = await eventually(assigned, what=f"{wa_id}'s conversation assigned")
    return agent, conversation


async def replied(switchboard: Switchboard, agent: dict[str, Any], conversation: dict[str, Any], text: str) -> str:
    response = await switchboard.reply(agent, conversation["id"], text)
    assert response.status_code == 202, response.text
    message_id: str = response.json()["id"]
    return message_id


async def status_of(db: asyncpg.Connection, message_id: str, statuses: set[str], timeout_s: float) -> asyncpg.Record:
    async def settled():
        return await db.fetchrow(
            "SELECT * FROM messages WHERE id = $1 AND delivery_status = ANY($2)", message_id, list(statuses)
        )

    row: asyncpg.Record = await eventually(settled, timeout_s=timeout_s, what=f"{message_id} reaching {statuses}")
    return row


async def sends_of(switchboard: Switchboard, text: str) -> list[dict[str, Any]]:
    """The provider calls carrying `text`, in the order they arrived."""
    return [r for r in await switchboard.sandbox_requests() if text in orjson.dumps(r["body"]).decode()]


def taken(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls the provider took: not refused by a fault, not a repeat of an idempotency key."""
    return [r for r in requests if not r.get("refused") and not r.get("replay")]


def arrived_at(request: dict[str, Any]) -> float:
    return datetime.fromisoformat(request["received_at"]).timestamp()


async def delivery_unknown_events(stack: Stack, db: asyncpg.Connection, message_id: str) -> list[dict[str, Any]]:
    """The DeliveryUnknownEvents written for a reply: in the outbox, or already relayed to the assignments topic
    (each record once)."""
    rows = await db.fetch("SELECT key, value FROM outbox WHERE topic = $1", stack.topics.assignments)
    values = [(bytes(row["key"]), bytes(row["value"])) for row in rows]
    consumer = AIOKafkaConsumer(
        stack.topics.assignments, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=1000)
        values += [(r.key or b"", r.value or b"") for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    # The relay deletes a row after Kafka acknowledged it: in between, one record is in both places.
    events = [(key, orjson.loads(value)) for key, value in dict.fromkeys(values)]
    return [
        {**event, "_key": key.decode()}
        for key, event in events
        if event.get("type") == "delivery_unknown" and event.get("message_id") == message_id
    ]


async def set_latency(switchboard: Switchboard, delay_ms: int) -> None:
    response = await switchboard.http.put(f"{switchboard.sandbox}/sandbox/latency", json={"delay_ms": delay_ms})
    assert response.status_code == 204


async def add_fault(switchboard: Switchboard, **fault: Any) -> None:
    response = await switchboard.http.post(f"{switchboard.sandbox}/sandbox/faults", json=fault)
    assert response.status_code == 204, response.text


async def test_a_provider_slower_than_the_send_timeout_gets_the_reply_once_and_it_ends_unknown(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    agent, conversation = await whatsapp_conversation(switchboard, "972540000101")
    await set_latency(switchboard, 12_000)  # the stack's send timeout is 10 s
    message_id = await replied(switchboard, agent, conversation, "Slow provider, one send.")

    row = await status_of(db, message_id, {"unknown", "sent", "failed"}, timeout_s=40)
    assert row["delivery_status"] == "unknown"
    assert row["delivery_error"]["code"] == "outcome_unknown"
    assert len(await sends_of(switchboard, "Slow provider, one send.")) == 1, "never sent again"
    [event] = await eventually(lambda: delivery_unknown_events(stack, db, message_id), what="the unknown event")
    assert (event["agent_id"], event["_key"], event["conversation_id"]) == (
        agent["id"],
        agent["id"],
        conversation["id"],
    )
    history = await switchboard.conversation(conversation["id"])
    [reply] = [m for m in history["messages"] if m["id"] == message_id]
    assert reply["delivery_status"] == "unknown"


async def test_a_line_push_whose_answer_was_lost_is_resent_with_its_retry_key_and_accepted_once(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = "U1000000000000000000000000000101"
    agent, conversation, _ = await line_conversation(switchboard, user, written_ago_s=120)  # by push
    await set_latency(switchboard, 12_000)
    message_id = await replied(switchboard, agent, conversation, "Lost answer, same key.")
    await eventually(lambda: sends_of(switchboard, "Lost answer, same key."), what="the first push")
    await set_latency(switchboard, 0)  # the provider is fast again for the resend

    row = await status_of(db, message_id, {"unknown", "sent", "failed"}, timeout_s=40)
    assert row["delivery_status"] == "sent"
    pushes = await sends_of(switchboard, "Lost answer, same key.")
    assert len(pushes) >= 2
    assert {p["headers"]["x-line-retry-key"] for p in pushes} == {message_id}
    assert len(taken(pushes)) == 1, "LINE executed the retry key once"


async def test_a_503_storm_longer_than_the_quick_retries_ends_in_one_successful_send(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent, conversation = await whatsapp_conversation(switchboard, "972540000103")
    await add_fault(switchboard, status=503, seconds=6)
    message_id = await replied(switchboard, agent, conversation, "After the storm.")

    row = await status_of(db, message_id, {"sent", "failed", "unknown"}, timeout_s=60)
    assert row["delivery_status"] == "sent"
    sends = await sends_of(switchboard, "After the storm.")
    [accepted] = taken(sends)
    assert len(sends) >= 2
    assert arrived_at(accepted) - arrived_at(sends[0]) > 5, "retried past the storm, not given up after seconds"


async def test_retry_after_is_honoured(switchboard: Switchboard, db: asyncpg.Connection):
    agent, conversation = await whatsapp_conversation(switchboard, "972540000104")
    await add_fault(switchboard, status=429, count=1, retry_after=3)
    message_id = await replied(switchboard, agent, conversation, "Not before three seconds.")

    row = await status_of(db, message_id, {"sent", "failed", "unknown"}, timeout_s=30)
    assert row["delivery_status"] == "sent"
    refused, accepted = await sends_of(switchboard, "Not before three seconds.")
    assert refused["refused"] == 429
    assert arrived_at(accepted) - arrived_at(refused) >= 3


async def test_a_slow_failing_whatsapp_does_not_delay_a_telegram_reply(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana", max_pending=20)
    whatsapp = [await whatsapp_conversation(switchboard, f"9725400002{n:02d}", agent) for n in range(8)]
    await switchboard.writes_on("telegram", "777000205", "hello")

    async def telegram_conversation():
        return [c for c in await switchboard.agent_conversations(agent) if c["channel"] == "telegram"]

    [telegram] = await eventually(telegram_conversation, what="the Telegram conversation assigned")
    # WhatsApp (Meta's Graph API) answers 503, and only after 8 s; the other providers are well.
    await add_fault(switchboard, status=503, count=1000, delay_ms=8000, path="/v21.0/")
    slow = [
        await replied(switchboard, agent, conversation, f"WhatsApp reply {n}")
        for n, (_, conversation) in enumerate(whatsapp)
    ]
    started = time.monotonic()
    quick = await replied(switchboard, agent, telegram, "Telegram is not kept waiting.")

    await status_of(db, quick, {"sent"}, timeout_s=20)
    assert time.monotonic() - started < 6, "sent before any slow WhatsApp answer came back"

    await switchboard.reset_sandbox()  # WhatsApp is back: each of its replies goes out, once
    for message_id in slow:
        await status_of(db, message_id, {"sent"}, timeout_s=90)
    for n in range(8):
        assert len(taken(await sends_of(switchboard, f"WhatsApp reply {n}"))) == 1
