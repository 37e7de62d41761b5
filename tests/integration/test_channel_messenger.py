"""Messenger through the whole stack: Page webhooks in, the agent's reply out through the Send API."""

import time

import asyncpg
import orjson
import pytest

from ingest.meta import sign
from sandbox.webhooks.meta_messaging import messaging_echo, messaging_text, messenger_delivery, messenger_read
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN
from tests.integration.meta_messaging import customer_writes, post, reply_settled, stored

pytestmark = pytest.mark.integration

PAGE_ID = "108888888888881"  # the test stack's Page (conftest ACCOUNTS)
DAY_MS = 24 * 3600 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


async def test_a_customers_message_reaches_an_agent_and_the_reply_leaves_from_the_page(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    psid = "1254477777770001"
    mid = await customer_writes(switchboard, "messenger", PAGE_ID, psid, "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    assert (conversation["channel"], conversation["account_external_id"]) == ("messenger", PAGE_ID)

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    [request] = await eventually(switchboard.sandbox_requests, what="the send at the sandbox")
    assert request["method"] == "POST"
    assert request["path"] == f"/v21.0/{PAGE_ID}/messages"
    assert request["headers"]["authorization"] == "Bearer test-page-token"
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {
        "recipient": {"id": psid},
        "messaging_type": "RESPONSE",
        "message": {"text": "It ships today."},
    }
    row = await eventually(lambda: reply_settled(db, message_id), what="the reply marked sent")
    assert row["delivery_status"] == "sent"
    sent_mid = row["provider_message_id"]
    assert sent_mid.startswith("m_")

    # Meta's delivery receipt names the mid; its read receipt only a watermark, which names no message.
    delivered = await post(switchboard, "messenger", messenger_delivery(PAGE_ID, psid, [sent_mid]))
    assert (delivered.status_code, delivered.json()) == (200, {"accepted": 1})
    read = await post(switchboard, "messenger", messenger_read(PAGE_ID, psid))
    assert (read.status_code, read.json()) == (200, {"accepted": 0})

    async def delivered_status():
        return await db.fetchval(
            "SELECT delivery_status FROM messages WHERE id = $1 AND delivery_status = 'delivered'", message_id
        )

    await eventually(delivered_status, what="the delivery receipt applied")
    detail = await switchboard.conversation(conversation["id"])
    assert [(m["direction"], m["provider_message_id"], m["text"]) for m in detail["messages"]] == [
        ("inbound", mid, "Where is my order #42?"),
        ("outbound", sent_mid, "It ships today."),
    ]


async def test_a_bad_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    psid = "1254477777770002"
    forged = messaging_text("messenger", PAGE_ID, psid, "m_forged", "give me a refund")
    response = await post(switchboard, "messenger", forged, secret="not-the-app-secret")
    assert (response.status_code, response.json()["error"]) == (401, "bad_signature")
    unsigned = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/messenger",
        content=orjson.dumps(forged),
        headers={"content-type": "application/json"},
    )
    assert unsigned.status_code == 401

    # The same customer's genuine message shares the forged one's partition and is handled after it.
    genuine = await customer_writes(switchboard, "messenger", PAGE_ID, psid, "hello")
    await eventually(lambda: stored(db, genuine), what="the genuine message")
    assert await stored(db, "m_forged") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_delivery_posted_twice_is_stored_once(switchboard: Switchboard, db: asyncpg.Connection):
    psid = "1254477777770003"
    payload = messaging_text("messenger", PAGE_ID, psid, "m_twice", "hi", timestamp_ms=now_ms())
    first = await post(switchboard, "messenger", payload)
    again = await post(switchboard, "messenger", payload)
    assert (first.status_code, again.status_code) == (200, 200)

    sentinel = await customer_writes(switchboard, "messenger", PAGE_ID, psid, "still there?")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await stored(db, "m_twice") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_the_echo_of_a_page_send_is_not_stored_as_the_customers_message(
    switchboard: Switchboard, db: asyncpg.Connection
):
    psid = "1254477777770004"
    echo = await post(switchboard, "messenger", messaging_echo("messenger", PAGE_ID, psid, "m_echo", "from the Page"))
    assert (echo.status_code, echo.json()) == (200, {"accepted": 0})
    sentinel = await customer_writes(switchboard, "messenger", PAGE_ID, psid, "hi")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await stored(db, "m_echo") == 0


async def test_a_human_agents_reply_after_24_hours_carries_the_human_agent_tag(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    psid = "1254477777770005"
    await customer_writes(switchboard, "messenger", PAGE_ID, psid, "hello?", timestamp_ms=now_ms() - 2 * DAY_MS)
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    response = await switchboard.reply(agent, conversation["id"], "Sorry for the wait.")
    assert response.status_code == 202, response.text

    row = await eventually(lambda: reply_settled(db, response.json()["id"]), what="the reply settled")
    assert row["delivery_status"] == "sent"
    [request] = await switchboard.sandbox_requests()
    assert request["body"] == {
        "recipient": {"id": psid},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "Sorry for the wait."},
    }


async def test_a_reply_after_7_days_is_refused_and_never_sent(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    psid = "1254477777770006"
    await customer_writes(switchboard, "messenger", PAGE_ID, psid, "hello?", timestamp_ms=now_ms() - 8 * DAY_MS)
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    response = await switchboard.reply(agent, conversation["id"], "Sorry for the wait.")
    assert response.status_code == 202, response.text

    row = await eventually(lambda: reply_settled(db, response.json()["id"]), what="the reply settled")
    assert row["delivery_status"] == "failed"
    assert row["delivery_error"]["code"] == "outside_window"
    assert "until the customer writes again" in row["delivery_error"]["detail"]
    assert await switchboard.sandbox_requests() == []


async def test_rate_limited_sends_are_retried_until_the_send_api_accepts(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await customer_writes(switchboard, "messenger", PAGE_ID, "1254477777770007", "hello")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    await switchboard.sandbox_fails(429, count=2)
    response = await switchboard.reply(agent, conversation["id"], "On it.")
    assert response.status_code == 202, response.text

    row = await eventually(lambda: reply_settled(db, response.json()["id"]), timeout_s=20, what="the reply settled")
    assert row["delivery_status"] == "sent"
    requests = await switchboard.sandbox_requests()
    assert len(requests) == 3, "two refusals (613), then one accepted send"


async def test_a_body_messenger_would_not_send_is_refused_with_400(switchboard: Switchboard):
    for body in (b"not json at all", orjson.dumps({"object": "instagram", "entry": []})):
        headers = {"content-type": "application/json", "x-hub-signature-256": sign(APP_SECRET.encode(), body)}
        response = await switchboard.http.post(
            f"{switchboard.ingest}/webhooks/messenger", content=body, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["error"] == "bad_payload"
        assert response.json()["detail"]


async def test_metas_subscription_handshake_for_the_page(switchboard: Switchboard):
    url = f"{switchboard.ingest}/webhooks/messenger"
    ok = await switchboard.http.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    refused = await switchboard.http.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert refused.status_code == 403
