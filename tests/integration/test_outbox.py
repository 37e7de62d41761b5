"""The transactional outbox through real Kafka and PostgreSQL: a committed reply (an agent's, the bot's, an
away message) waits in the outbox while nothing can publish it, survives the death of the process that
stored it, and is sent exactly once when a relay can publish again."""

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
import pytest_asyncio

from loadtests.ports import free_port
from schemas.outbound import OutboundMessage
from tests.integration import test_automation
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import Stack
from tests.integration.proxy import Cuttable
from tests.integration.services import ServiceProcess
from tests.integration.test_automation import bot_replies

pytestmark = pytest.mark.integration
# The automation tests' fixtures, named here so pytest finds them for this module's tests.
automation_on = test_automation.automation_on
schedule_for = test_automation.schedule_for

KAFKA_DETOUR = Path(__file__).with_name("kafka_detour")  # its sitecustomize.py reroutes a process's Kafka
# The relay's lock (router/outbox.py), spelled out here so the test does not borrow it from the code under test.
RELAY_LOCK_KEY = "hashtextextended('switchboard.outbox.relay', 0)"


@pytest_asyncio.fixture
async def relay_held_off(stack: Stack, db: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """The relay's lock held by the test, so no router process can publish: as if none could reach Kafka.

    Releasing it (closing the connection) lets a standing-by relay take over.
    """
    holder = await asyncpg.connect(stack.dsn)
    waiting: asyncio.Task[str] | None = None
    try:
        if not await holder.fetchval(f"SELECT pg_try_advisory_lock({RELAY_LOCK_KEY})"):
            # Queue behind the publishing relay, then end its session: PostgreSQL grants the lock to the waiter.
            waiting = asyncio.create_task(holder.execute(f"SELECT pg_advisory_lock({RELAY_LOCK_KEY})"))
            await eventually(lambda: _lock_waiters(db), what="the test queued for the relay's lock")
            await db.execute(
                f"""SELECT pg_terminate_backend(l.pid) FROM pg_locks l
                     WHERE l.locktype = 'advisory' AND l.granted AND l.pid <> $1
                       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                       AND (l.classid::bigint << 32) | l.objid::bigint = {RELAY_LOCK_KEY}""",
                holder.get_server_pid(),
            )
            await asyncio.wait_for(waiting, 10)
        yield holder
    finally:
        if waiting is not None and not waiting.done():
            waiting.cancel()
            with contextlib.suppress(asyncio.CancelledError, asyncpg.PostgresError):
                await waiting
        await holder.close()


async def _lock_waiters(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))


@pytest.fixture
def api_router(stack: Stack) -> Any:
    """A further router process serving only the API (its relay stands by like every router's)."""
    port = free_port()
    env = {**stack.env, "SWITCHBOARD_PORT": str(port), "SWITCHBOARD_ROLES": "api"}
    router = ServiceProcess("router", port, env, name="router-api")
    router.start()
    try:
        router.wait_ready()
        yield router
    finally:
        router.stop()


async def queued_for(db: asyncpg.Connection, message_id: str) -> int:
    """How many outbox rows carry this reply's outbound record."""
    return int(
        await db.fetchval(
            "SELECT count(*) FROM outbox WHERE convert_from(value, 'UTF8')::jsonb ->> 'message_id' = $1", message_id
        )
    )


async def pending_without_outbox_row(db: asyncpg.Connection) -> int:
    """Replies stored as pending that nothing will ever publish: the defect the outbox removes."""
    return int(
        await db.fetchval(
            """SELECT count(*) FROM messages m
                WHERE m.direction = 'outbound' AND m.delivery_status = 'pending'
                  AND NOT EXISTS (SELECT 1 FROM outbox o
                                   WHERE convert_from(o.value, 'UTF8')::jsonb ->> 'message_id' = m.id::text)"""
        )
    )


async def delivery_status(db: asyncpg.Connection, message_id: str) -> str:
    return str(await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1::uuid", message_id))


async def texts_sent(switchboard: Switchboard, text: str) -> int:
    return sum(r["body"].get("text", {}).get("body") == text for r in await switchboard.sandbox_requests())


async def test_a_reply_accepted_while_no_relay_can_publish_outlives_its_router_and_is_sent_once(
    switchboard: Switchboard, db: asyncpg.Connection, api_router: ServiceProcess, relay_held_off: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972507770001", "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    answer = await switchboard.http.post(
        f"{api_router.url}/v1/conversations/{conversation['id']}/messages",
        json={"text": "It ships today."},
        headers=switchboard.as_agent(agent),
    )
    assert answer.status_code == 202, answer.text
    message_id = answer.json()["id"]
    assert await delivery_status(db, message_id) == "pending"
    assert await queued_for(db, message_id) == 1, "committed with its outbound record, not yet published"
    assert await queued_record(db, message_id) == await record_from_tables(db, message_id, "agent")
    assert await pending_without_outbox_row(db) == 0

    assert api_router.process is not None
    os.kill(api_router.process.pid, signal.SIGKILL)  # the router that accepted it dies before anything published
    api_router.process.wait(10)
    await relay_held_off.close()  # now a relay can publish: the session's router takes over

    await eventually(lambda: delivery_status_is(db, message_id, "sent"), what="the reply sent")
    await eventually(lambda: outbox_empty(db), what="the outbox emptied")
    assert await texts_sent(switchboard, "It ships today.") == 1
    assert await pending_without_outbox_row(db) == 0


async def delivery_status_is(db: asyncpg.Connection, message_id: str, status: str) -> bool:
    return await delivery_status(db, message_id) == status


async def outbox_empty(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM outbox") == 0)


@pytest_asyncio.fixture
async def kafka_cut_router(stack: Stack) -> AsyncIterator[tuple[ServiceProcess, Cuttable]]:
    """A further router (API only) whose every Kafka connection goes through a proxy the test can cut."""
    proxy = Cuttable(9092)
    proxy_port = await proxy.start()
    port = free_port()
    env = {
        **stack.env,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_ROLES": "api",
        "SWITCHBOARD_KAFKA_BOOTSTRAP": f"127.0.0.1:{proxy_port}",
        "TEST_KAFKA_DETOUR": f"127.0.0.1:{proxy_port}",
        "PYTHONPATH": str(KAFKA_DETOUR),
    }
    router = ServiceProcess("router", port, env, name="router-kafka-cut")
    router.start()
    try:
        await asyncio.to_thread(router.wait_ready)
        yield router, proxy
    finally:
        proxy.open = True  # let it stop cleanly
        await asyncio.to_thread(router.stop)
        await proxy.close()


async def test_a_router_cut_off_from_kafka_still_accepts_a_reply_and_it_is_sent_once(
    switchboard: Switchboard, db: asyncpg.Connection, kafka_cut_router: tuple[ServiceProcess, Cuttable]
):
    router, kafka = kafka_cut_router
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972507770004", "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    kafka.cut()

    answer = await switchboard.http.post(
        f"{router.url}/v1/conversations/{conversation['id']}/messages",
        json={"text": "Kafka or not, it ships today."},
        headers=switchboard.as_agent(agent),
        timeout=5,  # the producer's own timeout is 10 s: an answer sooner did not wait for Kafka
    )

    assert answer.status_code == 202, answer.text
    kafka.open = True  # whichever relay holds the lock publishes it, this router's included
    await eventually(lambda: delivery_status_is(db, answer.json()["id"], "sent"), what="the reply sent")
    await eventually(lambda: outbox_empty(db), what="the outbox emptied")
    assert await texts_sent(switchboard, "Kafka or not, it ships today.") == 1


@pytest.mark.usefixtures("automation_on")
async def test_the_bots_reply_goes_through_the_outbox(
    switchboard: Switchboard, db: asyncpg.Connection, relay_held_off: asyncpg.Connection
):
    await switchboard.customer_writes("972507770002", "Where is my order #1234?")

    reply_id = await eventually(lambda: stored_bot_reply(db), what="the bot's reply stored")
    assert await delivery_status(db, reply_id) == "pending"
    assert await queued_for(db, reply_id) == 1
    assert await queued_record(db, reply_id) == await record_from_tables(db, reply_id, "bot")
    assert await bot_replies(switchboard) == []
    await relay_held_off.close()

    [reply] = await eventually(lambda: bot_replies(switchboard), what="the bot's reply at WhatsApp")
    assert reply.startswith("Order #1234 is out for delivery")
    await eventually(lambda: delivery_status_is(db, reply_id, "sent"), what="the bot's reply sent")


async def queued_record(db: asyncpg.Connection, message_id: str) -> OutboundMessage:
    """The reply's outbox row, read as the dispatcher reads it (the outbound schema)."""
    value = await db.fetchval(
        "SELECT value FROM outbox WHERE convert_from(value, 'UTF8')::jsonb ->> 'message_id' = $1", message_id
    )
    return OutboundMessage.model_validate_json(value)


async def record_from_tables(db: asyncpg.Connection, message_id: str, author: str) -> OutboundMessage:
    """What the record must say, put together here from the stored reply and the customer's last message, not
    by the statement that wrote it (which builds its JSON in SQL)."""
    row = await db.fetchrow(
        """SELECT m.id, m.conversation_id, m.channel, a.external_id AS account, m.external_id, m.text, m.created_at,
                  last.sent_at, last.channel_data
             FROM messages m JOIN accounts a ON a.id = m.account_id,
                  LATERAL (SELECT i.sent_at, i.channel_data FROM messages i
                            WHERE i.conversation_id = m.conversation_id AND i.direction = 'inbound'
                            ORDER BY i.sent_at DESC LIMIT 1) last
            WHERE m.id = $1::uuid""",
        message_id,
    )
    assert row is not None
    return OutboundMessage.model_validate(
        {
            "message_id": row["id"],
            "conversation_id": row["conversation_id"],
            "channel": row["channel"],
            "account_external_id": row["account"],
            "recipient_external_id": row["external_id"],
            "text": row["text"],
            "author": author,
            "created_at": row["created_at"],
            "customer_last_message_at": row["sent_at"],
            "reply_context": orjson.loads(row["channel_data"])
            if isinstance(row["channel_data"], str)
            else row["channel_data"],
        }
    )


async def stored_bot_reply(db: asyncpg.Connection) -> str | None:
    found = await db.fetchval(
        "SELECT id::text FROM messages WHERE direction = 'outbound' AND author_agent_id IS NULL LIMIT 1"
    )
    return None if found is None else str(found)


@pytest.mark.usefixtures("automation_on")
async def test_the_away_message_goes_through_the_outbox(
    switchboard: Switchboard, db: asyncpg.Connection, schedule_for: Any, relay_held_off: asyncpg.Connection
):
    in_three_days = (datetime.now(UTC) + timedelta(days=3)).strftime("%a").lower()
    await schedule_for({"time_zone": "UTC", "weekly": {in_three_days: [["09:00", "17:00"]]}})
    await switchboard.customer_writes("972507770003", "My cat chewed the box, what now?")

    notice_id = await eventually(lambda: stored_bot_reply(db), what="the away message stored")
    assert await queued_for(db, notice_id) == 1
    assert await queued_record(db, notice_id) == await record_from_tables(db, notice_id, "bot")
    assert await bot_replies(switchboard) == []
    await relay_held_off.close()

    [away] = await eventually(lambda: bot_replies(switchboard), what="the away message at WhatsApp")
    assert away.startswith("We're away right now.")
