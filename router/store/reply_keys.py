"""Idempotency keys of agents' replies (router/idempotency.py): what a key already answered."""

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


async def kept_reply(conn: Connection, agent_id: UUID, key: str) -> KeptReply | None:
    """The reply the agent's key answered, if it was used (router/store/conversations.py `post_reply` takes
    keys with the reply they answer, in one statement: a committed key always names its reply)."""
    row = await conn.fetchrow(
        """SELECT conversation_id, request_sha256, message_id, resolved FROM reply_idempotency_keys
            WHERE agent_id = $1 AND key = $2""",
        agent_id,
        key,
    )
    if row is None:
        return None
    return KeptReply(row["conversation_id"], bytes(row["request_sha256"]), row["message_id"], row["resolved"])
