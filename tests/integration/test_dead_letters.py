"""Dead letters kept, listed and re-driven by an admin; a reply's unknown outcome told on the agent's stream."""

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from schemas.assignment import DeliveryUnknownEvent
from schemas.inbound import InboundMessage
from schemas.wire import encode
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import ADMIN_TOKEN, KAFKA, PHONE_NUMBER_ID, Stack

pytestmark = pytest.mark.integration

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}


async def produce(topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]] | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=key, headers=headers)
    finally:
        await producer.stop()


async def dead_letters(switchboard: Switchboard, **params: str) -> Any:
    response = await switchboard.http.get(f"{switchboard.router}/v1/dead-letters", params=params, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def a_customer_message(sender: str, text: str) -> InboundMessage:
    now = datetime.now(UTC)
    return InboundMessage(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id=PHONE_NUMBER_ID,
        sender_external_id=sender,
        provider_message_id=f"wamid.dlq{uuid4().hex}",
        sent_at=now,
        received_at=now,
        content_type="text",
        text=text,
    )


async def test_an_inbound_dead_letter_is_listed_and_re_driven_once(
    switchboard: Switchboard, stack: Stack, db: asyncpg.Connection
):
    # As the consume loop dead-letters a record it failed to process (say, a bug since fixed).
    message = a_customer_message("972509990001", "Where is my order?")
    await produce(
        stack.topics.inbound_dead_letter,
        encode(message),
        key=b"whatsapp:972509990001",
        headers=[
            ("switchboard-error", b"unprocessable"),
            ("switchboard-error-detail", b"RuntimeError: a bug"),
            ("switchboard-source-topic", stack.topics.inbound.encode()),
            ("switchboard-attempts", b"3"),
        ],
    )

    async def listed():
        return [
            d
            for d in await dead_letters(switchboard, kind="inbound")
            if isinstance(d["record"], dict) and d["record"].get("event_id") == str(message.event_id)
        ]

    [letter] = await eventually(listed, what="the dead letter kept")
    assert (letter["reason"], letter["detail"], letter["attempts"], letter["redriven_at"]) == (
        "unprocessable",
        "RuntimeError: a bug",
        3,
        None,
    )
    assert letter["target_topic"] == stack.topics.inbound

    redriven = await switchboard.http.post(
        f"{switchboard.router}/v1/dead-letters/{letter['id']}/redrive", headers=ADMIN
    )
    assert redriven.status_code == 202, redriven.text
    assert redriven.json()["redriven_at"] is not None
    stored = await eventually(
        lambda: db.fetchval("SELECT text FROM messages WHERE provider_message_id = $1", message.provider_message_id),
        what="the re-driven message stored",
    )
    assert stored == "Where is my order?"

    again = await switchboard.http.post(f"{switchboard.router}/v1/dead-letters/{letter['id']}/redrive", headers=ADMIN)
    assert again.status_code == 409
    assert again.json()["error"] == "conflict"
    assert [d["id"] for d in await dead_letters(switchboard, kind="inbound", redriven="false")].count(letter["id"]) == 0


async def test_a_reply_given_up_on_is_re_driven_once_the_provider_is_back(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972509990002", "hello")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    await switchboard.sandbox_fails(400, count=1)  # the provider refuses it: permanent, given up at once
    response = await switchboard.reply(agent, conversation["id"], "Here is your answer.")
    message_id = response.json()["id"]
    await eventually(
        lambda: db.fetchval("SELECT 1 FROM messages WHERE id = $1 AND delivery_status = 'failed'", message_id),
        what="the reply failed",
    )

    async def listed():
        return [d for d in await dead_letters(switchboard, kind="outbound") if d["message_id"] == message_id]

    [letter] = await eventually(listed, what="the dead letter kept")
    assert letter["conversation_id"] == conversation["id"]
    assert letter["record"]["text"] == "Here is your answer."
    await switchboard.reset_sandbox()

    redriven = await switchboard.http.post(
        f"{switchboard.router}/v1/dead-letters/{letter['id']}/redrive", headers=ADMIN
    )

    assert redriven.status_code == 202, redriven.text
    await eventually(
        lambda: db.fetchval("SELECT 1 FROM messages WHERE id = $1 AND delivery_status = 'sent'", message_id),
        what="the re-driven reply sent",
    )
    sends = [r for r in await switchboard.sandbox_requests() if "Here is your answer." in str(r["body"])]
    assert len(sends) == 1
    again = await switchboard.http.post(f"{switchboard.router}/v1/dead-letters/{letter['id']}/redrive", headers=ADMIN)
    assert again.status_code == 409


async def test_dead_letters_are_for_admins_only(switchboard: Switchboard):
    agent = await switchboard.create_agent("Ana")
    as_agent = switchboard.as_agent(agent)
    assert (await switchboard.http.get(f"{switchboard.router}/v1/dead-letters")).status_code == 401
    assert (await switchboard.http.get(f"{switchboard.router}/v1/dead-letters", headers=as_agent)).status_code == 403
    unknown = await switchboard.http.post(f"{switchboard.router}/v1/dead-letters/{uuid4()}/redrive", headers=ADMIN)
    assert unknown.status_code == 404


async def test_an_agent_hears_that_a_reply_in_their_conversation_may_not_have_arrived(
    switchboard: Switchboard, stack: Stack
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972509990003", "hello")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    event = DeliveryUnknownEvent(
        message_id=uuid4(),
        conversation_id=conversation["id"],
        agent_id=agent["id"],
        channel="whatsapp",
        detail="no answer from the provider within the send timeout",
        occurred_at=datetime.now(UTC),
    )

    async with switchboard.live_events(agent) as events:
        await events.next()  # the snapshot
        await produce(stack.topics.assignments, encode(event), key=agent["id"].encode())
        name, data = await events.next()

    assert name == "delivery_unknown"
    assert (data["message_id"], data["conversation_id"], data["detail"]) == (
        str(event.message_id),
        conversation["id"],
        event.detail,
    )
