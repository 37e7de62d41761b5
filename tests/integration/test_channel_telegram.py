"""Telegram through the real stack: updates with the secret token in, sendMessage out at the sandbox."""

import itertools
import re
import time
from typing import Any

import asyncpg
import pytest

from sandbox.webhooks.telegram import signed_telegram, telegram_text, telegram_update
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import TELEGRAM_SECRET_TOKEN

pytestmark = pytest.mark.integration

BOT = "7000000001"
SEND_PATH = "/bot7000000001:test-telegram-bot-token/sendMessage"
_message_ids = itertools.count(int(time.time()) % 10**6)


async def customer_writes(switchboard: Switchboard, user: int, text: str, secret: str = TELEGRAM_SECRET_TOKEN):
    """Post one Update carrying a text message; returns the Update."""
    update = telegram_text(user, next(_message_ids), text, first_name="Jo", last_name="Doe")
    response = await switchboard.post_signed("telegram", signed_telegram(update, secret))
    assert response.status_code == 200, response.text
    return update


def message_id(update: dict[str, Any]) -> str:
    message = update["message"]
    return f"{message['chat']['id']}:{message['message_id']}"


async def stored(db: asyncpg.Connection, provider_message_id: str) -> int:
    return int(
        await db.fetchval(
            "SELECT count(*) FROM messages WHERE channel = 'telegram' AND provider_message_id = $1", provider_message_id
        )
    )


async def assigned(switchboard: Switchboard, user: int):
    agent = await switchboard.online_agent("Ana")
    update = await customer_writes(switchboard, user, "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    return agent, conversation, update


async def settled(db: asyncpg.Connection, reply_id: str):
    async def row():
        return await db.fetchrow(
            """SELECT m.provider_message_id, m.delivery_status, m.delivery_error, a.external_id AS account
                 FROM messages m JOIN accounts a ON a.id = m.account_id
                WHERE m.id = $1 AND m.delivery_status IN ('sent', 'failed')""",
            reply_id,
        )

    return await eventually(row, timeout_s=20, what="the reply settled")


async def test_an_agents_reply_reaches_the_chat_through_send_message(switchboard: Switchboard, db: asyncpg.Connection):
    user = 5100000001
    agent, conversation, update = await assigned(switchboard, user)
    detail = await switchboard.conversation(conversation["id"], switchboard.as_agent(agent))
    assert detail["contact"]["identities"] == [{"channel": "telegram", "external_id": str(user)}]
    assert detail["contact"]["display_name"] == "Jo Doe"
    assert [(m["provider_message_id"], m["text"]) for m in detail["messages"]] == [
        (message_id(update), "Where is my order #42?")
    ]

    response = await switchboard.reply(agent, conversation["id"], "It ships today.")
    assert response.status_code == 202, response.text
    [request] = await eventually(switchboard.sandbox_requests, what="the send at the sandbox")
    assert (request["method"], request["path"]) == ("POST", SEND_PATH)
    assert request["headers"]["content-type"] == "application/json"
    assert request["body"] == {"chat_id": user, "text": "It ships today."}

    row = await settled(db, response.json()["id"])
    assert row["delivery_status"] == "sent"
    assert re.fullmatch(rf"{user}:\d+", row["provider_message_id"])
    assert row["account"] == BOT


async def test_a_wrong_or_missing_secret_token_is_refused_with_401_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = 5100000002
    forged = telegram_text(user, 1, "refund me")
    response = await switchboard.post_signed("telegram", signed_telegram(forged, "not-the-secret-token"))
    assert (response.status_code, response.json()["error"]) == (401, "bad_signature")
    response = await switchboard.http.post(
        f"{switchboard.ingest}/webhooks/telegram",
        content=signed_telegram(forged, TELEGRAM_SECRET_TOKEN).body,
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 401

    genuine = await customer_writes(switchboard, user, "hello")  # same partition, handled after the forgeries
    await eventually(lambda: stored(db, message_id(genuine)), what="the genuine message")
    assert await stored(db, f"{user}:1") == 0
    assert await db.fetchval("SELECT count(*) FROM messages") == 1


async def test_the_same_update_posted_twice_is_stored_once_and_an_edit_is_kept_beside_it(
    switchboard: Switchboard, db: asyncpg.Connection
):
    user = 5100000003
    update = telegram_text(user, 77, "my order is #41", date=1763880000)
    for _ in range(2):
        response = await switchboard.post_signed("telegram", signed_telegram(update, TELEGRAM_SECRET_TOKEN))
        assert response.status_code == 200, response.text
    edit = {**update["message"], "text": "my order is #42", "edit_date": 1763880030}
    response = await switchboard.post_signed(
        "telegram", signed_telegram(telegram_update(edit, kind="edited_message"), TELEGRAM_SECRET_TOKEN)
    )
    assert response.status_code == 200, response.text

    sentinel = await customer_writes(switchboard, user, "still there?")
    await eventually(lambda: stored(db, message_id(sentinel)), what="the sentinel message")
    assert await stored(db, f"{user}:77") == 1
    rows = await db.fetch(
        "SELECT provider_message_id, text, reply_to_provider_message_id FROM messages ORDER BY received_at, id"
    )
    assert [tuple(r) for r in rows[:2]] == [
        (f"{user}:77", "my order is #41", None),
        (f"{user}:77:edited:1763880030", "my order is #42", f"{user}:77"),
    ]
    assert await db.fetchval("SELECT count(*) FROM conversations") == 1


async def test_a_user_who_blocked_the_bot_fails_the_reply_without_retrying(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent, conversation, _ = await assigned(switchboard, 5100000004)
    await switchboard.sandbox_fails(403, count=5)
    response = await switchboard.reply(agent, conversation["id"], "Hello?")
    row = await settled(db, response.json()["id"])
    assert row["delivery_status"] == "failed"
    assert row["delivery_error"]["reason"] == "rejected"
    assert "blocked by the user" in row["delivery_error"]["detail"]
    assert len(await switchboard.sandbox_requests()) == 1


async def test_rate_limited_sends_are_retried_until_telegram_accepts(switchboard: Switchboard, db: asyncpg.Connection):
    agent, conversation, _ = await assigned(switchboard, 5100000005)
    await switchboard.sandbox_fails(429, count=2)
    response = await switchboard.reply(agent, conversation["id"], "On it.")
    row = await settled(db, response.json()["id"])
    assert row["delivery_status"] == "sent"
    requests = await switchboard.sandbox_requests()
    assert [r["path"] for r in requests] == [SEND_PATH] * 3
    assert all(r["body"] == {"chat_id": 5100000005, "text": "On it."} for r in requests)
