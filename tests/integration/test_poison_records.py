"""Records that cannot be processed, produced straight to the topics: set aside on the dead-letter topic with
their reason while the partition moves on; and our own outage, which is waited out and never dead-lettered."""

import asyncio
import contextlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from loadtests.ports import free_port
from schemas.inbound import InboundMessage
from schemas.wire import encode
from services.kafka import Topics
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import KAFKA, PHONE_NUMBER_ID, Stack
from tests.integration.services import ServiceProcess
from tests.integration.test_dispatch import assigned_conversation

pytestmark = pytest.mark.integration

ROUTER_GROUP = "switchboard-router"  # the router's default consumer group, as the session runs it
DISPATCHER_GROUP = "switchboard-dispatcher"


def inbound_message(wa_id: str, text: str) -> InboundMessage:
    now = datetime.now(UTC)
    return InboundMessage(
        event_id=uuid.uuid4(),
        channel="whatsapp",
        account_external_id=PHONE_NUMBER_ID,
        sender_external_id=wa_id,
        sender_name="Poison Test",
        provider_message_id=f"wamid.poison.{secrets.token_hex(6)}",
        sent_at=now,
        received_at=now,
        content_type="text",
        text=text,
    )


def customer_key(wa_id: str) -> bytes:
    return f"whatsapp:{PHONE_NUMBER_ID}:{wa_id}".encode()  # as ingest keys a customer's events


async def produce(topic: str, records: list[tuple[bytes, bytes]]) -> list[tuple[int, int]]:
    """Produce (key, value) records in order; each one's (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        placed = []
        for key, value in records:
            metadata = await producer.send_and_wait(topic, value, key=key)
            placed.append((metadata.partition, metadata.offset))
        return placed
    finally:
        await producer.stop()


async def dead_letters(topic: str) -> list[dict[str, Any]]:
    """Every record on a dead-letter topic, with its headers as a dict."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=2000)
        return [
            {"key": r.key, "value": r.value, "headers": {k: v.decode() for k, v in r.headers}}
            for records in batch.values()
            for r in records
        ]
    finally:
        await consumer.stop()


async def dead_letter_from(topic: str, source_topic: str, partition: int, offset: int) -> dict[str, Any] | None:
    for letter in await dead_letters(topic):
        headers = letter["headers"]
        if (headers.get("switchboard-source-topic"), headers.get("switchboard-source-partition")) == (
            source_topic,
            str(partition),
        ) and headers.get("switchboard-source-offset") == str(offset):
            return letter
    return None


async def committed(group: str, topic: str, partition: int) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group, partitions=[TopicPartition(topic, partition)])
    finally:
        await admin.close()
    found = offsets.get(TopicPartition(topic, partition))
    return found.offset if found is not None else -1


async def stored(db: asyncpg.Connection, provider_message_id: str) -> bool:
    return bool(await db.fetchval("SELECT 1 FROM messages WHERE provider_message_id = $1", provider_message_id))


async def test_a_nul_produced_straight_to_the_topic_is_stored_without_it_and_holds_nothing_up(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    # Ingest cleans NUL (schemas/inbound.py); a record produced by anything else is cleaned when decoded, so
    # PostgreSQL never sees it (before, the batch failed and replayed for ever, wedging the partition).
    wa_id = f"97254{secrets.randbelow(10**7):07d}"
    poison = inbound_message(wa_id, "hello\u0000world")
    normal = inbound_message(wa_id, "Where is my order?")
    await produce(stack.topics.inbound, [(customer_key(wa_id), encode(poison)), (customer_key(wa_id), encode(normal))])

    await eventually(lambda: stored(db, normal.provider_message_id), timeout_s=30, what="the next message stored")
    text = await db.fetchval("SELECT text FROM messages WHERE provider_message_id = $1", poison.provider_message_id)
    assert text == "helloworld"


@pytest.mark.parametrize(
    ("poison", "reason"),
    [(b"\xff\xfe this is not a record", "undecodable"), (b'{"type": "inbound_message"}', "undecodable")],
    ids=["not-json", "not-a-record"],
)
async def test_a_poison_inbound_record_is_dead_lettered_and_the_customers_next_message_stored(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack, poison: bytes, reason: str
):
    wa_id = f"97254{secrets.randbelow(10**7):07d}"
    normal = inbound_message(wa_id, "Where is my order?")
    topic = stack.topics.inbound
    [(partition, poison_offset), (same_partition, normal_offset)] = await produce(
        topic, [(customer_key(wa_id), poison), (customer_key(wa_id), encode(normal))]
    )
    assert same_partition == partition

    await eventually(lambda: stored(db, normal.provider_message_id), timeout_s=30, what="the next message stored")
    letter = await eventually(
        lambda: dead_letter_from(stack.topics.inbound_dead_letter, topic, partition, poison_offset),
        timeout_s=30,
        what="the poison record on the inbound dead-letter topic",
    )
    assert (letter["key"], letter["value"]) == (customer_key(wa_id), poison)
    headers = letter["headers"]
    assert headers["switchboard-error"] == reason
    assert headers["switchboard-error-detail"]
    assert int(headers["switchboard-attempts"]) >= 1
    await eventually(
        lambda: _at_least(committed(ROUTER_GROUP, topic, partition), normal_offset + 1),
        what="the router's committed offset past both records",
    )


async def _at_least(value: Any, minimum: int) -> bool:
    return bool(await value >= minimum)


async def test_a_garbage_outbound_record_is_dead_lettered_and_the_next_reply_sent(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    agent, conversation = await assigned_conversation(switchboard, f"97255{secrets.randbelow(10**7):07d}")
    key = str(conversation["id"]).encode()  # the router keys a reply by its conversation: same partition
    topic = stack.topics.outbound
    [(partition, garbage_offset)] = await produce(topic, [(key, b"\x00 not a reply")])
    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    async def sent() -> bool:
        status = await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", message_id)
        return bool(status == "sent")

    await eventually(sent, timeout_s=30, what="the reply behind the garbage sent")
    assert [r["body"]["text"]["body"] for r in await switchboard.sandbox_requests()] == ["It ships today."]
    letter = await eventually(
        lambda: dead_letter_from(stack.topics.outbound_dead_letter, topic, partition, garbage_offset),
        timeout_s=30,
        what="the garbage on the outbound dead-letter topic",
    )
    assert (letter["key"], letter["value"]) == (key, b"\x00 not a reply")
    assert letter["headers"]["switchboard-error"] == "unprocessable"  # the dispatcher's decode error
    await eventually(
        lambda: _at_least(committed(DISPATCHER_GROUP, topic, partition), garbage_offset + 1),
        what="the dispatcher's committed offset past the garbage",
    )


class CuttableProxy:
    """A loopback TCP proxy between one process and PostgreSQL: `cut` drops every connection and refuses new
    ones, as an outage of the server would look to that process; `restore` accepts again."""

    def __init__(self, upstream_port: int) -> None:
        self.port = free_port()
        self._upstream_port = upstream_port
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def restore(self) -> None:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._open):
            writer.transport.abort()
        self._open.clear()

    async def _pipe(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        except OSError:
            client_writer.transport.abort()
            return
        self._open.update((client_writer, server_writer))
        await asyncio.gather(_copy(client_reader, server_writer), _copy(server_reader, client_writer))
        self._open.difference_update((client_writer, server_writer))


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()


async def metric(url: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`, from a process's /metrics."""
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def test_our_own_database_outage_is_waited_out_and_never_dead_lettered(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    # A router consumer of its own (own topics, own group), whose only way to PostgreSQL is the proxy.
    topics = Topics(f"{stack.topics.prefix}-outage")
    group = f"router-outage-{secrets.token_hex(3)}"
    proxy = CuttableProxy(5432)
    await proxy.restore()
    port = free_port()
    router = ServiceProcess(
        "router",
        port,
        {
            **stack.env,
            "SWITCHBOARD_PORT": str(port),
            "SWITCHBOARD_ROLES": "consumer",
            "SWITCHBOARD_TOPIC_PREFIX": topics.prefix,
            "SWITCHBOARD_CONSUMER_GROUP": group,
            "SWITCHBOARD_DATABASE_URL": stack.dsn.replace(":5432/", f":{proxy.port}/"),
            "SWITCHBOARD_CONSUMER_RETRY_MAX_S": "1",
        },
        name="router-outage",
    )
    router.start()
    try:
        await asyncio.to_thread(router.wait_ready)
        await proxy.cut()
        wa_id = f"97256{secrets.randbelow(10**7):07d}"
        message = inbound_message(wa_id, "Are you there?")
        [(partition, offset)] = await produce(topics.inbound, [(customer_key(wa_id), encode(message))])

        async def waiting_out_the_outage() -> bool:
            retried = await metric(router.url, "switchboard_consumer_retries_total", group=group, kind="transient")
            lag = await metric(router.url, "switchboard_consumer_lag", group=group, partition=str(partition))
            return retried >= 2 and lag >= 1  # the wedge shows as lag, never 0

        await eventually(waiting_out_the_outage, timeout_s=30, what="the router retrying through the outage")
        assert not await stored(db, message.provider_message_id)
        await proxy.restore()

        await eventually(lambda: stored(db, message.provider_message_id), timeout_s=30, what="the message stored")
        await eventually(
            lambda: _at_least(committed(group, topics.inbound, partition), offset + 1),
            what="the committed offset past the message",
        )
        assert await dead_letters(topics.inbound_dead_letter) == []
        assert await metric(router.url, "switchboard_dead_lettered_total") == 0

        async def lag_drained() -> bool:
            return await metric(router.url, "switchboard_consumer_lag", group=group) == 0

        await eventually(lag_drained, what="the lag back to 0")
    finally:
        await asyncio.to_thread(router.stop)
        await proxy.cut()
        await _delete_topics(topics)


async def _delete_topics(topics: Topics) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.delete_topics(list(topics.partitions()))
    finally:
        await admin.close()
