"""A dispatcher killed (SIGKILL) mid-send: the lease it held runs out and the reaper settles the reply.

A second dispatcher process with a short send timeout and lease reads a topic prefix of its own (so the
session's dispatcher never sees its records), while sharing the session's database; the test writes the
reply's row and record as the router would, lets the second dispatcher call the (slow) provider, and kills
it before the answer. The session's dispatcher, whose reaper sweeps the same database, settles the reply.
"""

import signal
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from dispatcher import store as dispatch_store
from loadtests.ports import free_port
from schemas.outbound import OutboundMessage
from schemas.wire import encode
from services.kafka import Topics
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import KAFKA, Stack
from tests.integration.services import ServiceProcess
from tests.integration.test_channel_line import assigned as line_conversation
from tests.integration.test_dispatch_faults import (
    delivery_unknown_events,
    sends_of,
    set_latency,
    status_of,
    taken,
    whatsapp_conversation,
)

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def doomed_dispatcher(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, Topics]]:
    """A dispatcher with a 2 s send timeout and a 3 s lease, on a topic prefix of its own."""
    topics = Topics(f"{stack.topics.prefix}-doomed-{uuid.uuid4().hex[:6]}")
    port = free_port()
    env = {
        **stack.env,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_TOPIC_PREFIX": topics.prefix,
        "SWITCHBOARD_SEND_TIMEOUT_S": "2",
        "SWITCHBOARD_LEASE_MARGIN_S": "1",
    }
    process = ServiceProcess("dispatcher", port, env, name="dispatcher-doomed")
    process.start()
    try:
        process.wait_ready()
        yield process, topics
    finally:
        process.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            await admin.delete_topics(list(topics.partitions()))
        finally:
            await admin.close()


async def reply_row(db: asyncpg.Connection, conversation: dict[str, Any], text: str, customer_wrote_ago_s: float):
    """Store an agent's reply as the router does, and the outbound record it would publish."""
    inbound = await db.fetchrow(
        """SELECT m.account_id, m.external_id, a.external_id AS account, a.channel FROM messages m
             JOIN accounts a ON a.id = m.account_id
            WHERE m.conversation_id = $1 AND m.direction = 'inbound' LIMIT 1""",
        uuid.UUID(conversation["id"]),
    )
    assert inbound is not None
    row = await db.fetchrow(
        """INSERT INTO messages (conversation_id, direction, channel, account_id, external_id, content_type, text,
                                 delivery_status)
           VALUES ($1, 'outbound', $2, $3, $4, 'text', $5, 'pending') RETURNING id, created_at""",
        uuid.UUID(conversation["id"]),
        inbound["channel"],
        inbound["account_id"],
        inbound["external_id"],
        text,
    )
    assert row is not None
    return OutboundMessage(
        message_id=row["id"],
        conversation_id=uuid.UUID(conversation["id"]),
        channel=inbound["channel"],
        account_external_id=inbound["account"],
        recipient_external_id=inbound["external_id"],
        text=text,
        author="agent",
        created_at=row["created_at"],
        customer_last_message_at=datetime.now(UTC) - timedelta(seconds=customer_wrote_ago_s),
    )


async def publish(topics: Topics, outbound: OutboundMessage) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(topics.outbound, encode(outbound), key=str(outbound.conversation_id).encode())
    finally:
        await producer.stop()


async def kill_mid_send(switchboard: Switchboard, process: ServiceProcess, text: str) -> None:
    """Wait until the provider has the request (its answer still 10 s away), then SIGKILL the dispatcher."""
    await eventually(lambda: sends_of(switchboard, text), what="the provider receiving the send")
    assert process.process is not None
    process.process.send_signal(signal.SIGKILL)
    process.process.wait(10)


async def test_a_reply_whose_dispatcher_was_killed_mid_send_ends_unknown_and_is_announced(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack, doomed_dispatcher: tuple[ServiceProcess, Topics]
):
    process, topics = doomed_dispatcher
    agent, conversation = await whatsapp_conversation(switchboard, "972540000301")
    outbound = await reply_row(db, conversation, "Killed mid-send.", customer_wrote_ago_s=60)
    await set_latency(switchboard, 10_000)
    await publish(topics, outbound)
    await kill_mid_send(switchboard, process, "Killed mid-send.")
    killed_at = time.monotonic()
    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", outbound.message_id) == "sending"

    row = await status_of(db, str(outbound.message_id), {"unknown", "sent", "failed"}, timeout_s=30)
    assert row["delivery_status"] == "unknown"
    assert time.monotonic() - killed_at < 25, "settled once its 3 s lease ran out"
    assert len(await sends_of(switchboard, "Killed mid-send.")) == 1, "WhatsApp has no key: never resent"
    [event] = await eventually(
        lambda: delivery_unknown_events(stack, db, str(outbound.message_id)), what="the unknown event"
    )
    assert event["agent_id"] == agent["id"]


async def test_a_line_push_whose_dispatcher_was_killed_mid_send_is_resent_with_its_key_and_taken_once(
    switchboard: Switchboard, db: asyncpg.Connection, doomed_dispatcher: tuple[ServiceProcess, Topics]
):
    process, topics = doomed_dispatcher
    _, conversation, _ = await line_conversation(switchboard, "U1000000000000000000000000000301", written_ago_s=120)
    outbound = await reply_row(db, conversation, "Killed mid-push.", customer_wrote_ago_s=120)  # by push
    await set_latency(switchboard, 10_000)
    await publish(topics, outbound)
    await kill_mid_send(switchboard, process, "Killed mid-push.")
    await set_latency(switchboard, 0)

    row = await status_of(db, str(outbound.message_id), {"unknown", "sent", "failed"}, timeout_s=30)
    assert row["delivery_status"] == "sent"
    pushes = await sends_of(switchboard, "Killed mid-push.")
    assert len(pushes) == 2
    assert {p["headers"]["x-line-retry-key"] for p in pushes} == {str(outbound.message_id)}
    assert len(taken(pushes)) == 1, "LINE executed the retry key once"


async def test_deferring_or_giving_up_a_reply_nobody_holds_leaves_one_being_sent_alone(
    switchboard: Switchboard, db: asyncpg.Connection
):
    """An open circuit defers a reply without claiming it. Were that reply `sending` (another dispatcher's
    call in flight, reached here by a republished record), turning it back to `pending` would let the
    scheduler send it a second time beside that call."""
    _, conversation = await whatsapp_conversation(switchboard, "972540000309")
    outbound = await reply_row(db, conversation, "Being sent elsewhere.", customer_wrote_ago_s=60)
    await db.execute("UPDATE messages SET delivery_status = 'sending' WHERE id = $1", outbound.message_id)
    later = datetime.now(UTC) + timedelta(minutes=1)

    await dispatch_store.schedule(db, outbound.message_id, later, None, claimed=False)
    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", outbound.message_id) == "sending"
    closed = {"code": "outside_window", "reason": "channel_rule", "detail": "the window closed"}
    await dispatch_store.mark_failed(db, outbound.message_id, closed, claimed=False)  # nor given up on
    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", outbound.message_id) == "sending"

    await dispatch_store.schedule(db, outbound.message_id, later, None, claimed=True)  # its holder lets it go
    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", outbound.message_id) == "pending"
