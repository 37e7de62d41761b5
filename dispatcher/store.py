"""The dispatcher's SQL: claim a reply before sending it, record what the provider said.

A reply is claimed (pending -> sending) in its own statement before the provider is called, so a
replayed Kafka record finds it claimed and sends nothing twice. The price: a crash between claim
and provider answer leaves it `sending`, never sent twice; WhatsApp has no idempotency key to do better.
"""

import logging
from typing import Any
from uuid import UUID

import asyncpg

from schemas.delivery import OutboundStatus, furthest
from services.postgres import Connection

log = logging.getLogger(__name__)


async def claim(conn: Connection, message_id: UUID) -> bool:
    """Take a pending reply for sending; False if it was already taken, sent or failed."""
    claimed = await conn.fetchval(
        """UPDATE messages SET delivery_status = 'sending', delivery_updated_at = now()
            WHERE id = $1 AND delivery_status = 'pending' RETURNING id""",
        message_id,
    )
    return claimed is not None


async def mark_sent(conn: Connection, message_id: UUID, channel: str, provider_message_id: str) -> OutboundStatus:
    """Record the provider's id, applying any receipt that arrived before we knew the id.

    Usually no receipt is early, and this is one statement; otherwise the furthest status wins.
    """
    try:
        early: list[OutboundStatus] | None = await conn.fetchval(
            """WITH early AS (SELECT array_agg(status) AS statuses FROM delivery_receipts
                               WHERE channel = $2 AND provider_message_id = $3)
               UPDATE messages SET provider_message_id = $3, delivery_status = 'sent', delivery_updated_at = now()
                WHERE id = $1 RETURNING (SELECT statuses FROM early)""",
            message_id,
            channel,
            provider_message_id,
        )
    except asyncpg.UniqueViolationError:
        # The provider gave an id another message already has: its ids are not what we took them for.
        # The message was sent all the same; keep that, without the id (its receipts cannot be matched),
        # rather than fail the batch and replay it forever.
        log.error(
            "%s reused provider id %s: reply %s recorded as sent without it", channel, provider_message_id, message_id
        )
        await conn.execute(
            "UPDATE messages SET delivery_status = 'sent', delivery_updated_at = now() WHERE id = $1", message_id
        )
        return "sent"
    status = furthest("sent", early or [])
    if status != "sent":
        await conn.execute("UPDATE messages SET delivery_status = $2 WHERE id = $1", message_id, status)
    return status


async def mark_failed(conn: Connection, message_id: UUID, error: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE messages SET delivery_status = 'failed', delivery_error = $2, delivery_updated_at = now()
            WHERE id = $1 AND delivery_status IN ('pending', 'sending')""",
        message_id,
        error,
    )
