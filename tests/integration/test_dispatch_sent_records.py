"""The sends the providers accepted in one event-loop turn, recorded in one statement (dispatcher/sent_records.py),
on the session's database. The replies are written, adopted and claimed as the router and dispatcher do, but
never published, so these records are the only ones."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from dispatcher import store as dispatch_store
from dispatcher.sent_records import SentRecords
from tests.integration.client import Switchboard
from tests.integration.conftest import CountingPool
from tests.integration.test_dispatch_claims import LEASE_S, adopted_reply, status
from tests.integration.test_dispatch_faults import whatsapp_conversation
from tests.integration.test_dispatch_leases import reply_row


async def claimed(db: asyncpg.Connection, *replies) -> None:
    outcomes = await dispatch_store.claim_all(db, [r.message_id for r in replies], LEASE_S)
    assert all(outcome == ("claimed", None) for outcome in outcomes.values())


async def test_the_sends_of_one_turn_are_one_statement_and_wake_the_reply_held_behind(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    agent, first = await whatsapp_conversation(switchboard, "972540000421")
    _, second = await whatsapp_conversation(switchboard, "972540000422", agent)
    earlier = await reply_row(db, first, "First of two.", customer_wrote_ago_s=60)
    later = await reply_row(db, first, "Held behind the first.", customer_wrote_ago_s=60)
    other = await reply_row(db, second, "Another conversation.", customer_wrote_ago_s=60)
    await dispatch_store.adopt(db, [earlier, later, other], 60)
    await claimed(db, earlier, other)
    held_until = datetime.now(UTC) + timedelta(seconds=600)
    await dispatch_store.schedule(db, later.message_id, held_until, None, claimed=False)  # held, as _hold does
    records = SentRecords(counting_pool)  # type: ignore[arg-type]

    statuses = await asyncio.gather(
        records.record(dispatch_store.Sent(earlier.message_id, "whatsapp", "wamid.sent-421")),
        records.record(dispatch_store.Sent(other.message_id, "whatsapp", "wamid.sent-422")),
    )

    assert counting_pool.acquired == 1
    assert list(statuses) == ["sent", "sent"]
    rows = await db.fetch(
        "SELECT id, delivery_status, provider_message_id, next_attempt_at <= now() AS due FROM messages"
        " WHERE id = ANY($1::uuid[])",
        [earlier.message_id, later.message_id, other.message_id],
    )
    by_id = {row["id"]: row for row in rows}
    assert by_id[earlier.message_id]["provider_message_id"] == "wamid.sent-421"
    assert by_id[other.message_id]["provider_message_id"] == "wamid.sent-422"
    assert by_id[later.message_id]["delivery_status"] == "pending"
    assert by_id[later.message_id]["due"], "the reply held behind the first is due once the first is sent"


async def test_a_receipt_that_came_before_the_id_was_known_wins(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    outbound = await adopted_reply(switchboard, db, "972540000423", "Read before we knew.")
    await claimed(db, outbound)
    await db.execute(
        "INSERT INTO delivery_receipts (channel, provider_message_id, status, occurred_at)"
        " VALUES ('whatsapp', 'wamid.early-423', 'read', now())"
    )
    records = SentRecords(counting_pool)  # type: ignore[arg-type]

    assert await records.record(dispatch_store.Sent(outbound.message_id, "whatsapp", "wamid.early-423")) == "read"
    assert await status(db, outbound) == "read"


async def test_a_provider_id_another_message_has_fails_only_its_own_id(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    taken = await adopted_reply(switchboard, db, "972540000424", "Has the id.")
    await claimed(db, taken)
    await dispatch_store.mark_sent(db, taken.message_id, "whatsapp", "wamid.reused-424")
    reusing = await adopted_reply(switchboard, db, "972540000425", "Given the same id.")
    fine = await adopted_reply(switchboard, db, "972540000426", "Given its own id.")
    await claimed(db, reusing, fine)
    records = SentRecords(counting_pool)  # type: ignore[arg-type]

    statuses = await asyncio.gather(
        records.record(dispatch_store.Sent(reusing.message_id, "whatsapp", "wamid.reused-424")),
        records.record(dispatch_store.Sent(fine.message_id, "whatsapp", "wamid.own-426")),
    )

    assert list(statuses) == ["sent", "sent"]
    ids = {
        row["id"]: row["provider_message_id"]
        for row in await db.fetch(
            "SELECT id, provider_message_id FROM messages WHERE id = ANY($1::uuid[])",
            [reusing.message_id, fine.message_id],
        )
    }
    assert ids == {reusing.message_id: None, fine.message_id: "wamid.own-426"}
    assert [await status(db, o) for o in (reusing, fine)] == ["sent", "sent"]


async def test_the_same_send_recorded_twice_in_one_turn_answers_both(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    outbound = await adopted_reply(switchboard, db, "972540000427", "Recorded twice.")
    await claimed(db, outbound)
    records = SentRecords(counting_pool)  # type: ignore[arg-type]
    sent = dispatch_store.Sent(outbound.message_id, "whatsapp", f"wamid.twice-{uuid.uuid4().hex[:6]}")

    assert list(await asyncio.gather(records.record(sent), records.record(sent))) == ["sent", "sent"]
    assert counting_pool.acquired == 1
