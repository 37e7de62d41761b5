"""Storing what ingest published: a customer's message (once) and delivery receipts (forward only)."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from schemas.delivery import statuses_before
from schemas.inbound import DeliveryStatus, InboundMessage
from services.postgres import Connection


@dataclass(frozen=True)
class StoredInbound:
    """What storing one inbound message did: its conversation, and whether that waits for an agent."""

    outcome: Literal["stored", "duplicate"]
    conversation_id: UUID | None = None
    queued: bool = False


async def store_inbound(conn: Connection, message: InboundMessage, account_id: UUID) -> StoredInbound:
    """Store a customer's message in their open conversation, opening one if needed, in one statement.

    Idempotent: a message already stored (a redelivered webhook, a replayed record) changes nothing.
    Assignment is the queue's job, after this commits (see router/assigner.py).
    """
    row = await conn.fetchrow(
        "SELECT * FROM store_inbound_message($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        message.channel,
        message.sender_external_id,
        message.sender_name,
        account_id,
        message.provider_message_id,
        message.content_type,
        message.text,
        [a.model_dump(mode="json", exclude_none=True) for a in message.attachments],
        message.reply_to_provider_message_id,
        message.sent_at,
        message.received_at,
    )
    assert row is not None
    if row["outcome"] == "duplicate":
        return StoredInbound("duplicate")
    return StoredInbound("stored", row["conversation_id"], row["conversation_status"] == "queued")


async def ensure_account(conn: Connection, account_id: UUID, channel: str, external_id: str, name: str) -> None:
    """Record an account so messages can refer to it; a configured name replaces a placeholder."""
    await conn.execute(
        """INSERT INTO accounts (id, channel, external_id, name) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name""",
        account_id,
        channel,
        external_id,
        name,
    )


async def record_receipt(conn: Connection, receipt: DeliveryStatus) -> bool:
    """Keep a provider's receipt and move the sent message's status forward; False if nothing moved."""
    errors = [e.model_dump(mode="json", exclude_none=True) for e in receipt.errors]
    await conn.execute(
        """INSERT INTO delivery_receipts (channel, provider_message_id, status, occurred_at, errors)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
        receipt.channel,
        receipt.provider_message_id,
        receipt.status,
        receipt.occurred_at,
        errors,
    )
    moved = await conn.fetchval(
        """UPDATE messages
              SET delivery_status = $3, delivery_updated_at = now(),
                  delivery_error = CASE WHEN $3 = 'failed' THEN $5::jsonb ELSE delivery_error END
            WHERE channel = $1 AND provider_message_id = $2 AND direction = 'outbound'
              AND delivery_status = ANY($4::text[])
        RETURNING id""",
        receipt.channel,
        receipt.provider_message_id,
        receipt.status,
        list(statuses_before(receipt.status)),
        errors,
    )
    return moved is not None
