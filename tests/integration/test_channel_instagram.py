"""Instagram through the whole stack: professional-account webhooks in, the agent's reply out through
the Instagram API with Instagram Login."""

import time

import asyncpg
import orjson
import pytest

from ingest.meta import sign
from sandbox.webhooks.meta_messaging import instagram_seen, messaging_echo, messaging_text
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import APP_SECRET, VERIFY_TOKEN
from tests.integration.meta_messaging import customer_writes, post, reply_settled, stored

pytestmark = pytest.mark.integration

IG_ID = "17841400000000001"  # the test stack's Instagram professional account (conftest ACCOUNTS)


async def test_a_customers_dm_reaches_an_agent_and_the_reply_leaves_from_the_account(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    igsid = "6353574184710001"
    mid = await customer_writes(switchboard, "instagram", IG_ID, igsid, "Is the blue one back in stock?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    assert (conversation["channel"], conversation["account_external_id"]) == ("instagram", IG_ID)

    response = await switchboard.reply(agent, conversation["id"], "Yes, since this morning.")
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    [request] = await eventually(switchboard.sandbox_requests, what="the send at the sandbox")
    assert request["method"] == "POST"
    assert request["path"] == f"/v21.0/{IG_ID}/messages"
    assert request["headers"]["authorization"] == "Bearer test-instagram-token"
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {
        "recipient": {"id": igsid},
        "messaging_type": "RESPONSE",
        "message": {"text": "Yes, since this morning."},
    }
    row = await eventually(lambda: reply_settled(db, message_id), what="the reply marked sent")
    assert row["delivery_status"] == "sent"
    sent_mid = row["provider_message_id"]

    # Instagram echoes our own send back, then reports the customer saw it (`read.mid`).
    echo = await post(switchboard, "instagram", messaging_echo("instagram", IG_ID, igsid, sent_mid, "Yes"))
    assert (echo.status_code, echo.json()) == (200, {"accepted": 0})
    seen = await post(switchboard, "instagram", instagram_seen(IG_ID, igsid, sent_mid))
    assert (seen.status_code, seen.json()) == (200, {"accepted": 1})

    async def read():
        return await db.fetchval(
            "SELECT delivery_status FROM messages WHERE id = $1 AND delivery_status = 'read'", message_id
        )

    await eventually(read, what="the seen receipt applied")
    detail = await switchboard.conversation(conversation["id"])
    assert [(m["direction"], m["provider_message_id"]) for m in detail["messages"]] == [
        ("inbound", mid),
        ("outbound", sent_mid),
    ]


async def test_a_bad_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    igsid = "6353574184710002"
    forged = messaging_text("instagram", IG_ID, igsid, "aWdf_forged", "give me a refund")
    response = await post(switchboard, "instagram", forged, secret="not-the-app-secret")
    assert (response.status_code, response.json()["error"]) == (401, "bad_signature")
    unsigned = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/instagram",
        content=orjson.dumps(forged),
        headers={"content-type": "application/json"},
    )
    assert unsigned.status_code == 401

    genuine = await customer_writes(switchboard, "instagram", IG_ID, igsid, "hello")
    await eventually(lambda: stored(db, genuine), what="the genuine message")
    assert await stored(db, "aWdf_forged") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_delivery_posted_twice_is_stored_once(switchboard: Switchboard, db: asyncpg.Connection):
    igsid = "6353574184710003"
    payload = messaging_text("instagram", IG_ID, igsid, "aWdf_twice", "hi", timestamp_ms=int(time.time() * 1000))
    first = await post(switchboard, "instagram", payload)
    again = await post(switchboard, "instagram", payload)
    assert (first.status_code, again.status_code) == (200, 200)

    sentinel = await customer_writes(switchboard, "instagram", IG_ID, igsid, "still there?")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await stored(db, "aWdf_twice") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_a_reply_above_1000_bytes_is_refused_and_never_sent(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    await customer_writes(switchboard, "instagram", IG_ID, "6353574184710004", "tell me everything")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    response = await switchboard.reply(agent, conversation["id"], "é" * 501)  # 501 characters, 1,002 bytes
    assert response.status_code == 202, response.text

    row = await eventually(lambda: reply_settled(db, response.json()["id"]), what="the reply settled")
    assert row["delivery_status"] == "failed"
    assert row["delivery_error"]["code"] == "text_too_long"
    assert "1002 bytes" in row["delivery_error"]["detail"]
    assert await switchboard.sandbox_requests() == []


async def test_a_body_instagram_would_not_send_is_refused_with_400(switchboard: Switchboard):
    body = orjson.dumps({"object": "page", "entry": []})
    headers = {"content-type": "application/json", "x-hub-signature-256": sign(APP_SECRET.encode(), body)}
    response = await switchboard.http.post(f"{switchboard.ingest}/webhooks/instagram", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "bad_payload")
    assert "object" in response.json()["detail"]


async def test_metas_subscription_handshake_for_instagram(switchboard: Switchboard):
    ok = await switchboard.http.get(
        f"{switchboard.ingest}/webhooks/instagram",
        params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
    )
    assert (ok.status_code, ok.text) == (200, "42")
