"""The outbox relay (router/outbox.py) against real Kafka and PostgreSQL, on a database of its own so the
session's routers do not relay its rows: any topic, in id order, exactly once; rows kept while Kafka
refuses them; a stand-by relay taking over; a PostgreSQL outage ridden out; woken by a ring after the commit,
in its own process or through a NOTIFY from another, instead of a notification inside the transaction."""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from router.outbox import OutboxBell, OutboxRelay
from services.postgres import migrate
from tests.integration.client import eventually
from tests.integration.conftest import KAFKA, SERVER_DSN
from tests.integration.proxy import Cuttable

pytestmark = pytest.mark.integration


@dataclass
class RelayWorld:
    dsn: str
    db: asyncpg.Connection
    topic: str  # exists, one partition
    missing_topic: str  # does not exist yet (the broker does not create topics on first use)
    producer: AIOKafkaProducer


@pytest_asyncio.fixture
async def world(infrastructure: None) -> AsyncIterator[RelayWorld]:
    suffix = secrets.token_hex(4)
    database = f"switchboard_test_relay_{suffix}"
    dsn = SERVER_DSN.rsplit("/", 1)[0] + f"/{database}"
    server = await asyncpg.connect(SERVER_DSN)
    await server.execute(f'CREATE DATABASE "{database}"')
    topic, missing = f"test-relay-{suffix}.probe.v1", f"test-relay-{suffix}.missing.v1"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    # Idempotent and acks=all like the router's; a short request timeout so a refused topic fails fast.
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, enable_idempotence=True, acks="all", request_timeout_ms=1_000)
    await producer.start()
    try:
        await asyncio.to_thread(migrate, dsn)
        db = await asyncpg.connect(dsn)
        try:
            yield RelayWorld(dsn, db, topic, missing, producer)
        finally:
            await db.close()
    finally:
        await producer.stop()
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic, missing])
        await admin.close()
        await server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await server.close()


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay) -> AsyncIterator[asyncio.Event]:
    """The relay running in the background; setting the yielded event (or leaving the block) stops it."""
    stopping = asyncio.Event()
    task = asyncio.create_task(relay.run_until(stopping))
    try:
        yield stopping
    finally:
        stopping.set()
        await asyncio.wait_for(task, 15)


async def enqueue(db: asyncpg.Connection, rows: list[tuple[str, bytes, bytes]]) -> None:
    # Written as any transaction would, without borrowing the code under test.
    await db.executemany("INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3)", rows)


async def read_topic(topic: str, count: int, timeout_s: float = 15) -> list[tuple[bytes, bytes]]:
    """At least `count` records from the start of `topic`, then whatever else arrives within a moment."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", group_id=None)
    await consumer.start()
    found: list[tuple[bytes, bytes]] = []
    try:
        async with asyncio.timeout(timeout_s):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend((r.key or b"", r.value or b"") for r in records)
        for records in (await consumer.getmany(timeout_ms=500)).values():  # a duplicate would show up here
            found.extend((r.key or b"", r.value or b"") for r in records)
    finally:
        await consumer.stop()
    return found


def outbox_count(db: asyncpg.Connection) -> Callable[[], Awaitable[int]]:
    async def count() -> int:
        return int(await db.fetchval("SELECT count(*) FROM outbox"))

    return count


async def empty(db: asyncpg.Connection) -> bool:
    return await outbox_count(db)() == 0


async def test_rows_of_any_topic_are_published_in_id_order_exactly_once_and_deleted(world: RelayWorld):
    rows = [(world.topic, b"conversation-1", f"record {n}".encode()) for n in range(1_200)]  # three batches
    await enqueue(world.db, rows)

    async with running(OutboxRelay(world.dsn, world.producer)):
        await eventually(lambda: empty(world.db), what="the outbox relayed")
        published = await read_topic(world.topic, len(rows))

    assert published == [(key, value) for _, key, value in rows]


async def test_rows_kafka_refuses_are_kept_and_published_once_it_takes_them(world: RelayWorld):
    await enqueue(world.db, [(world.missing_topic, b"k", b"refused for now"), (world.topic, b"k", b"fine")])

    async with running(OutboxRelay(world.dsn, world.producer)):
        assert await read_topic(world.topic, 1) == [(b"k", b"fine")], "one refused topic holds back no other"
        await eventually(lambda: only_missing_left(world), what="the refused row kept")
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(world.missing_topic, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()
        await eventually(lambda: empty(world.db), timeout_s=30, what="the kept row relayed")
        assert await read_topic(world.missing_topic, 1) == [(b"k", b"refused for now")]


async def only_missing_left(world: RelayWorld) -> bool:
    return [r["topic"] for r in await world.db.fetch("SELECT topic FROM outbox")] == [world.missing_topic]


async def relay_lock_holders(db: asyncpg.Connection) -> list[int]:
    rows = await db.fetch(
        """SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
    )
    return [r["pid"] for r in rows]


async def test_one_relay_publishes_and_a_stand_by_takes_over_when_it_dies(world: RelayWorld):
    async with running(OutboxRelay(world.dsn, world.producer)) as first_stopping:
        [first] = await eventually(lambda: relay_lock_holders(world.db), what="the first relay holding the lock")
        async with running(OutboxRelay(world.dsn, world.producer)):
            await enqueue(world.db, [(world.topic, b"k", b"while both run")])
            await eventually(lambda: empty(world.db), what="one of them relaying")
            assert await relay_lock_holders(world.db) == [first], "the second stands by"

            first_stopping.set()  # the holder goes, and its session with it
            [second] = await eventually(lambda: other_holder(world.db, first), what="the stand-by taking the lock")
            await enqueue(world.db, [(world.topic, b"k", b"after the takeover")])
            await eventually(lambda: empty(world.db), what="the stand-by relaying")
            assert second != first

    assert await read_topic(world.topic, 2) == [(b"k", b"while both run"), (b"k", b"after the takeover")]


async def other_holder(db: asyncpg.Connection, first: int) -> list[int]:
    holders = await relay_lock_holders(db)
    return holders if holders and first not in holders else []


async def test_the_relay_reconnects_after_a_postgresql_outage(world: RelayWorld):
    proxy = Cuttable(5432)
    port = await proxy.start()
    try:
        through_proxy = world.dsn.replace("127.0.0.1:5432", f"127.0.0.1:{port}")
        async with running(OutboxRelay(through_proxy, world.producer)):
            await eventually(lambda: relay_lock_holders(world.db), what="the relay holding the lock")
            proxy.cut()
            await eventually(lambda: no_holder(world.db), what="the relay's session gone with the outage")
            await enqueue(world.db, [(world.topic, b"k", b"written during the outage")])
            proxy.open = True
            await eventually(lambda: empty(world.db), timeout_s=20, what="the relay back, relaying")
        assert await read_topic(world.topic, 1) == [(b"k", b"written during the outage")]
    finally:
        await proxy.close()


async def no_holder(db: asyncpg.Connection) -> bool:
    return not await relay_lock_holders(db)


async def leading(relay: OutboxRelay) -> bool:
    return relay.leading


async def test_a_ring_in_the_publishing_process_wakes_its_relay_without_waiting_for_a_poll(world: RelayWorld):
    relay = OutboxRelay(world.dsn, world.producer, poll_s=3600)  # only a ring can wake it within the test
    pool = await asyncpg.create_pool(world.dsn, min_size=1, max_size=2)
    try:
        async with running(relay):
            await eventually(lambda: leading(relay), what="the relay publishing")
            await enqueue(world.db, [(world.topic, b"k", b"rung here")])
            OutboxBell(pool, relay).ring()
            await eventually(lambda: empty(world.db), timeout_s=10, what="the rung relay publishing")
    finally:
        await pool.close()
    assert await read_topic(world.topic, 1) == [(b"k", b"rung here")]


async def test_a_ring_in_another_process_reaches_the_publishing_relay_by_notify(world: RelayWorld):
    publishing = OutboxRelay(world.dsn, world.producer, poll_s=3600)
    standing_by = OutboxRelay(world.dsn, world.producer, poll_s=3600)
    pool = await asyncpg.create_pool(world.dsn, min_size=1, max_size=2)
    try:
        async with running(publishing):
            await eventually(lambda: leading(publishing), what="the first relay publishing")
            async with running(standing_by):
                bell = OutboxBell(pool, standing_by)
                await enqueue(world.db, [(world.topic, b"k", b"rung there")])
                bell.ring()
                bell.ring()  # folded into the NOTIFY in flight or the next one
                await eventually(lambda: empty(world.db), timeout_s=10, what="the notified relay publishing")
                assert not standing_by.leading
    finally:
        await pool.close()
    assert await read_topic(world.topic, 1) == [(b"k", b"rung there")]


async def test_writing_the_outbox_notifies_nobody_inside_the_transaction(world: RelayWorld):
    """0017 dropped 0011's trigger: a NOTIFY in the writer's transaction serialised every such commit."""
    triggers = await world.db.fetchval(
        "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'outbox'::regclass AND NOT tgisinternal"
    )
    assert triggers == 0
