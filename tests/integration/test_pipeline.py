"""A WhatsApp webhook through ingest, Kafka, router, agent, dispatcher and back to the provider."""

import asyncpg
import orjson
import pytest

from ingest.meta import sign
from sandbox.webhooks import signed_meta, whatsapp_text
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import VERIFY_TOKEN, Stack

pytestmark = pytest.mark.integration


async def stored(db: asyncpg.Connection, wamid: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages WHERE provider_message_id = $1", wamid))


async def test_a_signed_webhook_reaches_an_online_agent(switchboard: Switchboard):
    agent = await switchboard.online_agent("Ana")
    wamid = await switchboard.customer_writes("972501234567", "Where is my order #42?")

    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    assert conversation["status"] == "assigned"
    assert conversation["assignee_id"] == agent["id"]
    detail = await switchboard.conversation(conversation["id"], switchboard.as_agent(agent))
    assert detail["contact"]["identities"] == [
        {"channel": "whatsapp", "external_id": "972501234567"},
        {"channel": "phone", "external_id": "+972501234567"},  # where SMS from the same number meets it
    ]
    assert detail["contact"]["display_name"] == "Test Customer"
    [message] = detail["messages"]
    assert (message["provider_message_id"], message["text"], message["direction"]) == (
        wamid,
        "Where is my order #42?",
        "inbound",
    )


async def test_a_further_message_stays_with_its_agent(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    await switchboard.online_agent("Bo")
    await switchboard.customer_writes("972501234567", "Hello")
    [first] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    second = await switchboard.customer_writes("972501234567", "Are you there?")
    await eventually(lambda: stored(db, second), what="the second message")

    assert [c["id"] for c in await switchboard.agent_conversations(agent)] == [first["id"]]
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1
    assert await db.fetchval("SELECT pending FROM agents WHERE id = $1", agent["id"]) == 1


async def test_the_agents_reply_reaches_whatsapp_in_its_exact_shape(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    wa_id = "972501234567"
    await switchboard.customer_writes(wa_id, "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    [request] = await eventually(switchboard.sandbox_requests, what="the send at the sandbox")
    assert request["method"] == "POST"
    assert request["path"] == f"/v21.0/{switchboard.phone_number_id}/messages"
    assert request["headers"]["authorization"] == "Bearer test-whatsapp-token"
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": wa_id,
        "type": "text",
        "text": {"preview_url": False, "body": "It ships today."},
    }

    async def sent():
        return await db.fetchrow(
            "SELECT provider_message_id, delivery_status FROM messages WHERE id = $1 AND delivery_status = 'sent'",
            message_id,
        )

    row = await eventually(sent, what="the reply marked sent")
    wamid = row["provider_message_id"]
    assert wamid.startswith("wamid.")

    # Receipts arrive out of order: "read" first, then a late "delivered" that must not move it back.
    await switchboard.provider_reports(wa_id, wamid, "read")
    await switchboard.provider_reports(wa_id, wamid, "delivered")
    sentinel = await switchboard.customer_writes(wa_id, "thanks")  # same partition, handled after both receipts
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", message_id) == "read"

    detail = await switchboard.conversation(conversation["id"])
    assert [(m["direction"], m["text"]) for m in detail["messages"]] == [
        ("inbound", "Where is my order #42?"),
        ("outbound", "It ships today."),
        ("inbound", "thanks"),
    ]


async def test_a_bad_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    payload = whatsapp_text(switchboard.phone_number_id, "972500000001", "wamid.forged", "give me a refund")
    response = await switchboard.post_webhook(payload, secret="not-the-app-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "bad_signature"
    unsigned = signed_meta(payload, "x")
    response = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/whatsapp", content=unsigned.body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 401

    # The same customer's next genuine message shares the forged one's partition and is handled after it.
    genuine = await switchboard.customer_writes("972500000001", "hello")
    await eventually(lambda: stored(db, genuine), what="the genuine message")
    assert await stored(db, "wamid.forged") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_webhook_posted_twice_stores_one_message(switchboard: Switchboard, db: asyncpg.Connection):
    payload = whatsapp_text(switchboard.phone_number_id, "972500000002", "wamid.twice", "hi", timestamp=1763880000)
    first = await switchboard.post_webhook(payload)
    again = await switchboard.post_webhook(payload)
    assert (first.status_code, again.status_code) == (200, 200)

    sentinel = await switchboard.customer_writes("972500000002", "still there?")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await stored(db, "wamid.twice") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_a_body_whatsapp_would_not_send_is_refused_with_400(switchboard: Switchboard):
    for body in (b"not json at all", orjson.dumps({"object": "page", "entry": []})):
        headers = {
            "content-type": "application/json",
            "x-hub-signature-256": sign(switchboard.app_secret.encode(), body),
        }
        response = await switchboard.http.post(f"{switchboard.ingest}/webhooks/whatsapp", content=body, headers=headers)
        assert response.status_code == 400
        assert response.json()["error"] == "bad_payload"
        assert response.json()["detail"]


async def test_a_body_above_one_mebibyte_is_refused_with_413(switchboard: Switchboard):
    body = b'{"object":"whatsapp_business_account","entry":[]}'.ljust(1024 * 1024 + 1, b" ")
    response = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/whatsapp", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


async def test_metas_subscription_handshake(switchboard: Switchboard):
    url = f"{switchboard.ingest}/webhooks/whatsapp"
    ok = await switchboard.http.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    )
    assert (ok.status_code, ok.text) == (200, "1158201444")
    refused = await switchboard.http.get(
        url, params={"hub.mode": "subscribe", "hub.verify_token": "nope", "hub.challenge": "1"}
    )
    assert refused.status_code == 403


async def test_every_service_serves_health_readiness_and_the_contracts_metrics(switchboard: Switchboard, stack: Stack):
    for service in (stack.ingest, stack.router, stack.dispatcher, stack.sandbox):
        for path in ("/healthz", "/readyz", "/metrics"):
            response = await switchboard.http.get(service.url + path)
            assert response.status_code == 200, (service.module, path)
    await switchboard.customer_writes("972500000003", "hi")
    ingest_metrics = (await switchboard.http.get(stack.ingest.url + "/metrics")).text
    assert 'switchboard_ingest_messages_total{channel="whatsapp",outcome="accepted"}' in ingest_metrics
    router_metrics = (await switchboard.http.get(stack.router.url + "/metrics")).text
    for name in (
        "switchboard_assignment_latency_seconds",
        "switchboard_queue_depth",
        "switchboard_agents",
        "switchboard_consumer_lag",
    ):
        assert name in router_metrics, name
    dispatcher_metrics = (await switchboard.http.get(stack.dispatcher.url + "/metrics")).text
    for name in ("switchboard_dispatch_total", "switchboard_dispatch_latency_seconds"):
        assert name in dispatcher_metrics, name
