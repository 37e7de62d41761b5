"""LINE through the real stack: signed deliveries in, replies out by reply token or push at the sandbox."""

import itertools
import time
from typing import Any

import asyncpg
import orjson
import pytest

from ingest.channels.line import sign
from sandbox.webhooks.line import line_envelope, line_text, signed_line
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import LINE_CHANNEL_SECRET

pytestmark = pytest.mark.integration

BOT = "U0000000000000000000000000000test"
AUTHORIZATION = "Bearer test-line-channel-access-token"
_ids = itertools.count(int(time.time() * 1000) % 10**12)


async def customer_writes(
    switchboard: Switchboard, user: str, text: str, *, written_ago_s: float = 0, secret: str = LINE_CHANNEL_SECRET
) -> dict[str, Any]:
    """Post one signed text delivery; returns the event LINE sent."""
    message_id = str(next(_ids))
    payload = line_text(
        BOT,
        user,
        message_id,
        text,
        reply_token=f"rt{message_id}",
        timestamp_ms=int((time.time() - written_ago_s) * 1000),
    )
    response = await switchboard.post_signed("line", signed_line(payload, secret))
    assert response.status_code == 200, response.text
    event: dict[str, Any] = payload["events"][0]
    return event


async def stored(db: asyncpg.Connection, message_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE channel = 'line' AND provider_message_id = $1", message_id
        )
    )


async def assigned(switchboard: Switchboard, user: str, *, written_ago_s: float = 0):
    agent = await switchboard.online_agent("Ana")
    event = await customer_writes(switchboard, user, "Where is my order #42?", written_ago_s=written_ago_s)
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    return agent, conversation, event


async def sent_row(db: asyncpg.Connection, message_id: str):
    async def sent():
        return await db.fetchrow(
            """SELECT m.provider_message_id, m.delivery_status, a.external_id AS account
                 FROM messages m JOIN accounts a ON a.id = m.account_id
                WHERE m.id = $1 AND m.delivery_status IN ('sent', 'failed')""",
            message_id,
        )

    return await eventually(sent, what="the reply settled")


async def test_an_agents_reply_uses_the_reply_token_of_the_customers_message(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = "U1000000000000000000000000000001"
    agent, conversation, event = await assigned(switchboard, user)
    detail = await switchboard.conversation(conversation["id"], switchboard.as_agent(agent))
    assert detail["contact"]["identities"] == [{"channel": "line", "external_id": user}]
    assert [(m["provider_message_id"], m["text"]) for m in detail["messages"]] == [
        (event["message"]["id"], "Where is my order #42?")
    ]

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    [request] = await eventually(switchboard.sandbox_requests, what="the reply at the sandbox")
    assert (request["method"], request["path"]) == ("POST", "/v2/bot/message/reply")
    assert request["headers"]["authorization"] == AUTHORIZATION
    assert request["headers"]["content-type"] == "application/json"
    assert "x-line-retry-key" not in request["headers"]
    assert request["body"] == {
        "replyToken": event["replyToken"],
        "messages": [{"type": "text", "text": "It ships today."}],
    }

    row = await sent_row(db, response.json()["id"])
    assert row["delivery_status"] == "sent"
    assert row["provider_message_id"].isdigit()  # sentMessages[0].id
    assert row["account"] == BOT


async def test_a_second_reply_finds_the_token_spent_and_goes_by_push(switchboard: Switchboard, db: asyncpg.Connection):
    user = "U1000000000000000000000000000002"
    agent, conversation, event = await assigned(switchboard, user)
    first = await switchboard.reply(agent, conversation["id"], "Checking.")
    await sent_row(db, first.json()["id"])
    second = await switchboard.reply(agent, conversation["id"], "Found it: it ships today.")
    row = await sent_row(db, second.json()["id"])
    assert row["delivery_status"] == "sent"

    requests = await switchboard.sandbox_requests()
    assert [r["path"] for r in requests] == ["/v2/bot/message/reply", "/v2/bot/message/reply", "/v2/bot/message/push"]
    assert requests[1]["body"]["replyToken"] == event["replyToken"]
    push = requests[2]
    assert push["headers"]["authorization"] == AUTHORIZATION
    assert push["headers"]["x-line-retry-key"] == second.json()["id"]
    assert push["body"] == {"to": user, "messages": [{"type": "text", "text": "Found it: it ships today."}]}


async def test_a_reply_to_a_message_older_than_the_token_goes_by_push_and_a_retried_push_keeps_its_key(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = "U1000000000000000000000000000003"
    agent, conversation, _ = await assigned(switchboard, user, written_ago_s=120)
    await switchboard.sandbox_fails(500, count=1)
    response = await switchboard.reply(agent, conversation["id"], "Sorry for the wait.")
    row = await sent_row(db, response.json()["id"])
    assert row["delivery_status"] == "sent"

    requests = await switchboard.sandbox_requests()
    assert [r["path"] for r in requests] == ["/v2/bot/message/push"] * 2, "refused once, accepted on retry"
    assert {r["headers"]["x-line-retry-key"] for r in requests} == {response.json()["id"]}
    assert (
        requests[0]["body"]
        == requests[1]["body"]
        == {
            "to": user,
            "messages": [{"type": "text", "text": "Sorry for the wait."}],
        }
    )


async def test_a_bad_or_missing_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = "U1000000000000000000000000000004"
    forged = line_text(BOT, user, "9990001", "refund me")
    response = await switchboard.post_signed("line", signed_line(forged, "not-the-channel-secret"))
    assert (response.status_code, response.json()["error"]) == (401, "bad_signature")
    unsigned = signed_line(forged, LINE_CHANNEL_SECRET)
    response = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/line", content=unsigned.body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401

    genuine = await customer_writes(switchboard, user, "hello")  # same partition, handled after the forgeries
    await eventually(lambda: stored(db, genuine["message"]["id"]), what="the genuine message")
    assert await stored(db, "9990001") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_delivery_and_its_redelivery_are_stored_once(switchboard: Switchboard, db: asyncpg.Connection):
    user = "U1000000000000000000000000000005"
    payload = line_text(BOT, user, "9990002", "hi", reply_token="rt-twice", timestamp_ms=1763880000000)
    redelivered = orjson.loads(orjson.dumps(payload))
    redelivered["events"][0]["deliveryContext"]["isRedelivery"] = True
    for body in (payload, payload, redelivered):
        response = await switchboard.post_signed("line", signed_line(body, LINE_CHANNEL_SECRET))
        assert response.status_code == 200, response.text

    sentinel = await customer_writes(switchboard, user, "still there?")
    await eventually(lambda: stored(db, sentinel["message"]["id"]), what="the sentinel message")
    assert await stored(db, "9990002") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_the_consoles_verify_ping_gets_200_and_a_body_line_would_not_send_gets_400(switchboard: Switchboard):
    ping = await switchboard.post_signed("line", signed_line(line_envelope(BOT, []), LINE_CHANNEL_SECRET))
    assert (ping.status_code, ping.json()) == (200, {"accepted": 0})
    body = b'{"destination": "' + BOT.encode() + b'", "events": "none"}'
    headers = {"content-type": "application/json", "x-line-signature": sign(LINE_CHANNEL_SECRET.encode(), body)}
    response = await switchboard.http.post(f"{switchboard.ingest}/webhooks/line", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "bad_payload")
    assert response.json()["detail"]
