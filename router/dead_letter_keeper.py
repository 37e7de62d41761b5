"""The dead-letter keeper: copies both dead-letter topics into PostgreSQL, where admins list and re-drive them.

A consumer group of its own per topic, in the router's consumer role; a record is committed only once its
row is stored, and a replayed record is stored once (the row is keyed by its topic, partition and offset).
The keeper is the last stop, so it stores whatever it reads: a record whose row PostgreSQL refuses is kept as
an `unkeepable` row saying why, rather than sent round the dead-letter topic again.
"""

import dataclasses
import logging

from aiokafka import ConsumerRecord

from router.dead_letters import DeadLetterRecord, KeptDeadLetter, read_dead_letter
from router.store.dead_letters import keep
from services.failures import is_transient
from services.kafka import Topics
from services.metrics import DEAD_LETTERS_KEPT
from services.postgres import Pool

log = logging.getLogger(__name__)

KNOWN_REASONS = frozenset(
    {"undecodable", "unprocessable", "retries_exhausted", "rejected", "channel_rule", "unknown_account", "unkeepable"}
)


class DeadLetterKeeper:
    """Stores the records of one dead-letter partition, in one statement per batch."""

    def __init__(self, pool: Pool, topics: Topics) -> None:
        self._pool = pool
        self._topics = topics

    async def handle_partition(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        letters = [
            read_dead_letter(
                DeadLetterRecord(
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    key=r.key,
                    value=r.value or b"",
                    headers=dict(r.headers or ()),
                    timestamp_ms=r.timestamp,
                ),
                self._topics,
            )
            for r in records
        ]
        try:
            await self._keep(letters)
        except Exception as error:
            if is_transient(error):
                raise  # our outage: the consume loop waits it out
            for letter in letters:
                await self._keep_one(letter)
        for letter in letters:
            # The reason comes from a record header: only known values become a label.
            reason = letter.reason if letter.reason in KNOWN_REASONS else "other"
            DEAD_LETTERS_KEPT.labels(kind=letter.kind, reason=reason).inc()

    async def _keep(self, letters: list[KeptDeadLetter]) -> None:
        async with self._pool.acquire() as conn:
            await keep(conn, letters)

    async def _keep_one(self, letter: KeptDeadLetter) -> None:
        try:
            await self._keep([letter])
        except Exception as error:
            if is_transient(error):
                raise
            log.error(
                "dead letter at %s/%d@%d kept without its record: %r",
                letter.source.topic,
                letter.source.partition,
                letter.source.offset,
                error,
            )
            await self._keep(
                [dataclasses.replace(letter, reason="unkeepable", detail=repr(error)[:2000], record_value=b"")]
            )
