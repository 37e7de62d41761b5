"""The sandbox writes as a customer on every channel: a correctly signed webhook, stored and assigned."""

import asyncpg
import pytest

from tests.integration.client import Switchboard, eventually

pytestmark = pytest.mark.integration

SENDERS = {
    "whatsapp": ("972500000777", "972500000777"),
    "messenger": ("24000000000777", "24000000000777"),
    "instagram": ("17000000000777", "17000000000777"),
    "twilio": ("+15550000777", "+15550000777"),
    "line": ("U" + "a" * 32, "U" + "a" * 32),
    "telegram": ("777000777", "777000777"),
    "mailgun": ("Dana@Example.com", "dana@example.com"),
    "webchat": ("visitor-777", "site-test:visitor-777"),
}


@pytest.mark.parametrize("channel", sorted(SENDERS))
async def test_a_customer_message_composed_by_the_sandbox_reaches_an_agent(
    switchboard: Switchboard, db: asyncpg.Connection, channel: str
):
    sender, stored_as = SENDERS[channel]
    agent = await switchboard.online_agent("Ana")

    answer = await switchboard.http.post(
        f"{switchboard.sandbox}/sandbox/webhooks/{channel}", json={"from": sender, "text": "Is my order late?"}
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["ingest"]["status"] == 200
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    row = await db.fetchrow(
        "SELECT channel, external_id, text FROM messages WHERE conversation_id = $1", conversation["id"]
    )
    assert row is not None
    assert (row["channel"], row["external_id"]) == (channel, stored_as)
    assert "Is my order late?" in row["text"]


async def test_an_unknown_channel_is_refused(switchboard: Switchboard):
    answer = await switchboard.http.post(f"{switchboard.sandbox}/sandbox/webhooks/fax", json={"from": "1", "text": "x"})
    assert answer.status_code == 404
