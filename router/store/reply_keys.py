"""Idempotency keys of agents' replies (router/idempotency.py): taken, and answered, in the reply's transaction."""

from dataclasses import dataclass
from uuid import UUID

from services.postgres import Connection


@dataclass(frozen=True)
class KeptReply:
    """What a key already answered: the request it came with and the reply it stored."""

    conversation_id: UUID
    request_sha256: bytes
    message_id: UUID
    resolved: bool


async def take_key(
    conn: Connection, agent_id: UUID, key: str, conversation_id: UUID, request_sha256: bytes
) -> KeptReply | None:
    """Take the agent's key for this request in the caller's transaction: None when it is new (now taken),
    or the reply it already answered.

    A concurrent request with the same key waits on the primary key until this transaction ends, then
    finds the reply it committed, or takes the key itself if this one rolled back.
    """
    taken = await conn.fetchval(
        """INSERT INTO reply_idempotency_keys (agent_id, key, conversation_id, request_sha256)
           VALUES ($1, $2, $3, $4) ON CONFLICT (agent_id, key) DO NOTHING RETURNING true""",
        agent_id,
        key,
        conversation_id,
        request_sha256,
    )
    if taken:
        return None
    row = await conn.fetchrow(
        """SELECT conversation_id, request_sha256, message_id, resolved FROM reply_idempotency_keys
            WHERE agent_id = $1 AND key = $2""",
        agent_id,
        key,
    )
    # The conflicting row is committed (READ COMMITTED reads it) with its reply: it was set in its transaction.
    assert row is not None
    assert row["message_id"] is not None
    return KeptReply(row["conversation_id"], bytes(row["request_sha256"]), row["message_id"], row["resolved"])


async def answer_key(conn: Connection, agent_id: UUID, key: str, message_id: UUID, resolved: bool) -> None:
    """Record the reply a newly taken key answered, before its transaction commits."""
    await conn.execute(
        "UPDATE reply_idempotency_keys SET message_id = $3, resolved = $4 WHERE agent_id = $1 AND key = $2",
        agent_id,
        key,
        message_id,
        resolved,
    )
