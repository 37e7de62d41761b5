"""Webchat through the real stack: a site's widget backend posts in, the agent's reply is posted back to it."""

import time
from typing import Any

import asyncpg
import orjson
import pytest

from sandbox.webhooks.webchat import signed_webchat, webchat_message, webchat_receipt
from services.webchat_signature import verify_signature
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import WEBCHAT_SIGNING_KEY

pytestmark = pytest.mark.integration

SITE = "site-test"


async def stored(db: asyncpg.Connection, message_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE channel = 'webchat' AND provider_message_id = $1",
            f"{SITE}:{message_id}",
        )
    )


async def post(switchboard: Switchboard, payload: dict[str, Any], key: str = WEBCHAT_SIGNING_KEY, **signing: Any):
    return await switchboard.post_signed("webchat", signed_webchat(payload, key, **signing))


async def visitor_writes(switchboard: Switchboard, visitor: str, message_id: str, text: str) -> None:
    response = await post(switchboard, webchat_message(SITE, visitor, message_id, text, visitor_name="Vera"))
    assert (response.status_code, response.json()) == (200, {"accepted": 1}), response.text


async def test_a_visitors_message_reaches_an_agent_and_the_reply_reaches_the_widget(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await visitor_writes(switchboard, "v-1", "m-1", "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    detail = await switchboard.conversation(conversation["id"], switchboard.as_agent(agent))
    assert detail["contact"]["identities"] == [{"channel": "webchat", "external_id": f"{SITE}:v-1"}]
    assert detail["contact"]["display_name"] == "Vera"

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    reply_id = response.json()["id"]

    [request] = await eventually(switchboard.sandbox_requests, what="the reply at the site's backend")
    assert (request["method"], request["path"]) == ("POST", "/webchat/messages")
    assert request["headers"]["content-type"] == "application/json"
    body = request["body"]
    # Signed with the site's key over timestamp and body (orjson re-serialises the body byte for byte).
    verify_signature(
        WEBCHAT_SIGNING_KEY.encode(), request["headers"], orjson.dumps(body), now=time.time(), tolerance_s=60
    )
    assert body.pop("sent_at")
    assert body == {"site_id": SITE, "visitor_id": "v-1", "message_id": reply_id, "text": "It ships today."}
    widget = await switchboard.http.get(f"{switchboard.sandbox}/webchat/sites/{SITE}/visitors/v-1/messages")
    assert [(m["message_id"], m["text"]) for m in widget.json()["items"]] == [(reply_id, "It ships today.")]

    async def sent():
        return await db.fetchval(
            "SELECT provider_message_id FROM messages WHERE id = $1 AND delivery_status = 'sent'", reply_id
        )

    assert await eventually(sent, what="the reply marked sent") == f"{SITE}:{reply_id}"

    receipt = {"receipts": [webchat_receipt(SITE, "v-1", reply_id, "read")]}
    assert (await post(switchboard, receipt)).status_code == 200

    async def read():
        return await db.fetchval("SELECT 1 FROM messages WHERE id = $1 AND delivery_status = 'read'", reply_id)

    await eventually(read, what="the reply marked read")


async def test_a_bad_or_stale_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    forged = webchat_message(SITE, "v-3", "forged", "refund me")
    for response in (
        await post(switchboard, forged, "not-the-site-key"),
        await post(switchboard, forged, timestamp=time.time() - 3600),
        await switchboard.http.post(f"{switchboard.ingest}/webhooks/webchat", json=forged),
    ):
        assert response.status_code == 401
        assert response.json()["error"] == "bad_signature"

    await visitor_writes(switchboard, "v-3", "genuine", "hello")
    await eventually(lambda: stored(db, "genuine"), what="the genuine message")
    assert await stored(db, "forged") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_delivery_posted_twice_is_stored_once_and_a_batch_is_split(
    switchboard: Switchboard, db: asyncpg.Connection
):
    payload = webchat_message(SITE, "v-4", "twice", "hi")
    first, again = await post(switchboard, payload), await post(switchboard, payload)
    assert (first.status_code, again.status_code) == (200, 200)

    batch = {"messages": [webchat_message(SITE, "v-4", "b-1", "one"), webchat_message(SITE, "v-5", "b-2", "two")]}
    response = await post(switchboard, batch)
    assert (response.status_code, response.json()) == (200, {"accepted": 2})
    await eventually(lambda: stored(db, "b-1"), what="the first of the batch")
    await eventually(lambda: stored(db, "b-2"), what="the second of the batch")
    assert await stored(db, "twice") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 2  # one per visitor


async def test_a_body_the_api_does_not_define_is_refused_with_400(switchboard: Switchboard):
    response = await post(switchboard, {"site_id": SITE, "visitor_id": "v-6", "text": "no id or time"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"
    assert "message_id" in response.json()["detail"]


async def test_a_failing_site_backend_is_retried(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    await visitor_writes(switchboard, "v-7", "m-7", "hello")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    await switchboard.sandbox_fails(503, count=2)
    reply_id = (await switchboard.reply(agent, conversation["id"], "Hi!")).json()["id"]

    async def sent():
        return await db.fetchval("SELECT 1 FROM messages WHERE id = $1 AND delivery_status = 'sent'", reply_id)

    await eventually(sent, timeout_s=20, what="the reply sent after the backend recovered")
    assert len(await switchboard.sandbox_requests()) == 3
