"""How one partition's batch is settled: every record handled, or set aside on the dead-letter topic.

When a batch's handler raises (services/failures.py sorts the error):

- our outage (PostgreSQL or Kafka unreachable): the batch is retried with capped backoff for as long as the
  outage lasts; it is never dead-lettered;
- `UnprocessableRecord`: that record is dead-lettered at once, and the rest of the batch is handled again;
- anything else: the batch is retried `retries` times, then its records one at a time, each as often, and a
  record that still fails is dead-lettered; the partition moves on.

Handling records again, together or one at a time, is safe because every handler is idempotent: the router's
store dedupes by provider message id, and the dispatcher claims each reply before sending it.
"""

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeAlias, TypeVar

from aiokafka import ConsumerRecord

from services.dead_lettering import DeadLetters
from services.failures import UnprocessableRecord, is_transient
from services.metrics import CONSUMER_RETRIES
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
    lag_interval_s: float = 2.0  # a probe costs the broker a request per partition: Prometheus scrapes less often

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


class Abandoned(Exception):
    """Shutdown began while records waited for a retry: they are left uncommitted, for the replay."""


class Settler:
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
        except Abandoned:
            return settled

    async def _as_batch(self, records: list[Record]) -> tuple[list[Record], int]:
        """Handle the records together; what is left to handle one at a time, and how often it was tried."""
        pending, tries, failures = list(records), 0, 0
        while pending:
            tries += 1
            try:
                await self._through_outages(functools.partial(self._handle, pending), pending[0])
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
                    log.warning(
                        "%s: batch failed %d times (%r); one record at a time now", _at(pending[0]), failures, error
                    )
                    return pending, tries
                await self._retry_after(failures, "record", error, pending[0])
        return [], tries

    async def _one_at_a_time(self, record: Record, batch_tries: int) -> None:
        failures = 0
        while True:
            try:
                await self._through_outages(lambda: self._handle([record]), record)
                return
            except UnprocessableRecord as verdict:
                await self._dead_letter(record, verdict.reason, verdict, batch_tries + failures + 1)
                return
            except Exception as error:  # see _as_batch
                failures += 1
                if failures > self._policy.retries:
                    await self._dead_letter(record, "unprocessable", error, batch_tries + failures)
                    return
                await self._retry_after(failures, "record", error, record)

    async def _dead_letter(self, record: Record, reason: str, error: Exception, attempts: int) -> None:
        log.error("%s: dead-lettered (%s) after %d attempt(s): %r", _at(record), reason, attempts, error)
        detail = str(error) or repr(error)
        await self._through_outages(lambda: self._dead_letters.send(record, reason, detail, attempts), record)

    async def _through_outages(self, work: Callable[[], Awaitable[Result]], first: Record) -> Result:
        """Run `work`, again and again while it fails for our own outage: an outage never dead-letters."""
        outages = 0
        while True:
            try:
                return await work()
            except Exception as error:
                if not is_transient(error):
                    raise
                outages += 1
                await self._retry_after(outages, "transient", error, first)

    async def _retry_after(self, failures: int, kind: str, error: Exception, first: Record) -> None:
        CONSUMER_RETRIES.labels(group=self._group, kind=kind).inc()
        delay_s = self._policy.backoff_s(failures)
        log.warning("%s: %s failure #%d (%r); retrying in %.2fs", _at(first), kind, failures, error, delay_s)
        if await stopped_within(self._stopping, delay_s):
            raise Abandoned


def _at(record: Record) -> str:
    """Where a record (or the batch it starts) is, for the logs: topic/partition@offset."""
    return f"{record.topic}/{record.partition}@{record.offset}"


async def stopped_within(stopping: asyncio.Event, delay_s: float) -> bool:
    """Wait `delay_s`, or less if shutdown begins; whether it did."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), delay_s)
    return stopping.is_set()
