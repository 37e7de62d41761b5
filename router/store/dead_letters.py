"""The dead letters' SQL: kept once per record read, listed newest first, re-driven through the outbox."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import asyncpg

from router.dead_letters import KeptDeadLetter
from router.store.outbox import enqueue
from services.postgres import Connection

DEAD_LETTER_COLUMNS = """id, kind, reason, detail, attempts, message_id, conversation_id, target_topic, record_value,
    failed_at, kept_at, redriven_at"""


async def keep(conn: Connection, letters: list[KeptDeadLetter]) -> int:
    """Store dead letters in one statement; one already kept (a replayed record) is skipped. Returns how many new."""
    if not letters:
        return 0
    columns = (
        [d.kind for d in letters],
        [d.reason for d in letters],
        [d.detail for d in letters],
        [d.attempts for d in letters],
        [d.message_id for d in letters],
        [d.conversation_id for d in letters],
        [d.target_topic for d in letters],
        [d.record_key for d in letters],
        [d.record_value for d in letters],
        [d.failed_at for d in letters],
        [d.source.topic for d in letters],
        [d.source.partition for d in letters],
        [d.source.offset for d in letters],
    )
    kept = await conn.fetchval(
        """WITH added AS (
               INSERT INTO dead_letters (kind, reason, detail, attempts, message_id, conversation_id, target_topic,
                                         record_key, record_value, failed_at, dead_letter_topic,
                                         dead_letter_partition, dead_letter_offset)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::uuid[], $6::uuid[],
                                    $7::text[], $8::bytea[], $9::bytea[], $10::timestamptz[], $11::text[],
                                    $12::int[], $13::bigint[])
               ON CONFLICT (dead_letter_topic, dead_letter_partition, dead_letter_offset) DO NOTHING
               RETURNING 1)
           SELECT count(*) FROM added""",
        *columns,
    )
    return int(kept)


async def list_dead_letters(
    conn: Connection, kind: Literal["inbound", "outbound"] | None, redriven: bool | None, limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters
             WHERE ($1::text IS NULL OR kind = $1)
               AND ($2::boolean IS NULL OR (redriven_at IS NOT NULL) = $2)
             ORDER BY kept_at DESC, id LIMIT $3""",
        kind,
        redriven,
        limit,
    )


async def get_dead_letter(conn: Connection, dead_letter_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters WHERE id = $1", dead_letter_id)


@dataclass(frozen=True)
class RedriveRefused:
    """Why a dead letter was not re-driven."""

    reason: Literal["already_redriven", "reply_not_failed"]


async def redrive(conn: Connection, dead_letter_id: UUID) -> asyncpg.Record | RedriveRefused | None:
    """Publish the dead letter's record again (through the outbox) and stamp it re-driven; call in a transaction.

    A reply the dispatcher gave up on goes back to `pending` first, so the dispatcher's claim takes it again;
    a reply that is no longer failed (sent meanwhile, re-driven by another call) is refused, never sent twice.
    None when there is no such dead letter.
    """
    letter = await conn.fetchrow(
        "SELECT id, message_id, target_topic, record_key, record_value, redriven_at FROM dead_letters "
        "WHERE id = $1 FOR UPDATE",
        dead_letter_id,
    )
    if letter is None:
        return None
    if letter["redriven_at"] is not None:
        return RedriveRefused("already_redriven")
    if letter["message_id"] is not None:
        reopened = await conn.fetchval(
            """UPDATE messages SET delivery_status = 'pending', delivery_error = NULL, delivery_updated_at = now()
                WHERE id = $1 AND delivery_status = 'failed' RETURNING id""",
            letter["message_id"],
        )
        if reopened is None:
            return RedriveRefused("reply_not_failed")
    await enqueue(conn, [(letter["target_topic"], letter["record_key"] or b"", letter["record_value"])])
    return await conn.fetchrow(
        f"UPDATE dead_letters SET redriven_at = now() WHERE id = $1 RETURNING {DEAD_LETTER_COLUMNS}", dead_letter_id
    )
