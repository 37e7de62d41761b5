"""Internal notes: kept in the conversation's history for the team, never sent to the customer."""

import asyncpg
import orjson
import pytest

from tests.integration.client import Switchboard, eventually

pytestmark = pytest.mark.integration


async def test_notes_are_shown_in_the_history_and_never_reach_the_customer(
    switchboard: Switchboard, db: asyncpg.Connection
):
    ana = await switchboard.online_agent("Ana")
    wa_id = "972570000001"
    await switchboard.customer_writes(wa_id, "My parcel is lost")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(ana), what="Ana's assignment")

    by_ana = await switchboard.add_note(
        conversation["id"], "NOTE-1 VIP, refund without asking", switchboard.as_agent(ana)
    )
    by_admin = await switchboard.add_note(conversation["id"], "NOTE-2 courier confirmed the loss", switchboard.admin)
    assert (by_ana.status_code, by_admin.status_code) == (201, 201), (by_ana.text, by_admin.text)
    assert (by_ana.json()["direction"], by_ana.json()["author_agent_id"]) == ("note", ana["id"])
    assert (by_admin.json()["direction"], by_admin.json()["author_agent_id"]) == ("note", None)

    # The reply comes after the notes; it is still addressed from the customer's last inbound message.
    reply = await switchboard.reply(ana, conversation["id"], "Refunded, sorry about the parcel.")
    assert reply.status_code == 202, reply.text
    [sent] = await eventually(switchboard.sandbox_requests, what="the reply at the sandbox")
    assert sent["body"]["to"] == wa_id
    assert sent["body"]["text"]["body"] == "Refunded, sorry about the parcel."
    await eventually(
        lambda: db.fetchval("SELECT delivery_status = 'sent' FROM messages WHERE id = $1", reply.json()["id"]),
        what="the reply delivered",
    )

    history = (await switchboard.conversation(conversation["id"], switchboard.as_agent(ana)))["messages"]
    assert [(m["direction"], m["text"]) for m in history] == [
        ("inbound", "My parcel is lost"),
        ("note", "NOTE-1 VIP, refund without asking"),
        ("note", "NOTE-2 courier confirmed the loss"),
        ("outbound", "Refunded, sorry about the parcel."),
    ]
    assert all(m["delivery_status"] is None for m in history if m["direction"] == "note")
    everything_sent = orjson.dumps(await switchboard.sandbox_requests()).decode()
    assert "NOTE-" not in everything_sent


async def test_only_the_assignee_or_an_admin_writes_notes(switchboard: Switchboard):
    # One at a time: two conversations arriving together may both go to Ana (concurrent drains rank alike).
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972570000002", "hello")
    [anas] = await eventually(lambda: switchboard.agent_conversations(ana), what="Ana's assignment")
    await switchboard.set_presence(ana, "away")
    bo = await switchboard.online_agent("Bo")
    await switchboard.customer_writes("972570000003", "hello")
    await eventually(lambda: switchboard.agent_conversations(bo), what="Bo's assignment")

    assert (await switchboard.add_note(anas["id"], "not mine", switchboard.as_agent(bo))).status_code == 403
    unknown = "00000000-0000-0000-0000-000000000003"
    assert (await switchboard.add_note(unknown, "nobody's", switchboard.admin)).status_code == 404
    assert (await switchboard.add_note(anas["id"], "", switchboard.as_agent(ana))).status_code == 422

    await switchboard.resolve(ana, anas["id"])
    late = await switchboard.add_note(anas["id"], "after closing", switchboard.as_agent(ana))
    assert late.status_code == 409
    assert (await switchboard.add_note(anas["id"], "for the record", switchboard.admin)).status_code == 201
