"""Kafka plumbing: topic names, topic creation, and clients configured for at-least-once, no-duplicate work.

Producers are idempotent with acks=all, so an acknowledged record is on the broker's log and a retried
send never writes it twice. Consumers never auto-commit: the caller commits `offset + 1` once its work
is durable.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)

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


# Errors after which the idempotent producer can write no more to a partition: aiokafka keeps numbering its
# batches on, the broker keeps refusing them, every later send there fails at once (it does not reset its
# producer id as Java's client does). Seen in `make chaos`: after a 30 s broker pause the broker refused
# ingest's producer with OutOfOrderSequenceException on six of eight inbound partitions (52,475 refusals in
# its log) and ingest answered 503 to three webhooks in four, for good, while its readiness check passed.
PRODUCER_BROKEN = (OutOfOrderSequenceNumber, UnknownProducerId, InvalidProducerEpoch, ProducerFenced)


class IdempotentProducer(AIOKafkaProducer):  # type: ignore[misc]  # aiokafka is untyped
    """aiokafka's producer, which knows when it is broken for good (`PRODUCER_BROKEN`).

    `until_broken()` raises the first such error: a process watches it as an essential task
    (services/health.py `Liveness`), so it exits and is restarted with a new producer (a new producer id)
    instead of refusing that partition's records until someone restarts it by hand.
    """

    def __init__(self, **config: object) -> None:
        super().__init__(**config)
        self._broken: asyncio.Future[None] | None = None

    async def send(self, *args: object, **kwargs: object) -> "asyncio.Future[object]":
        delivered: asyncio.Future[object] = await super().send(*args, **kwargs)
        delivered.add_done_callback(self._check)
        return delivered

    async def until_broken(self, stopping: asyncio.Event) -> None:
        """Raise the first error a send failed with that this producer cannot recover from; return once
        `stopping` is set."""
        broken = self._broken_future()
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stopping.wait())
        waiting: list[asyncio.Future[Any]] = [broken, stopped]
        try:
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if broken.done():
            broken.result()  # raises the error

    def _broken_future(self) -> "asyncio.Future[None]":
        if self._broken is None:
            self._broken = asyncio.get_running_loop().create_future()
        return self._broken

    def _check(self, delivered: "asyncio.Future[object]") -> None:
        if delivered.cancelled():
            return
        error = delivered.exception()
        if isinstance(error, PRODUCER_BROKEN) and not (broken := self._broken_future()).done():
            log.critical("the Kafka producer is broken for good (%r): the process must restart", error)
            broken.set_exception(error)


def make_producer(bootstrap: str, *, client_id: str) -> IdempotentProducer:
    """An idempotent producer: acks=all, retried sends never duplicate a record."""
    return IdempotentProducer(
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
