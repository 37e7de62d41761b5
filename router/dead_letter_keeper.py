"""The dead-letter keeper: copies both dead-letter topics into PostgreSQL, where admins list and re-drive them.

A consumer group of its own per topic, in the router's consumer role; a record is committed only once its
row is stored, and a replayed record is stored once (the row is keyed by its topic, partition and offset).
"""

from aiokafka import ConsumerRecord

from router.dead_letters import DeadLetterRecord, read_dead_letter
from router.store.dead_letters import keep
from services.kafka import Topics
from services.metrics import DEAD_LETTERS_KEPT
from services.postgres import Pool

KNOWN_REASONS = frozenset(
    {"undecodable", "unprocessable", "retries_exhausted", "rejected", "channel_rule", "unknown_account"}
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
        async with self._pool.acquire() as conn:
            await keep(conn, letters)
        for letter in letters:
            # The reason comes from a record header: only known values become a label.
            reason = letter.reason if letter.reason in KNOWN_REASONS else "other"
            DEAD_LETTERS_KEPT.labels(kind=letter.kind, reason=reason).inc()
