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
    with_bot: bool = False  # the bot is answering this conversation


@dataclass(frozen=True)
class StoredMessage:
    """A customer's message with what storing it needs: its account, and the facts routing decided."""

    message: InboundMessage
    account_id: UUID
    phone: str | None = None  # the sender's number in E.164 (router/identity.py)
    language: str | None = None  # router/language.py
    required_skill: str | None = None  # the account's
    intent: str | None = None  # router/intents.py, by the automation's rules


async def store_inbound(conn: Connection, messages: list[StoredMessage]) -> list[StoredInbound]:
    """Store customers' messages in one statement, in the order given.

    Each goes into its sender's open conversation, opening one if needed. Idempotent: a message already
    stored (a redelivered webhook, a replayed record) changes nothing. Assignment is the queue's job,
    after this commits (see router/assigner.py).
    """
    rows = await conn.fetch(
        "SELECT * FROM store_inbound_messages($1::jsonb)",
        [
            {
                "channel": message.channel,
                "sender": message.sender_external_id,
                "sender_name": message.sender_name,
                "account_id": str(account_id),
                "provider_message_id": message.provider_message_id,
                "content_type": message.content_type,
                "text": message.text,
                "attachments": [a.model_dump(mode="json", exclude_none=True) for a in message.attachments],
                "reply_to": message.reply_to_provider_message_id,
                "sent_at": message.sent_at.isoformat(),
                "received_at": message.received_at.isoformat(),
                "channel_data": message.channel_data,
                "phone": item.phone,
                "language": item.language,
                "required_skill": item.required_skill,
                "intent": item.intent,
            }
            for item in messages
            for message, account_id in [(item.message, item.account_id)]
        ],
    )
    results = [StoredInbound("duplicate")] * len(messages)
    for row in rows:
        if row["outcome"] == "stored":
            results[row["item"]] = StoredInbound(
                "stored",
                row["conversation_id"],
                row["conversation_status"] == "queued",
                row["conversation_status"] == "bot",
            )
    return results


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
