"""The claims of one event-loop turn, taken in one statement (dispatcher/claims.py), on the session's database.

The replies' rows are written as the router writes them and adopted as the dispatcher adopts them, but never
published: the session's dispatcher does not see them, so each claim here is the only one.
"""

import asyncio
import uuid

import asyncpg
import pytest

from dispatcher import store as dispatch_store
from dispatcher.claims import Claims
from tests.integration.client import Switchboard
from tests.integration.conftest import CountingPool, Stack
from tests.integration.test_dispatch_faults import whatsapp_conversation
from tests.integration.test_dispatch_leases import reply_row

pytestmark = pytest.mark.integration

LEASE_S = 30.0


async def adopted_reply(switchboard: Switchboard, db: asyncpg.Connection, wa_id: str, text: str):
    """A customer's conversation with one agent reply, written and adopted as the router and dispatcher do."""
    _, conversation = await whatsapp_conversation(switchboard, wa_id)
    outbound = await reply_row(db, conversation, text, customer_wrote_ago_s=60)
    await dispatch_store.adopt(db, [outbound], 60)
    return outbound


async def status(db: asyncpg.Connection, outbound) -> str:
    return str(await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", outbound.message_id))


async def test_claims_of_one_turn_are_one_statement_and_keep_a_conversation_in_order(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    agent, first = await whatsapp_conversation(switchboard, "972540000411")
    _, second = await whatsapp_conversation(switchboard, "972540000412", agent)
    earlier = await reply_row(db, first, "First of two.", customer_wrote_ago_s=60)
    later = await reply_row(db, first, "Second of two.", customer_wrote_ago_s=60)
    other = await reply_row(db, second, "Another conversation.", customer_wrote_ago_s=60)
    await dispatch_store.adopt(db, [earlier, later, other], 60)
    claims = Claims(counting_pool, LEASE_S)  # type: ignore[arg-type]

    outcomes = await asyncio.gather(
        claims.claim(later.message_id), claims.claim(earlier.message_id), claims.claim(other.message_id)
    )

    assert counting_pool.acquired == 1
    assert outcomes[1] == ("claimed", None)
    assert outcomes[2] == ("claimed", None)
    held, until = outcomes[0]
    assert held == "held", "the later reply waits behind the earlier one of its conversation"
    assert until is not None
    assert [await status(db, o) for o in (earlier, later, other)] == ["sending", "pending", "sending"]


async def test_a_reply_asked_for_twice_in_one_turn_is_claimed_once(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    outbound = await adopted_reply(switchboard, db, "972540000413", "Asked for twice.")
    claims = Claims(counting_pool, LEASE_S)  # type: ignore[arg-type]

    outcomes = await asyncio.gather(claims.claim(outbound.message_id), claims.claim(outbound.message_id))

    assert sorted(outcome for outcome, _ in outcomes) == ["claimed", "gone"]
    assert await db.fetchval("SELECT send_attempts FROM messages WHERE id = $1", outbound.message_id) == 1


async def test_a_reply_claimed_or_settled_before_is_gone_and_turns_apart_are_separate_statements(
    switchboard: Switchboard, db: asyncpg.Connection, counting_pool: CountingPool
):
    outbound = await adopted_reply(switchboard, db, "972540000414", "Claimed once.")
    claims = Claims(counting_pool, LEASE_S)  # type: ignore[arg-type]

    assert await claims.claim(outbound.message_id) == ("claimed", None)
    assert await claims.claim(outbound.message_id) == ("gone", None)
    assert counting_pool.acquired == 2


async def test_a_failed_statement_fails_every_claim_of_its_batch(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    outbound = await adopted_reply(switchboard, db, "972540000415", "Never claimed.")
    real = await asyncpg.create_pool(stack.dsn, min_size=1, max_size=1)
    await real.close()  # a pool that cannot give a connection: every statement fails
    claims = Claims(real, LEASE_S)

    second = uuid.uuid4()  # a second claim in the batch: any id
    outcomes = await asyncio.gather(claims.claim(outbound.message_id), claims.claim(second), return_exceptions=True)

    assert all(isinstance(outcome, asyncpg.InterfaceError) for outcome in outcomes)
    assert await status(db, outbound) == "pending"
