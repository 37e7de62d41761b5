"""Agents' live events (server-sent) and "send and resolve", through real Kafka and PostgreSQL."""

import asyncpg
import pytest

from tests.integration.client import Switchboard, eventually

pytestmark = pytest.mark.integration


async def test_an_agent_hears_of_a_new_conversation_as_it_is_assigned(switchboard: Switchboard):
    agent = await switchboard.online_agent("Ana")
    async with switchboard.live_events(agent) as events:
        assert await events.next() == ("conversations", {"items": []})
        await switchboard.customer_writes("972501110001", "Where is my order?")

        event, data = await events.next()

    [held] = await switchboard.agent_conversations(agent)
    assert event == "assigned"
    assert (data["conversation_id"], data["agent_id"], data["reason"]) == (held["id"], agent["id"], "new_conversation")


async def test_a_stream_opens_with_what_the_agent_already_holds(switchboard: Switchboard):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972501110002", "Hello")
    [held] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    async with switchboard.live_events(agent) as events:
        event, data = await events.next()

    assert event == "conversations"
    assert [c["id"] for c in data["items"]] == [held["id"]]


async def test_a_conversation_from_the_queue_is_announced_to_the_agent_who_freed_a_slot(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana", max_pending=1)
    await switchboard.customer_writes("972501110003", "first")
    [first] = await eventually(lambda: switchboard.agent_conversations(agent), what="the first assignment")
    await switchboard.customer_writes("972501110004", "second, queued behind the cap")
    await eventually(
        lambda: db.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'"), what="the second to queue"
    )

    async with switchboard.live_events(agent) as events:
        await events.next()  # the snapshot: the first conversation only
        await switchboard.resolve(agent, first["id"])
        event, data = await events.next()

    [second] = await switchboard.agent_conversations(agent)
    assert (event, data["conversation_id"], data["reason"]) == ("assigned", second["id"], "from_queue")


async def test_agents_may_not_follow_each_others_events(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    bo = await switchboard.online_agent("Bo")
    async with switchboard.live_events(ana, as_agent=bo) as events:
        assert events.response.status_code == 403


async def test_send_and_resolve_queues_the_reply_then_frees_the_slot(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972501110005", "Refund please")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    response = await switchboard.reply_and_resolve(agent, conversation["id"], "Done, refunded.")

    assert response.status_code == 202, response.text
    assert response.json()["resolved"] is True
    row = await db.fetchrow(
        "SELECT c.status, a.pending FROM conversations c JOIN agents a ON a.id = $2 WHERE c.id = $1",
        conversation["id"],
        agent["id"],
    )
    assert row is not None
    assert (row["status"], row["pending"]) == ("resolved", 0)
    sent = await eventually(
        lambda: db.fetchval(
            "SELECT delivery_status FROM messages WHERE conversation_id = $1 AND direction = 'outbound'"
            " AND delivery_status = 'sent'",
            conversation["id"],
        ),
        what="the reply to be sent",
    )
    assert sent == "sent"


async def test_send_and_resolve_by_someone_else_is_refused_and_resolves_nothing(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    bo = await switchboard.create_agent("Bo")
    await switchboard.customer_writes("972501110006", "Hi")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(ana), what="the assignment")

    response = await switchboard.reply_and_resolve(bo, conversation["id"], "not mine to close")

    assert response.status_code == 403
    assert (await switchboard.conversation(conversation["id"]))["status"] == "assigned"
