"""The consume loop every Switchboard consumer shares: batches, manual commits, clean rebalances.

At-least-once: a batch's offsets are committed only after its handler returned, so a crash replays
the batch, and handlers are idempotent so a replay changes nothing. A failing batch is retried from
its first offset after a pause; it is never skipped, because skipping would lose messages.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from services.kafka import record_consumer_lag
from services.metrics import CONSUMER_PARTITIONS

log = logging.getLogger(__name__)

PartitionHandler = Callable[[list[ConsumerRecord[bytes, bytes]]], Awaitable[None]]


class _FinishBeforeRevoke(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """Holds a rebalance until the batch in flight has been handled and committed."""

    def __init__(self, in_flight: asyncio.Lock, group: str, topic: str) -> None:
        self._in_flight = in_flight
        self._owned = CONSUMER_PARTITIONS.labels(group=group, topic=topic)

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        async with self._in_flight:
            self._owned.set(0)  # the batch commits before releasing the lock

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        # aiokafka rebalances eagerly: `assigned` is this member's whole new assignment.
        self._owned.set(len(assigned))
        log.info("assigned partitions %s", sorted(tp.partition for tp in assigned))


async def consume(
    consumer: AIOKafkaConsumer,
    topic: str,
    group: str,
    handle_partition: PartitionHandler,
    stopping: asyncio.Event,
    retry_pause_s: float = 1.0,
) -> None:
    """Feed each partition's records, in order, to `handle_partition`; partitions run concurrently."""
    in_flight = asyncio.Lock()
    consumer.subscribe([topic], listener=_FinishBeforeRevoke(in_flight, group, topic))
    await consumer.start()
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            if not batch:
                await record_consumer_lag(consumer, group)
                continue
            async with in_flight:
                try:
                    await asyncio.gather(*(handle_partition(records) for records in batch.values()))
                except Exception:
                    log.exception("batch failed; replaying it from its first record")
                    for tp, records in batch.items():
                        consumer.seek(tp, records[0].offset)
                    await asyncio.sleep(retry_pause_s)
                    continue
                await consumer.commit({tp: records[-1].offset + 1 for tp, records in batch.items()})
            await record_consumer_lag(consumer, group)
    finally:
        await consumer.stop()


async def stop_background(tasks: list[asyncio.Task[None]], deadline_s: float) -> None:
    """Let background tasks finish (a consumer its batch and commit) within the deadline; cancel the rest."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=deadline_s)
    for task in late:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
