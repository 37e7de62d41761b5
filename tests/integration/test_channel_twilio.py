"""Twilio through the real stack: signed form webhooks in, the agent's reply out through the sandbox's
Messages API, and status callbacks moving the reply's delivery status."""

import base64
from typing import Any

import asyncpg
import httpx
import pytest

from ingest.channels.twilio import EMPTY_TWIML
from sandbox.webhooks import SignedWebhook
from sandbox.webhooks.twilio import message_sid, signed_twilio, twilio_status, twilio_text
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import TWILIO_AUTH_TOKEN

pytestmark = pytest.mark.integration

TWILIO_NUMBER = "+15550100001"
ACCOUNT_SID = "AC00000000000000000000000000000001"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def webhook_url(switchboard: Switchboard) -> str:
    return f"{switchboard.ingest}/webhooks/twilio"


def signed(switchboard: Switchboard, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> SignedWebhook:
    return signed_twilio(params, webhook_url(switchboard), token)


async def post(switchboard: Switchboard, params: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> httpx.Response:
    return await switchboard.post_signed("twilio", signed(switchboard, params, token))


async def customer_writes(switchboard: Switchboard, sender: str, text: str, **fields: Any) -> str:
    sid = message_sid()
    response = await post(switchboard, twilio_text(TWILIO_NUMBER, sender, sid, text, **fields))
    assert response.status_code == 200, response.text
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    return sid


async def twilio_reports(switchboard: Switchboard, customer: str, sid: str, status: str) -> None:
    our_number = f"whatsapp:{TWILIO_NUMBER}" if customer.startswith("whatsapp:") else TWILIO_NUMBER
    response = await post(switchboard, twilio_status(our_number, customer, sid, status))
    assert response.status_code == 200, response.text


async def stored(db: asyncpg.Connection, sid: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages WHERE provider_message_id = $1", sid))


async def assigned(switchboard: Switchboard, agent: dict[str, Any]) -> dict[str, Any]:
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    return conversation


async def reply_settles(switchboard, db, agent, conversation, text: str, final: set[str]) -> asyncpg.Record:
    response = await switchboard.reply(agent, conversation["id"], text)
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    async def settled():
        return await db.fetchrow(
            """SELECT id, provider_message_id, delivery_status, delivery_error FROM messages
                WHERE id = $1 AND delivery_status = ANY($2)""",
            message_id,
            list(final),
        )

    return await eventually(settled, timeout_s=20, what=f"the reply reaching {final}")


async def status_of(db: asyncpg.Connection, message_id: Any, status: str) -> bool:
    return bool(await db.fetchval("SELECT delivery_status = $2 FROM messages WHERE id = $1", message_id, status))


async def test_an_sms_reaches_the_agent_and_the_reply_goes_out_through_twilios_messages_api(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    customer = "+14155550123"
    sid = await customer_writes(switchboard, customer, "Where is my order #42?")
    conversation = await assigned(switchboard, agent)
    assert conversation["account_external_id"] == TWILIO_NUMBER
    detail = await switchboard.conversation(conversation["id"])
    assert detail["contact"]["identities"] == [
        {"channel": "twilio", "external_id": customer},
        {"channel": "phone", "external_id": customer},  # the number in E.164, where WhatsApp meets it
    ]
    [message] = detail["messages"]
    assert (message["provider_message_id"], message["text"], message["direction"]) == (
        sid,
        "Where is my order #42?",
        "inbound",
    )

    row = await reply_settles(switchboard, db, agent, conversation, "It ships today.", {"sent", "failed"})
    assert row["delivery_status"] == "sent", row["delivery_error"]
    [request] = await switchboard.sandbox_requests()
    assert (request["method"], request["path"]) == ("POST", MESSAGES_PATH)
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{TWILIO_AUTH_TOKEN}".encode()).decode()
    assert request["headers"]["authorization"] == f"Basic {credentials}"
    assert request["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert request["body"] == {
        "To": customer,
        "From": TWILIO_NUMBER,
        "Body": "It ships today.",
        "StatusCallback": webhook_url(switchboard),
    }
    assert row["provider_message_id"].startswith("SM")

    # Twilio's status callbacks name the sid its 201 gave; a late "sent" does not move "delivered" back.
    await twilio_reports(switchboard, customer, row["provider_message_id"], "delivered")
    await eventually(lambda: status_of(db, row["id"], "delivered"), what="the reply marked delivered")
    await twilio_reports(switchboard, customer, row["provider_message_id"], "sent")
    sentinel = await customer_writes(switchboard, customer, "thanks")  # same partition, after the receipt
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await status_of(db, row["id"], "delivered")


async def test_a_whatsapp_customer_is_answered_on_whatsapp_from_the_same_number(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    customer = "whatsapp:+5511987654321"
    photo = ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg")
    await customer_writes(switchboard, customer, "it arrived broken", media=(photo,), profile_name="Ana Lima")
    conversation = await assigned(switchboard, agent)
    detail = await switchboard.conversation(conversation["id"])
    assert detail["contact"]["identities"] == [
        {"channel": "twilio", "external_id": "+5511987654321"},
        {"channel": "phone", "external_id": "+5511987654321"},
    ]
    assert detail["contact"]["display_name"] == "Ana Lima"
    [message] = detail["messages"]
    assert (message["content_type"], message["text"]) == ("image", "it arrived broken")
    assert [(a["kind"], a["url"], a["mime_type"]) for a in message["attachments"]] == [("image", *photo)]

    row = await reply_settles(
        switchboard, db, agent, conversation, "Sorry! A new one is on its way.", {"sent", "failed"}
    )
    assert row["delivery_status"] == "sent", row["delivery_error"]
    [request] = await switchboard.sandbox_requests()
    assert request["path"] == MESSAGES_PATH
    assert request["body"] == {
        "To": customer,
        "From": f"whatsapp:{TWILIO_NUMBER}",
        "Body": "Sorry! A new one is on its way.",
        "StatusCallback": webhook_url(switchboard),
    }
    await twilio_reports(switchboard, customer, row["provider_message_id"], "read")
    await eventually(lambda: status_of(db, row["id"], "read"), what="the reply marked read")


async def test_a_whatsapp_reply_after_24_hours_is_refused_while_sms_has_no_window(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    sids = []
    for customer in ("whatsapp:+5511911112222", "+14155550124"):
        sid = await customer_writes(switchboard, customer, "hello")
        sids.append(sid)
        await eventually(lambda: stored(db, sids[-1]), what="the customer's message")
        # Twilio sends no timestamp, so the customer's two-day-old message is made so where it is kept.
        await db.execute("UPDATE messages SET sent_at = now() - interval '2 days' WHERE provider_message_id = $1", sid)
    whatsapp_sid = sids[0]

    async def both_assigned():
        found = await switchboard.agent_conversations(agent)
        return found if len(found) == 2 else None

    conversations = await eventually(both_assigned, what="both conversations assigned")
    for conversation in conversations:
        detail = await switchboard.conversation(conversation["id"])
        whatsapp = detail["messages"][0]["provider_message_id"] == whatsapp_sid
        row = await reply_settles(switchboard, db, agent, conversation, "Still there?", {"sent", "failed"})
        if whatsapp:
            assert row["delivery_status"] == "failed"
            assert (row["delivery_error"]["reason"], row["delivery_error"]["code"]) == (
                "channel_rule",
                "outside_window",
            )
            assert "ContentSid" in row["delivery_error"]["detail"]
        else:
            assert row["delivery_status"] == "sent"
    [request] = await switchboard.sandbox_requests()
    assert request["body"]["To"] == "+14155550124"


async def test_rate_limits_are_retried_and_a_refused_recipient_fails_at_once(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await customer_writes(switchboard, "+14155550125", "hello")
    conversation = await assigned(switchboard, agent)

    await switchboard.sandbox_fails(429, count=2)
    row = await reply_settles(switchboard, db, agent, conversation, "first", {"sent", "failed"})
    assert row["delivery_status"] == "sent"
    assert len(await switchboard.sandbox_requests()) == 3, "two 20429s, then one accepted send"

    await switchboard.reset_sandbox()
    await switchboard.sandbox_fails(400, count=5)  # 21211: the 'To' number is not valid
    row = await reply_settles(switchboard, db, agent, conversation, "second", {"sent", "failed"})
    assert row["delivery_status"] == "failed"
    assert (row["delivery_error"]["reason"], row["delivery_error"]["code"]) == ("rejected", "21211")
    assert len(await switchboard.sandbox_requests()) == 1, "a permanent refusal is not retried"


async def test_a_bad_signature_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    customer = "+14155550126"
    forged = twilio_text(TWILIO_NUMBER, customer, "SMforged0000000000000000000000000", "give me a refund")
    wrong_token = await post(switchboard, forged, token="not-the-auth-token")
    assert wrong_token.status_code == 401
    assert wrong_token.json()["error"] == "bad_signature"
    other_url = signed_twilio(forged, webhook_url(switchboard) + "?account=other", TWILIO_AUTH_TOKEN)
    assert (await switchboard.post_signed("twilio", other_url)).status_code == 401
    unsigned = signed(switchboard, forged)
    response = await switchboard.http.post(
        webhook_url(switchboard), content=unsigned.body, headers={"content-type": unsigned.headers["content-type"]}
    )
    assert response.status_code == 401

    genuine = await customer_writes(switchboard, customer, "hello")  # same partition, handled after any forgery
    await eventually(lambda: stored(db, genuine), what="the genuine message")
    assert await stored(db, "SMforged0000000000000000000000000") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_delivery_posted_twice_is_stored_once(switchboard: Switchboard, db: asyncpg.Connection):
    customer = "+14155550127"
    delivery = signed(switchboard, twilio_text(TWILIO_NUMBER, customer, "SMtwice00000000000000000000000000", "hi"))
    first = await switchboard.post_signed("twilio", delivery)
    again = await switchboard.post_signed("twilio", delivery)
    assert (first.status_code, again.status_code) == (200, 200)

    sentinel = await customer_writes(switchboard, customer, "still there?")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await stored(db, "SMtwice00000000000000000000000000") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_our_own_number_writing_is_not_stored_and_a_body_twilio_would_not_send_is_400(
    switchboard: Switchboard, db: asyncpg.Connection
):
    own = await post(switchboard, twilio_text(TWILIO_NUMBER, TWILIO_NUMBER, "SMown00000000000000000000000000000", "x"))
    assert own.status_code == 200
    assert own.text == EMPTY_TWIML
    no_sid = {k: v for k, v in twilio_text(TWILIO_NUMBER, "+14155550128", "SMx", "x").items() if "Sid" not in k}
    refused = await post(switchboard, no_sid)
    assert refused.status_code == 400
    assert refused.json()["error"] == "bad_payload"
    assert "MessageSid" in refused.json()["detail"]

    sentinel = await customer_writes(switchboard, "+14155550128", "hello")
    await eventually(lambda: stored(db, sentinel), what="the sentinel message")
    assert await db.fetchval("SELECT count(*) FROM messages") == 1
