"""Email through the real stack: a Mailgun Route forward in, the agent's reply out by SMTP, its receipts back."""

import time

import asyncpg
import pytest

from sandbox.webhooks.mailgun import (
    mailgun_email,
    mailgun_event,
    signed_mailgun_event,
    signed_mailgun_form,
    signed_mailgun_multipart,
)
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import MAILGUN_SIGNING_KEY

pytestmark = pytest.mark.integration

MAILBOX = "support@switchboard.test"


async def stored(db: asyncpg.Connection, message_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE channel = 'mailgun' AND provider_message_id = $1", message_id
        )
    )


async def customer_emails(switchboard: Switchboard, sender: str, text: str, *, message_id: str, **headers: str):
    fields = mailgun_email(MAILBOX.upper(), sender, text, message_id=message_id, **headers)
    response = await switchboard.post_signed("mailgun", signed_mailgun_form(fields, MAILGUN_SIGNING_KEY))
    assert response.status_code == 200, response.text
    return response


async def reply_row(db: asyncpg.Connection, message_id: str, statuses: set[str]):
    async def settled():
        return await db.fetchrow(
            """SELECT provider_message_id, delivery_status, delivery_error FROM messages
                WHERE id = $1 AND delivery_status = ANY($2)""",
            message_id,
            list(statuses),
        )

    return await eventually(settled, timeout_s=20, what=f"the reply reaching {statuses}")


async def test_a_customers_email_reaches_an_agent_and_the_reply_leaves_by_smtp_in_the_thread(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await customer_emails(
        switchboard,
        "Bob@Customer.test",
        "Where is my order #42?",
        message_id="<q1@customer.test>",
        references="<q0@customer.test>",
    )
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    detail = await switchboard.conversation(conversation["id"], switchboard.as_agent(agent))
    assert detail["contact"]["identities"] == [{"channel": "mailgun", "external_id": "bob@customer.test"}]
    assert detail["contact"]["display_name"] == "Test Customer"
    [message] = detail["messages"]
    assert (message["provider_message_id"], message["text"]) == ("<q1@customer.test>", "Where is my order #42?")

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    reply_id = response.json()["id"]

    [mail] = await eventually(switchboard.sandbox_requests, what="the mail at the SMTP sink")
    assert mail["method"] == "SMTP"
    assert mail["envelope"] == {"mail_from": MAILBOX, "rcpt_tos": ["bob@customer.test"]}
    assert mail["body"] == {
        "from": f"Test support mailbox <{MAILBOX}>",
        "to": "bob@customer.test",
        "subject": "Re: Order 42",
        "message_id": f"<{reply_id}@switchboard.test>",
        "in_reply_to": "<q1@customer.test>",
        "references": "<q0@customer.test> <q1@customer.test>",
        "text": "It ships today.",
    }
    row = await reply_row(db, reply_id, {"sent"})
    assert row["provider_message_id"] == f"<{reply_id}@switchboard.test>"

    # Mailgun's events name the reply by its Message-ID (without angle brackets): delivered, then opened.
    for event in ("delivered", "opened"):
        signed = signed_mailgun_event(
            mailgun_event(event, row["provider_message_id"], "bob@customer.test", sender=MAILBOX), MAILGUN_SIGNING_KEY
        )
        assert (await switchboard.post_signed("mailgun", signed)).status_code == 200
    await reply_row(db, reply_id, {"read"})


async def test_a_forged_stale_or_replayed_forward_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    fields = mailgun_email(MAILBOX, "eve@customer.test", "refund me", message_id="<forged@customer.test>")
    for signed in (
        signed_mailgun_form(fields, "not-the-signing-key"),
        signed_mailgun_form(fields, MAILGUN_SIGNING_KEY, timestamp=int(time.time()) - 3600),
    ):
        response = await switchboard.post_signed("mailgun", signed)
        assert response.status_code == 401
        assert response.json()["error"] == "bad_signature"
    unsigned = await switchboard.http.post(f"{switchboard.ingest}/webhooks/mailgun", data=fields)
    assert unsigned.status_code == 401

    genuine = signed_mailgun_form(
        mailgun_email(MAILBOX, "eve@customer.test", "hello", message_id="<genuine@customer.test>"), MAILGUN_SIGNING_KEY
    )
    assert (await switchboard.post_signed("mailgun", genuine)).status_code == 200
    replayed = await switchboard.post_signed("mailgun", genuine)
    assert (replayed.status_code, replayed.json()["error"]) == (401, "bad_signature")
    assert "already used" in replayed.json()["detail"]

    await eventually(lambda: stored(db, "<genuine@customer.test>"), what="the genuine email")
    assert await stored(db, "<forged@customer.test>") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_email_delivered_twice_is_stored_once(switchboard: Switchboard, db: asyncpg.Connection):
    # Mailgun signs each attempt afresh, so a redelivery is a new signature over the same email.
    first = await customer_emails(switchboard, "carl@customer.test", "hi", message_id="<twice@customer.test>")
    again = await customer_emails(switchboard, "carl@customer.test", "hi", message_id="<twice@customer.test>")
    assert first.json() == again.json() == {"accepted": 1}
    await customer_emails(switchboard, "carl@customer.test", "still there?", message_id="<sentinel@customer.test>")
    await eventually(lambda: stored(db, "<sentinel@customer.test>"), what="the sentinel email")
    assert await stored(db, "<twice@customer.test>") == 1
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_our_own_mail_coming_back_is_not_stored_and_attachments_are(
    switchboard: Switchboard, db: asyncpg.Connection
):
    echo = mailgun_email(MAILBOX, MAILBOX, "It ships today.", message_id="<echo@switchboard.test>")
    response = await switchboard.post_signed("mailgun", signed_mailgun_form(echo, MAILGUN_SIGNING_KEY))
    assert (response.status_code, response.json()) == (200, {"accepted": 0})

    fields = mailgun_email(MAILBOX, "dana@customer.test", "photo attached", message_id="<photo@customer.test>")
    signed = signed_mailgun_multipart(fields, [("broken.jpg", "image/jpeg", b"\xff\xd8\xff")], MAILGUN_SIGNING_KEY)
    assert (await switchboard.post_signed("mailgun", signed)).status_code == 200
    await eventually(lambda: stored(db, "<photo@customer.test>"), what="the email with a photo")
    attachments = await db.fetchval(
        "SELECT attachments FROM messages WHERE provider_message_id = '<photo@customer.test>'"
    )
    assert [(a["kind"], a["filename"], a["mime_type"], a.get("url")) for a in attachments] == [
        ("image", "broken.jpg", "image/jpeg", None)  # described, and no bytes kept
    ]
    assert await stored(db, "<echo@switchboard.test>") == 0


async def test_a_transient_smtp_refusal_is_retried_and_a_permanent_one_fails_the_reply(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await customer_emails(switchboard, "erin@customer.test", "hello", message_id="<q@customer.test>")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    await switchboard.sandbox_fails(429, count=1)  # the sink answers 451: try again later
    first = await switchboard.reply(agent, conversation["id"], "One moment.")
    await reply_row(db, first.json()["id"], {"sent"})
    assert len(await switchboard.sandbox_requests()) == 2

    await switchboard.sandbox_fails(400, count=1)  # the sink answers 550: no such mailbox
    second = await switchboard.reply(agent, conversation["id"], "Still there?")
    row = await reply_row(db, second.json()["id"], {"sent", "failed"})
    assert row["delivery_status"] == "failed"
    assert (row["delivery_error"]["reason"], row["delivery_error"]["code"]) == ("rejected", "550")
    assert len(await switchboard.sandbox_requests()) == 3
