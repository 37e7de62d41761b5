"""The consume loop every Switchboard consumer shares: batches, manual commits, clean rebalances, and records
that cannot be processed set aside instead of wedging their partition.

At-least-once: a partition's offsets are committed only once each of its records was handled or dead-lettered,
so a crash replays them. Every handler is idempotent (the router's store dedupes by provider message id, the
dispatcher claims each reply before sending it), so a replay changes nothing, and a failing batch may safely
be handled again, whole or one record at a time. When a batch's handler raises (services/failures.py):

- our outage (PostgreSQL or Kafka unreachable): the batch is retried with capped backoff for as long as the
  outage lasts; it is never dead-lettered;
- `UnprocessableRecord`: that record is dead-lettered at once, and the rest of the batch is handled again;
- anything else: the batch is retried `retries` times, then its records one at a time, each as often, and a
  record that still fails is dead-lettered; the partition moves on.

A dead letter is acknowledged by the broker before the offset past it is committed. When the Kafka client
itself fails (fetch, commit), the loop re-creates it and the group replays what was not committed; when it
has not recovered within `recover_within_s`, `consume` raises so that the process exits and is restarted.
"""

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition

from services.dead_lettering import DeadLetters
from services.failures import UnprocessableRecord, is_transient
from services.kafka import report_consumer_lag
from services.metrics import CONSUMER_PARTITIONS, CONSUMER_RESTARTS, CONSUMER_RETRIES
from services.settings import CommonSettings

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
PartitionHandler = Callable[[list[Record]], Awaitable[None]]
Result = TypeVar("Result")


@dataclass(frozen=True)
class ConsumePolicy:
    """How often and how patiently the loop retries, and how long its client may fail before it gives up."""

    retries: int = 3
    retry_initial_s: float = 0.2
    retry_max_s: float = 5.0
    recover_within_s: float = 120.0
    lag_interval_s: float = 1.0

    @classmethod
    def of(cls, settings: CommonSettings) -> "ConsumePolicy":
        """The policy a process's settings describe."""
        return cls(
            retries=settings.consumer_record_retries,
            retry_initial_s=settings.consumer_retry_initial_s,
            retry_max_s=settings.consumer_retry_max_s,
            recover_within_s=settings.consumer_recover_within_s,
        )

    def backoff_s(self, failures: int) -> float:
        """Capped exponential backoff after the n-th consecutive failure (n >= 1)."""
        return float(min(self.retry_max_s, self.retry_initial_s * 2 ** min(failures - 1, 32)))


class ConsumerFailed(Exception):
    """The loop's Kafka client kept failing for longer than the policy allows: restart the process."""


class _Abandoned(Exception):
    """Shutdown began while records waited for a retry: they are left uncommitted, for the replay."""


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


class _Settler:
    """Takes one partition's batch to the point where its offsets may be committed."""

    def __init__(
        self,
        handle: PartitionHandler,
        dead_letters: DeadLetters,
        policy: ConsumePolicy,
        stopping: asyncio.Event,
        group: str,
    ) -> None:
        self._handle = handle
        self._dead_letters = dead_letters
        self._policy = policy
        self._stopping = stopping
        self._group = group

    async def settle(self, records: list[Record]) -> int | None:
        """Handle or dead-letter every record; the offset to commit (None when shutdown left nothing settled)."""
        settled: int | None = None
        try:
            pending, tries = await self._as_batch(records)
            for record in pending:
                await self._one_at_a_time(record, tries)
                settled = record.offset + 1
            return int(records[-1].offset) + 1
        except _Abandoned:
            return settled

    async def _as_batch(self, records: list[Record]) -> tuple[list[Record], int]:
        """Handle the records together; what is left to handle one at a time, and how often it was tried."""
        pending, tries, failures = list(records), 0, 0
        while pending:
            tries += 1
            try:
                await self._through_outages(functools.partial(self._handle, pending))
                return [], tries
            except UnprocessableRecord as verdict:
                bad = [r for r in pending if r.offset == verdict.record.offset]
                if not bad:  # a verdict on a record it was not given: sort the batch out one by one
                    return pending, tries
                await self._dead_letter(bad[0], verdict.reason, verdict, attempts=tries)
                pending = [r for r in pending if r.offset != verdict.record.offset]
            except Exception as error:  # not our outage: the records' fault, or a bug; bounded retries
                failures += 1
                if failures > self._policy.retries:
                    log.warning("batch failed %d times (%r); handling its records one at a time", failures, error)
                    return pending, tries
                await self._retry_after(failures, "record", error)
        return [], tries

    async def _one_at_a_time(self, record: Record, batch_tries: int) -> None:
        failures = 0
        while True:
            try:
                await self._through_outages(lambda: self._handle([record]))
                return
            except UnprocessableRecord as verdict:
                await self._dead_letter(record, verdict.reason, verdict, batch_tries + failures + 1)
                return
            except Exception as error:  # see _as_batch
                failures += 1
                if failures > self._policy.retries:
                    await self._dead_letter(record, "unprocessable", error, batch_tries + failures)
                    return
                await self._retry_after(failures, "record", error)

    async def _dead_letter(self, record: Record, reason: str, error: Exception, attempts: int) -> None:
        log.error(
            "dead-lettering %s/%d@%d (%s) after %d attempt(s): %r",
            record.topic,
            record.partition,
            record.offset,
            reason,
            attempts,
            error,
        )
        detail = str(error) or repr(error)
        await self._through_outages(lambda: self._dead_letters.send(record, reason, detail, attempts))

    async def _through_outages(self, work: Callable[[], Awaitable[Result]]) -> Result:
        """Run `work`, again and again while it fails for our own outage: an outage never dead-letters."""
        outages = 0
        while True:
            try:
                return await work()
            except Exception as error:
                if not is_transient(error):
                    raise
                outages += 1
                await self._retry_after(outages, "transient", error)

    async def _retry_after(self, failures: int, kind: str, error: Exception) -> None:
        CONSUMER_RETRIES.labels(group=self._group, kind=kind).inc()
        delay_s = self._policy.backoff_s(failures)
        log.warning("%s failure #%d (%r); retrying in %.2fs", kind, failures, error, delay_s)
        if await _stopped_within(self._stopping, delay_s):
            raise _Abandoned


async def _stopped_within(stopping: asyncio.Event, delay_s: float) -> bool:
    """Wait `delay_s`, or less if shutdown begins; whether it did."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), delay_s)
    return stopping.is_set()


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
    settler = _Settler(handle_partition, dead_letters, policy, stopping, group)
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
            await _stopped_within(stopping, delay_s)
        finally:
            await _close(consumer)


async def _consume_with(
    consumer: AIOKafkaConsumer,
    topic: str,
    group: str,
    settler: _Settler,
    stopping: asyncio.Event,
    policy: ConsumePolicy,
    progress: _Progress,
) -> None:
    in_flight = asyncio.Lock()
    consumer.subscribe([topic], listener=_FinishBeforeRevoke(in_flight, group, topic))
    await consumer.start()
    # Lag is read from the broker beside the loop, so a partition stuck in retries shows a growing lag.
    lag = asyncio.create_task(report_consumer_lag(consumer, group, policy.lag_interval_s), name=f"{group}-lag")
    try:
        while not stopping.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=500)
            progress.made()
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
