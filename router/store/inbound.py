"""Storing what ingest published: a customer's message (once) and delivery receipts (forward only)."""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from router.store.queue import Assignment, assign_next_queued
from schemas.delivery import statuses_before
from schemas.inbound import DeliveryStatus, InboundMessage
from services.postgres import Connection


@dataclass(frozen=True)
class StoredInbound:
    """What storing one inbound message did."""

    outcome: Literal["stored", "duplicate"]
    conversation_id: UUID | None = None
    assignment: Assignment | None = None
    left_queued: bool = False  # a conversation is waiting: run the queue again after commit


async def store_inbound(conn: Connection, message: InboundMessage, account_id: UUID) -> StoredInbound:
    """Store a customer's message in their open conversation, opening and assigning one if needed.

    Idempotent: a message already stored (a redelivered webhook, a replayed record) changes nothing.
    """
    # Serialise work on one sender across routers: two bursts from one customer open one conversation.
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        f"{message.channel}:{message.sender_external_id}",
    )
    known = await conn.fetchrow(
        """SELECT EXISTS (SELECT 1 FROM messages WHERE channel = $1 AND provider_message_id = $2) AS duplicate,
                  (SELECT contact_id FROM contact_identities WHERE channel = $1 AND external_id = $3) AS contact_id,
                  (SELECT id FROM conversations c JOIN contact_identities i USING (contact_id)
                    WHERE i.channel = $1 AND i.external_id = $3 AND c.status <> 'resolved') AS conversation_id""",
        message.channel,
        message.provider_message_id,
        message.sender_external_id,
    )
    assert known is not None
    if known["duplicate"]:
        return StoredInbound("duplicate")
    contact_id: UUID = known["contact_id"] or await _create_contact(conn, message)
    conversation_id: UUID | None = known["conversation_id"]
    if conversation_id is None:
        conversation_id = await conn.fetchval(
            """INSERT INTO conversations (contact_id, account_id, channel, status, received_at, waiting_since)
               VALUES ($1, $2, $3, 'queued', $4, $4) RETURNING id""",
            contact_id,
            account_id,
            message.channel,
            message.received_at,
        )
    status = await conn.fetchval(
        """WITH stored AS (
               INSERT INTO messages (conversation_id, direction, channel, account_id, external_id,
                                     provider_message_id, content_type, text, attachments,
                                     reply_to_provider_message_id, sent_at, received_at)
               VALUES ($1, 'inbound', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11))
           UPDATE conversations SET last_inbound_at = greatest(last_inbound_at, $11)
            WHERE id = $1 RETURNING status""",
        conversation_id,
        message.channel,
        account_id,
        message.sender_external_id,
        message.provider_message_id,
        message.content_type,
        message.text,
        [a.model_dump(mode="json", exclude_none=True) for a in message.attachments],
        message.reply_to_provider_message_id,
        message.sent_at,
        message.received_at,
    )
    assignment = await assign_next_queued(conn) if status == "queued" else None
    left_queued = status == "queued" and (assignment is None or assignment.conversation_id != conversation_id)
    return StoredInbound("stored", conversation_id, assignment, left_queued)


async def _create_contact(conn: Connection, message: InboundMessage) -> UUID:
    contact_id: UUID = await conn.fetchval(
        """WITH contact AS (INSERT INTO contacts (display_name) VALUES ($3) RETURNING id)
           INSERT INTO contact_identities (channel, external_id, contact_id)
           SELECT $1, $2, id FROM contact RETURNING contact_id""",
        message.channel,
        message.sender_external_id,
        message.sender_name,
    )
    return contact_id


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
