"""Transfers: to another agent (under their cap, announced live) or back to the queue (to someone else)."""

import asyncio

import asyncpg
import pytest

from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import Stack
from tests.integration.test_assignment import cap_watch

pytestmark = pytest.mark.integration


async def holding(switchboard: Switchboard, agent: dict, n: int) -> list[dict] | None:
    held = await switchboard.agent_conversations(agent)
    return held if len(held) == n else None


async def pending_matches_held(db: asyncpg.Connection) -> bool:
    drifted = await db.fetchval(
        """SELECT count(*) FROM agents a WHERE a.pending <> (SELECT count(*) FROM conversations c
            WHERE c.assignee_id = a.id AND c.status = 'assigned')"""
    )
    return bool(drifted == 0)


async def test_an_agent_hands_a_conversation_to_another_and_both_hear_of_it_live(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972560000001", "I need billing")
    [conversation] = await eventually(lambda: holding(switchboard, ana, 1), what="Ana's assignment")
    bo = await switchboard.online_agent("Bo")

    async with switchboard.live_events(ana) as anas, switchboard.live_events(bo) as bos:
        assert (await anas.next())[0] == "conversations"
        assert await bos.next() == ("conversations", {"items": []})
        response = await switchboard.transfer(conversation["id"], {"to_agent_id": bo["id"]}, switchboard.as_agent(ana))
        assert response.status_code == 200, response.text
        assigned = await bos.next()
        released = await anas.next()

    moved = response.json()
    assert (moved["status"], moved["assignee_id"]) == ("assigned", bo["id"])
    assert moved["waiting_since"] == conversation["waiting_since"]
    assert assigned[0] == "assigned"
    assert (assigned[1]["conversation_id"], assigned[1]["agent_id"], assigned[1]["reason"]) == (
        conversation["id"],
        bo["id"],
        "transfer",
    )
    assert released[0] == "released"
    assert (released[1]["conversation_id"], released[1]["agent_id"], released[1]["reason"]) == (
        conversation["id"],
        ana["id"],
        "transfer",
    )
    assert ((await switchboard.agent(ana))["pending"], (await switchboard.agent(bo))["pending"]) == (0, 1)
    assert (await switchboard.reply(ana, conversation["id"], "no longer hers")).status_code == 403
    assert (await switchboard.reply(bo, conversation["id"], "Billing here, hello")).status_code == 202


async def test_a_transfer_to_an_agent_at_their_cap_is_refused_and_no_cap_is_ever_exceeded(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    ana = await switchboard.online_agent("Ana", max_pending=3)
    for n in range(3):
        await switchboard.customer_writes(f"97256100000{n}", "hello")
    anas = await eventually(lambda: holding(switchboard, ana, 3), what="Ana at her cap")
    bo = await switchboard.online_agent("Bo", max_pending=3)
    for n in range(2):
        await switchboard.customer_writes(f"97256200000{n}", "hello")
    bos = await eventually(lambda: holding(switchboard, bo, 2), what="Bo holding two")
    as_ana = switchboard.as_agent(ana)

    async with cap_watch(stack.dsn) as peaks:
        # Bo has one slot and Ana asks for three at once: one transfer takes it, the others are refused.
        answers = await asyncio.gather(
            *(switchboard.transfer(c["id"], {"to_agent_id": bo["id"]}, as_ana) for c in anas)
        )
        assert sorted(a.status_code for a in answers) == [200, 409, 409]
        for refused in (a for a in answers if a.status_code == 409):
            assert refused.json()["error"] == "conflict"
            assert "at their cap (3 of 3 pending)" in refused.json()["detail"]

        # Slots freed on both sides while customers arrive: transfers and the queue race for them.
        await switchboard.resolve(bo, bos[0]["id"])
        still_anas = await switchboard.agent_conversations(ana)
        await asyncio.gather(
            *(switchboard.customer_writes(f"97256300000{n}", "anyone?") for n in range(4)),
            *(switchboard.transfer(c["id"], {"to_agent_id": bo["id"]}, as_ana) for c in still_anas),
        )
        # Two slots were free and four customers came: both agents end at their cap, two customers wait.
        await eventually(lambda: settled(db), what="both agents at their cap and two queued")
    assert peaks, "the cap was never sampled"
    assert max(peaks) == 3
    assert await pending_matches_held(db)


async def settled(db: asyncpg.Connection) -> bool:
    rows = await db.fetch("SELECT status, count(*) AS n FROM conversations GROUP BY status")
    return {r["status"]: r["n"] for r in rows} == {"assigned": 6, "queued": 2, "resolved": 1}


async def test_transfers_are_refused_with_the_reason(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972564000001", "hello")
    [conversation] = await eventually(lambda: holding(switchboard, ana, 1), what="Ana's assignment")
    away = await switchboard.online_agent("Away")
    await switchboard.set_presence(away, "away")
    offline = await switchboard.create_agent("Offline")
    as_ana = switchboard.as_agent(ana)

    async def refused(body: dict, headers: dict[str, str] = as_ana, conversation_id: str = conversation["id"]):
        response = await switchboard.transfer(conversation_id, body, headers)
        return response.status_code, response.json()

    status, body = await refused({"to_agent_id": away["id"]})
    assert (status, body["error"]) == (409, "conflict")
    assert "is away" in body["detail"]
    status, body = await refused({"to_agent_id": offline["id"]})
    assert status == 409
    assert "is offline" in body["detail"]
    assert (await refused({"to_agent_id": ana["id"]}))[0] == 409
    assert (await refused({"to_agent_id": "00000000-0000-0000-0000-000000000001"}))[0] == 404
    assert (await refused({"to": "queue"}, switchboard.as_agent(away)))[0] == 403
    assert (await refused({"to": "queue"}, conversation_id="00000000-0000-0000-0000-000000000002"))[0] == 404
    for bad in ({}, {"to": "queue", "to_agent_id": away["id"]}, {"to": "elsewhere"}):
        assert (await refused(bad))[0] == 422
    await switchboard.resolve(ana, conversation["id"])
    status, body = await refused({"to": "queue"})
    assert status == 409
    assert "resolved" in body["detail"]
    assert (await switchboard.agent(ana))["pending"] == 0


async def test_a_conversation_sent_back_to_the_queue_goes_to_another_agent(
    switchboard: Switchboard, db: asyncpg.Connection
):
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972565000001", "a question for someone else")
    [conversation] = await eventually(lambda: holding(switchboard, ana, 1), what="Ana's assignment")
    bo = await switchboard.online_agent("Bo")

    async with switchboard.live_events(bo) as bos:
        await bos.next()  # the snapshot: nothing
        response = await switchboard.transfer(conversation["id"], {"to": "queue"}, switchboard.as_agent(ana))
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["assignee_id"]) == ("queued", None)
        event, data = await bos.next()

    assert (event, data["conversation_id"], data["reason"]) == ("assigned", conversation["id"], "from_queue")
    [with_bo] = await switchboard.agent_conversations(bo)
    assert with_bo["waiting_since"] == conversation["waiting_since"], "it kept its place in the queue"
    assert await switchboard.agent_conversations(ana) == []

    # An admin can send it back too; the agent who had it is passed over while anyone else has room.
    response = await switchboard.transfer(conversation["id"], {"to": "queue"}, switchboard.admin)
    assert response.status_code == 200, response.text
    [with_ana] = await eventually(lambda: holding(switchboard, ana, 1), what="Ana taking it back from the queue")
    assert with_ana["id"] == conversation["id"]
    assert await pending_matches_held(db)
