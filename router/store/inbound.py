"""Storing what ingest published: a customer's message (once) and delivery receipts (forward only)."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import orjson

from router.receipt_rounds import receipt_rounds
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


async def record_receipts(conn: Connection, receipts: Sequence[DeliveryStatus]) -> list[bool]:
    """Keep providers' receipts and move their sent messages' statuses forward; for each receipt, whether it
    moved its message.

    One statement for the receipts of different messages (router/receipt_rounds.py); a message's second
    receipt in the batch goes in the next one. Each statement commits alone: a replay of the batch after a
    failure applies nothing twice (a receipt is kept once, a status only moves forward). The messages are
    locked in id order, so two statements over the same messages wait for each other rather than deadlock.
    """
    moved = [False] * len(receipts)
    for round_ in receipt_rounds([(r.channel, r.provider_message_id) for r in receipts]):
        batch = [receipts[i] for i in round_]
        rows = await conn.fetch(
            """WITH r AS (
                    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                                         $6::text[])
                        AS r(channel, provider_message_id, status, occurred_at, errors, before)),
                kept AS (
                    INSERT INTO delivery_receipts (channel, provider_message_id, status, occurred_at, errors)
                    SELECT channel, provider_message_id, status, occurred_at, errors::jsonb FROM r
                    ON CONFLICT DO NOTHING),
                target AS (
                    SELECT m.id, r.status, r.errors FROM r
                      JOIN messages m ON m.channel = r.channel AND m.provider_message_id = r.provider_message_id
                     WHERE m.direction = 'outbound' AND m.delivery_status = ANY(string_to_array(r.before, ','))
                     ORDER BY m.id FOR UPDATE OF m)
               UPDATE messages m
                  SET delivery_status = t.status, delivery_updated_at = now(),
                      delivery_error = CASE WHEN t.status = 'failed' THEN t.errors::jsonb ELSE m.delivery_error END
                 FROM target t WHERE m.id = t.id
            RETURNING m.channel, m.provider_message_id""",
            [r.channel for r in batch],
            [r.provider_message_id for r in batch],
            [r.status for r in batch],
            [r.occurred_at for r in batch],
            [orjson.dumps([e.model_dump(mode="json", exclude_none=True) for e in r.errors]).decode() for r in batch],
            [",".join(statuses_before(r.status)) for r in batch],
        )
        applied = {(row["channel"], row["provider_message_id"]) for row in rows}
        for i, receipt in zip(round_, batch, strict=True):
            moved[i] = (receipt.channel, receipt.provider_message_id) in applied
    return moved
