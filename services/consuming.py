"""The consume loop every Switchboard consumer shares: batches, manual commits, clean rebalances, and a Kafka
client that fails re-created instead of ending consumption.

At-least-once: a partition's offsets are committed only once each of its records was handled or dead-lettered
(services/settling.py says how a failing batch is settled), so a crash replays them, and handlers are
idempotent so a replay changes nothing. When the Kafka client itself fails (fetch, commit, a rebalance that
left this member behind), the loop re-creates it and the group replays what was not committed; when it has
not recovered within `recover_within_s`, `consume` raises so that the process exits and is restarted.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

from services.dead_lettering import DeadLetters
from services.kafka import FetchPacing, report_consumer_lag
from services.metrics import CONSUMER_PARTITIONS, CONSUMER_RESTARTS
from services.settling import ConsumePolicy, PartitionHandler, Settler, stopped_within

log = logging.getLogger(__name__)

__all__ = ["ConsumePolicy", "ConsumerFailed", "consume", "stop_background"]


class ConsumerFailed(Exception):
    """The loop's Kafka client kept failing for longer than the policy allows: restart the process."""


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


class _Progress:
    """When the Kafka client last did its job (a fetch or a commit answered)."""

    def __init__(self) -> None:
        self.at = time.monotonic()

    def made(self) -> None:
        self.at = time.monotonic()


async def consume(
    new_consumer: Callable[[], AIOKafkaConsumer],
    topic: str,
    group: str,
    handle_partition: PartitionHandler,
    stopping: asyncio.Event,
    dead_letters: DeadLetters,
    policy: ConsumePolicy | None = None,
) -> None:
    """Feed each partition's records, in order, to `handle_partition` until `stopping`; partitions run at once.

    Raises `ConsumerFailed` when the Kafka client keeps failing for longer than `policy.recover_within_s`.
    """
    policy = policy or ConsumePolicy()
    settler = Settler(handle_partition, dead_letters, policy, stopping, group)
    progress = _Progress()
    failing_since, restarts = 0.0, 0
    while not stopping.is_set():
        consumer = new_consumer()
        try:
            await _consume_with(consumer, topic, group, settler, stopping, policy, progress)
            return
        except Exception as error:  # the outermost loop: whatever failed, the client is re-created
            CONSUMER_RESTARTS.labels(group=group).inc()
            now = time.monotonic()
            # Failing is counted from the first failure since the client last did its job: a commit that
            # fails after a long outage was waited out is a fresh failure, not one that lasted the outage.
            if progress.at > failing_since:
                failing_since, restarts = now, 0
            restarts += 1
            if now - failing_since > policy.recover_within_s:
                raise ConsumerFailed(
                    f"the {group} consumer of {topic} failed for {now - failing_since:.0f}s"
                ) from error
            delay_s = policy.backoff_s(restarts)
            log.warning("the %s consumer of %s failed; restarting it in %.1fs", group, topic, delay_s, exc_info=True)
            await stopped_within(stopping, delay_s)
        finally:
            await _close(consumer)


async def _consume_with(
    consumer: AIOKafkaConsumer,
    topic: str,
    group: str,
    settler: Settler,
    stopping: asyncio.Event,
    policy: ConsumePolicy,
    progress: _Progress,
) -> None:
    in_flight = asyncio.Lock()
    consumer.subscribe([topic], listener=_FinishBeforeRevoke(in_flight, group, topic))
    await consumer.start()
    pacing = FetchPacing(consumer)
    # Lag is read from the broker beside the loop, so a partition stuck in retries shows a growing lag.
    lag = asyncio.create_task(report_consumer_lag(consumer, group, policy.lag_interval_s), name=f"{group}-lag")
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            progress.made()
            pacing.observed(bool(batch))  # before any await: the fetcher builds its next request once we yield
            if not batch:
                continue
            async with in_flight:
                async with asyncio.TaskGroup() as settling:
                    settled = {tp: settling.create_task(settler.settle(records)) for tp, records in batch.items()}
                offsets = {tp: offset for tp, task in settled.items() if (offset := task.result()) is not None}
                if offsets:
                    await consumer.commit(offsets)
                    progress.made()
    finally:
        lag.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lag


async def _close(consumer: AIOKafkaConsumer, timeout_s: float = 10.0) -> None:
    """Leave the group and close, without letting a broken client fail or hang the loop."""
    try:
        async with asyncio.timeout(timeout_s):
            await consumer.stop()
    except Exception:  # a client being replaced because it failed may fail to close too
        log.warning("closing the consumer failed", exc_info=True)


async def stop_background(tasks: list[asyncio.Task[None]], deadline_s: float) -> None:
    """Let background tasks finish (a consumer its batch and commit) within the deadline; cancel the rest."""
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=deadline_s)
    for task in late:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            try:
                await task
            except Exception:  # a task that failed was reported when it did; shutdown goes on
                log.info("%s had failed", task.get_name())
