"""Kafka plumbing: topic names, topic creation, and clients configured for at-least-once, no-duplicate work.

Producers are idempotent with acks=all, so an acknowledged record is on the broker's log and a retried
send never writes it twice. Consumers never auto-commit: the caller commits `offset + 1` once its work
is durable.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.metrics import CONSUMER_LAG

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Topics:
    """The topic names of one stack, all under one prefix."""

    prefix: str

    @property
    def inbound(self) -> str:
        return f"{self.prefix}.inbound.v1"

    @property
    def inbound_dead_letter(self) -> str:
        """Inbound records the router could not process: the original key and value, the reason in headers."""
        return f"{self.prefix}.inbound.dlq.v1"

    @property
    def outbound(self) -> str:
        return f"{self.prefix}.outbound.v1"

    @property
    def outbound_dead_letter(self) -> str:
        return f"{self.prefix}.outbound.dlq.v1"

    @property
    def assignments(self) -> str:
        return f"{self.prefix}.assignments.v1"

    def partitions(self) -> dict[str, int]:
        # Inbound is keyed by sender: its partition count bounds how many routers can share the work.
        return {
            self.inbound: 8,
            self.inbound_dead_letter: 1,
            self.outbound: 4,
            self.outbound_dead_letter: 1,
            self.assignments: 4,
        }


async def ensure_topics(bootstrap: str, topics: Topics) -> None:
    """Create the stack's topics if they are missing; safe to call from every process at start-up."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name, num_partitions=count, replication_factor=1)
            for name, count in topics.partitions().items()
            if name not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them first
                await admin.create_topics(missing)
            log.info("created topics %s", [t.name for t in missing])
    finally:
        await admin.close()


def make_producer(bootstrap: str, *, client_id: str) -> AIOKafkaProducer:
    """An idempotent producer: acks=all, retried sends never duplicate a record."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        enable_idempotence=True,
        acks="all",
        linger_ms=1,
        request_timeout_ms=10_000,
    )


def make_consumer(
    bootstrap: str, *, group_id: str, client_id: str, fetch_max_wait_ms: int = 20, fetch_min_bytes: int = 16 * 1024
) -> AIOKafkaConsumer:
    """A group consumer with manual commits, starting from the earliest record for a new group.

    The caller subscribes, with a rebalance listener that lets in-flight work finish and commit. A consumer of
    a topic that is nearly always empty (the dead letters) waits longer per fetch: an idle fetch every 20 ms
    costs the broker about 50 requests a second for nothing.
    """
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group_id,
        client_id=client_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=500,
        # Wait up to 20 ms for 16 KiB rather than answering every fetch with a record or two: fewer, larger
        # fetches cost the broker less and give the handler batches to store in one statement.
        fetch_max_wait_ms=fetch_max_wait_ms,
        fetch_min_bytes=fetch_min_bytes,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=3_000,
    )


class FetchPacing:
    """Fetch in batches while records flow, and wait for the first record while none do.

    A batching consumer asks the broker to hold each fetch until 16 KiB arrived or 20 ms passed: under load
    that gives the handler batches for one statement each, but on a quiet topic it is an empty fetch every
    20 ms, about 50 requests a second per consumer, which cost the broker and this process more than a
    quiet stack should (about 60 ms of CPU a second each, measured). While the topic is quiet the next fetch
    asks for one byte and up to 500 ms instead: the broker answers as soon as a record arrives, so a quiet
    stack answers its first message as fast as before, and records that flow switch back to batches.

    aiokafka reads its fetcher's `_fetch_min_bytes` and `_fetch_max_wait_ms` each time it builds a fetch
    request (0.11 to 0.14); tests/integration/services/test_fetch_pacing.py fails if that changes.
    """

    IDLE_MIN_BYTES = 1
    IDLE_MAX_WAIT_MS = 500

    def __init__(self, consumer: AIOKafkaConsumer) -> None:
        """Call once the consumer has started (its fetcher exists). A consumer without aiokafka's fetcher
        (a different aiokafka, a stand-in) is left as configured, with a warning."""
        self._fetcher = getattr(consumer, "_fetcher", None)
        self._idle = False
        self._batch = (0, 0)
        if self._fetcher is None or not all(
            isinstance(getattr(self._fetcher, name, None), int) for name in ("_fetch_min_bytes", "_fetch_max_wait_ms")
        ):
            log.warning("this Kafka consumer cannot be paced: every fetch waits as configured")
            self._fetcher = None
            return
        self._batch = (self._fetcher._fetch_min_bytes, self._fetcher._fetch_max_wait_ms)

    @property
    def idle(self) -> bool:
        return self._idle

    def observed(self, records: bool) -> None:
        """Pace the next fetch after a `getmany` that returned records or timed out empty."""
        idle = not records
        if idle == self._idle or self._fetcher is None:
            return
        self._idle = idle
        if idle:
            self._fetcher._fetch_min_bytes = self.IDLE_MIN_BYTES
            self._fetcher._fetch_max_wait_ms = max(self.IDLE_MAX_WAIT_MS, self._batch[1])
        else:
            self._fetcher._fetch_min_bytes, self._fetcher._fetch_max_wait_ms = self._batch


async def wait_for_kafka(bootstrap: str, timeout_s: float) -> None:
    """Wait until the broker answers, so a process started beside it does not crash on start-up."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=2_000)
        try:
            await admin.start()
            await admin.close()
            return
        except (KafkaError, OSError):
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.5)


async def report_consumer_lag(consumer: AIOKafkaConsumer, group: str, interval_s: float) -> None:
    """Export, every `interval_s` until cancelled, the records past the group's committed offset on each
    partition this consumer owns: what is neither handled nor dead-lettered yet, whatever the loop is doing."""
    exported: set[TopicPartition] = set()
    while True:
        try:
            async with asyncio.timeout(max(5.0, interval_s)):
                exported = await _export_lag(consumer, group, exported)
        except Exception as error:  # the gauge keeps its last value while the broker does not answer
            log.debug("consumer lag not measured: %r", error)
        await asyncio.sleep(interval_s)


async def _export_lag(consumer: AIOKafkaConsumer, group: str, exported: set[TopicPartition]) -> set[TopicPartition]:
    owned: set[TopicPartition] = set(consumer.assignment())
    for gone in exported - owned:  # its new owner exports it now
        CONSUMER_LAG.remove(group, gone.topic, str(gone.partition))
    if not owned:
        return owned
    ends = await consumer.end_offsets(list(owned))
    committed = dict(zip(owned, await asyncio.gather(*(consumer.committed(tp) for tp in owned)), strict=True))
    if any(offset is None for offset in committed.values()):  # nothing committed yet: all of the log is ahead
        starts = await consumer.beginning_offsets(list(owned))
        committed = {tp: starts[tp] if offset is None else offset for tp, offset in committed.items()}
    for tp in owned:
        CONSUMER_LAG.labels(group=group, topic=tp.topic, partition=str(tp.partition)).set(
            max(0, ends[tp] - committed[tp])
        )
    return owned
