"""Automation through real Kafka and PostgreSQL: the bot answers from live order data without an agent,
hands over with its transcript, and one admin call stops it on every router process."""

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import PHONE_NUMBER_ID
from tests.integration.services import ServiceProcess

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def automation_on(switchboard: Switchboard) -> AsyncIterator[None]:
    """Automation switched on for the test (the session starts with it off), and off again after."""
    await switch(switchboard, enabled=True)
    await eventually(lambda: routers_agree(switchboard, [switchboard.router], 1.0), what="the router switching on")
    yield
    await switch(switchboard, enabled=False)
    await eventually(lambda: routers_agree(switchboard, [switchboard.router], 0.0), what="the router switching off")


async def switch(switchboard: Switchboard, *, enabled: bool) -> None:
    answer = await switchboard.http.put(
        f"{switchboard.router}/v1/automation", json={"enabled": enabled}, headers=switchboard.admin
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["enabled"] is enabled


async def routers_agree(switchboard: Switchboard, routers: list[str], value: float) -> bool:
    """Whether every router process reports the kill switch as `value` (1 on, 0 off) in its metrics."""
    for url in routers:
        text = (await switchboard.http.get(f"{url}/metrics")).text
        reported = [
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "switchboard_automation_enabled" and sample.labels.get("scope") == "global"
        ]
        if reported != [value]:
            return False
    return True


async def bot_replies(switchboard: Switchboard) -> list[str]:
    return [r["body"]["text"]["body"] for r in await switchboard.sandbox_requests() if r["body"].get("type") == "text"]


async def test_an_order_status_question_is_answered_from_the_order_endpoint_without_an_agent(
    switchboard: Switchboard, db: asyncpg.Connection, automation_on: None
):
    agent = await switchboard.online_agent("Ana")

    await switchboard.customer_writes("972501110101", "Where is my order #1234?")

    [reply] = await eventually(lambda: bot_replies(switchboard), what="the bot's reply at WhatsApp")
    assert reply.startswith("Order #1234 is out for delivery, arriving ")
    row = await db.fetchrow("SELECT status, intent, bot_turns, assignee_id FROM conversations")
    assert row is not None
    assert (row["status"], row["intent"], row["bot_turns"], row["assignee_id"]) == ("bot", "order_status", 1, None)
    assert await db.fetchval("SELECT intent FROM messages WHERE direction = 'inbound'") == "order_status"
    assert await switchboard.agent_conversations(agent) == [], "the bot's conversation takes no agent capacity"


async def test_asking_for_a_person_hands_over_to_an_agent_with_the_bots_transcript(
    switchboard: Switchboard, automation_on: None
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972501110102", "How long is shipping?")
    await eventually(lambda: bot_replies(switchboard), what="the bot's answer")

    await switchboard.customer_writes("972501110102", "I'd rather talk to a human")

    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the handover")
    detail = await switchboard.conversation(conversation["id"])
    assert [(m["direction"], m["author_agent_id"]) for m in detail["messages"]] == [
        ("inbound", None),
        ("outbound", None),  # the bot's answer, in the transcript the agent reads
        ("inbound", None),
    ]
    assert detail["messages"][1]["text"].startswith("Standard shipping takes")


async def test_a_failed_order_lookup_goes_to_an_agent(switchboard: Switchboard, automation_on: None):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972501110103", "Where is my order #1230?")  # the shop does not know it
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the agent's")
    assert conversation["status"] == "assigned"
    assert await bot_replies(switchboard) == []


async def test_an_unknown_question_goes_straight_to_an_agent(switchboard: Switchboard, automation_on: None):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972501110104", "My cat chewed the box, what now?")
    await eventually(lambda: switchboard.agent_conversations(agent), what="the agent's")
    assert await bot_replies(switchboard) == []


async def test_the_kill_switch_stops_automated_replies_on_two_router_processes(
    switchboard: Switchboard, db: asyncpg.Connection, second_router: ServiceProcess, automation_on: None
):
    routers = [switchboard.router, second_router.url]
    await eventually(lambda: routers_agree(switchboard, routers, 1.0), what="both routers on")
    await switch(switchboard, enabled=False)
    await eventually(lambda: routers_agree(switchboard, routers, 0.0), timeout_s=5, what="both routers off")
    agent = await switchboard.online_agent("Ana", max_pending=50)

    customers = [f"9725011102{n:02d}" for n in range(16)]  # spread over partitions, so both routers serve them
    for customer in customers:
        await switchboard.customer_writes(customer, "Where is my order #1234?")

    await eventually(lambda: holding(switchboard, agent, len(customers)), what="every conversation with the agent")
    assert await bot_replies(switchboard) == []

    await switch(switchboard, enabled=True)
    await eventually(lambda: routers_agree(switchboard, routers, 1.0), timeout_s=5, what="both routers on again")
    await switchboard.customer_writes("972501110299", "Where is my order #1234?")
    await eventually(lambda: bot_replies(switchboard), what="the bot answering again")


async def holding(switchboard: Switchboard, agent: dict, n: int) -> bool:
    return len(await switchboard.agent_conversations(agent)) == n


@pytest_asyncio.fixture
async def schedule_for(switchboard: Switchboard) -> AsyncIterator[Callable[..., Awaitable[None]]]:
    """Sets the test WhatsApp number's business hours for the test, and removes them after."""

    async def set_schedule(schedule: dict[str, Any], **messages: str) -> None:
        answer = await switchboard.http.put(
            f"{switchboard.router}/v1/schedules/{PHONE_NUMBER_ID}",
            json={"schedule": schedule, **messages},
            headers=switchboard.admin,
        )
        assert answer.status_code == 200, answer.text
        await eventually(lambda: schedules_read(switchboard, 1.0), what="the router reading the schedule")

    yield set_schedule
    await switchboard.http.delete(f"{switchboard.router}/v1/schedules/{PHONE_NUMBER_ID}", headers=switchboard.admin)
    await eventually(lambda: schedules_read(switchboard, 0.0), what="the router forgetting the schedule")


async def schedules_read(switchboard: Switchboard, count: float) -> bool:
    """Whether the router has read `count` schedules (it re-reads the automation settings every 0.5 s)."""
    text = (await switchboard.http.get(f"{switchboard.router}/metrics")).text
    return any(
        sample.name == "switchboard_automation_schedules" and sample.value == count
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    )


async def test_outside_hours_the_customer_is_told_when_the_team_is_back(
    switchboard: Switchboard, automation_on: None, schedule_for
):
    in_three_days = (datetime.now(UTC) + timedelta(days=3)).strftime("%a").lower()
    await schedule_for({"time_zone": "UTC", "weekly": {in_three_days: [["09:00", "17:00"]]}})
    agent = await switchboard.online_agent("Ana")

    await switchboard.customer_writes("972501110301", "My cat chewed the box, what now?")

    [away] = await eventually(lambda: bot_replies(switchboard), what="the away message")
    expected_day = (datetime.now(UTC) + timedelta(days=3)).strftime("%A")
    assert away == f"We're away right now. We'll be back {expected_day} at 9:00 (UTC time)."
    await eventually(lambda: switchboard.agent_conversations(agent), what="the conversation still reaching Ana")
    await switchboard.customer_writes("972501110301", "hello?")
    await eventually(lambda: stored_inbound(switchboard, "972501110301", 2), what="the second message stored")
    assert len(await bot_replies(switchboard)) == 1, "one away message per conversation per period"


async def test_inside_hours_a_first_contact_is_greeted_and_nobody_is_told_we_are_away(
    switchboard: Switchboard, automation_on: None, schedule_for
):
    every_day = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    await schedule_for({"time_zone": "Asia/Seoul", "weekly": every_day}, greeting="Hi! An agent will be with you.")
    await switchboard.online_agent("Ana")

    await switchboard.customer_writes("972501110302", "My cat chewed the box, what now?")

    assert await eventually(lambda: bot_replies(switchboard), what="the greeting") == ["Hi! An agent will be with you."]


async def stored_inbound(switchboard: Switchboard, customer: str, n: int) -> bool:
    conversations = await switchboard.http.get(
        f"{switchboard.router}/v1/conversations",
        params={"external_id": customer},
        headers=switchboard.admin,
    )
    [conversation] = conversations.json()["items"]
    detail = await switchboard.conversation(conversation["id"])
    inbound = sum(m["direction"] == "inbound" for m in detail["messages"])
    return bool(inbound == n)


async def test_a_bot_conversation_whose_last_message_went_unanswered_is_handed_to_an_agent(
    switchboard: Switchboard, db: asyncpg.Connection
):
    """The bot claims a conversation, then answers in a transaction of its own: a router (or PostgreSQL) that
    dies in between leaves it `bot` with nobody answering. The queue sweep hands it over; a conversation whose
    last message is recent is still the bot's to answer."""
    await switchboard.customer_writes("972501110111", "Where is my order #1234?")
    await switchboard.customer_writes("972501110112", "Where is my order #1235?")

    async def both_stored() -> bool:
        return int(await db.fetchval("SELECT count(*) FROM conversations")) == 2

    await eventually(both_stored, what="both conversations stored")
    # What the claim leaves when the answer never comes: `bot`, no outbound message, the last message's age.
    await db.execute(
        """UPDATE conversations c
              SET status = 'bot',
                  last_inbound_at = CASE WHEN i.external_id = '972501110111' THEN now() - interval '1 minute'
                                         ELSE now() END
             FROM contact_identities i
            WHERE i.contact_id = c.contact_id AND i.channel = 'whatsapp'"""
    )
    agent = await switchboard.online_agent("Ana")

    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the handover")
    rows = await db.fetch(
        """SELECT i.external_id, c.status, c.handed_over_reason FROM conversations c
             JOIN contact_identities i ON i.contact_id = c.contact_id AND i.channel = 'whatsapp'
            ORDER BY i.external_id"""
    )
    assert [tuple(r) for r in rows] == [
        ("972501110111", "assigned", "bot_unanswered"),
        ("972501110112", "bot", None),  # seen by the same sweep, too recent to take from the bot
    ]
    assert conversation["id"] == str(
        await db.fetchval(
            "SELECT c.id FROM conversations c JOIN contact_identities i ON i.contact_id = c.contact_id "
            "WHERE i.external_id = '972501110111'"
        )
    )
