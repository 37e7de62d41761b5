"""A Kafka batch's delivery receipts applied together (router/store/inbound.py `record_receipts`), on the session's
database: the replies are written, adopted, claimed and recorded as sent as the router and dispatcher do."""

import uuid
from datetime import UTC, datetime

import asyncpg

from dispatcher import store as dispatch_store
from router.store.inbound import record_receipts
from schemas.inbound import DeliveryError, DeliveryStatus
from tests.integration.client import Switchboard
from tests.integration.test_dispatch_claims import LEASE_S, adopted_reply, status


def receipt(provider_message_id: str, state: str, *errors: DeliveryError) -> DeliveryStatus:
    now = datetime.now(UTC)
    return DeliveryStatus.model_validate(
        {
            "event_id": uuid.uuid4(),
            "channel": "whatsapp",
            "account_external_id": "106540352242922",
            "recipient_external_id": "972540000000",
            "provider_message_id": provider_message_id,
            "status": state,
            "occurred_at": now,
            "received_at": now,
            "errors": errors,
        }
    )


async def sent_reply(switchboard: Switchboard, db: asyncpg.Connection, wa_id: str, provider_message_id: str):
    outbound = await adopted_reply(switchboard, db, wa_id, f"Reply {provider_message_id}.")
    assert (await dispatch_store.claim_all(db, [outbound.message_id], LEASE_S))[outbound.message_id][0] == "claimed"
    await dispatch_store.mark_sent(db, outbound.message_id, "whatsapp", provider_message_id)
    return outbound


async def kept_receipts(db: asyncpg.Connection, *provider_message_ids: str) -> list[tuple[str, str]]:
    rows = await db.fetch(
        "SELECT provider_message_id, status FROM delivery_receipts WHERE provider_message_id = ANY($1::text[])"
        " ORDER BY provider_message_id, status",
        list(provider_message_ids),
    )
    return [(row["provider_message_id"], row["status"]) for row in rows]


async def test_a_batch_moves_each_message_as_far_as_its_receipts_say(switchboard: Switchboard, db: asyncpg.Connection):
    first = await sent_reply(switchboard, db, "972540000431", "wamid.rr-431")
    second = await sent_reply(switchboard, db, "972540000432", "wamid.rr-432")
    batch = [
        receipt("wamid.rr-431", "delivered"),
        receipt("wamid.rr-432", "read"),
        receipt("wamid.rr-431", "read"),  # the same message again: applied after its "delivered"
        receipt("wamid.rr-432", "delivered"),  # late: a read message stays read
        receipt("wamid.rr-unknown-433", "delivered"),  # not ours (yet): kept, moves nothing
    ]

    moved = await record_receipts(db, batch)

    assert moved == [True, True, True, False, False]
    assert await status(db, first) == "read"
    assert await status(db, second) == "read"
    assert await kept_receipts(db, "wamid.rr-431", "wamid.rr-432", "wamid.rr-unknown-433") == [
        ("wamid.rr-431", "delivered"),
        ("wamid.rr-431", "read"),
        ("wamid.rr-432", "delivered"),
        ("wamid.rr-432", "read"),
        ("wamid.rr-unknown-433", "delivered"),
    ]


async def test_a_failure_keeps_the_providers_reason_and_a_replayed_batch_changes_nothing(
    switchboard: Switchboard, db: asyncpg.Connection
):
    failing = await sent_reply(switchboard, db, "972540000434", "wamid.rr-434")
    delivered = await sent_reply(switchboard, db, "972540000435", "wamid.rr-435")
    reason = DeliveryError(code="131026", title="Message undeliverable")
    batch = [receipt("wamid.rr-434", "failed", reason), receipt("wamid.rr-435", "delivered")]

    assert await record_receipts(db, batch) == [True, True]
    assert await record_receipts(db, batch) == [False, False]  # the batch replayed after a crash

    assert await status(db, failing) == "failed"
    [kept_reason] = await db.fetchval("SELECT delivery_error FROM messages WHERE id = $1", failing.message_id)
    assert (kept_reason["code"], kept_reason["title"]) == ("131026", "Message undeliverable")
    assert await status(db, delivered) == "delivered"
    assert await kept_receipts(db, "wamid.rr-434", "wamid.rr-435") == [
        ("wamid.rr-434", "failed"),
        ("wamid.rr-435", "delivered"),
    ]
