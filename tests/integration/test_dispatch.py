"""Replies that meet a failing provider or a closed channel window: retried, or failed and dead-lettered."""

import time
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer

from dispatcher.store import mark_sent
from schemas.outbound import DeadLetter
from schemas.wire import decode
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import KAFKA, Stack

pytestmark = pytest.mark.integration


async def assigned_conversation(switchboard: Switchboard, wa_id: str, *, written_at: int | None = None):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes(wa_id, "hello", timestamp=written_at)
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    return agent, conversation


async def reply_and_wait(
    switchboard: Switchboard, db: asyncpg.Connection, agent, conversation, final: set[str], timeout_s: float = 20
):
    response = await switchboard.reply(agent, conversation["id"], "On it.")
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    async def settled():
        return await db.fetchrow(
            "SELECT delivery_status, delivery_error FROM messages WHERE id = $1 AND delivery_status = ANY($2)",
            message_id,
            list(final),
        )

    return message_id, await eventually(settled, timeout_s=timeout_s, what=f"the reply reaching {final}")


async def dead_letters(stack: Stack, message_id: str) -> list[DeadLetter]:
    return [letter for letter, _ in await dead_letter_records(stack, message_id)]


async def dead_letter_records(stack: Stack, message_id: str) -> list[tuple[DeadLetter, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        stack.topics.outbound_dead_letter,
        bootstrap_servers=KAFKA,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=3000)
        # The topic also carries records a consumer could not process (services/dead_lettering.py): only the
        # dispatcher's give-ups are DeadLetters.
        letters = [
            (decode(DeadLetter, r.value), dict(r.headers))
            for records in batch.values()
            for r in records
            if dict(r.headers).get("switchboard-error") == b"send_failed"
        ]
    finally:
        await consumer.stop()
    return [(letter, headers) for letter, headers in letters if str(letter.message.message_id) == message_id]


async def test_rate_limited_sends_are_retried_until_the_provider_accepts(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent, conversation = await assigned_conversation(switchboard, "972540000001")
    await switchboard.sandbox_fails(429, count=2)
    _, row = await reply_and_wait(switchboard, db, agent, conversation, {"sent", "failed"})
    assert row["delivery_status"] == "sent"
    requests = await switchboard.sandbox_requests()
    assert len(requests) == 3, "two refusals, then one accepted send"
    assert len({str(r["body"]) for r in requests}) == 1, "every try sends the same message"


async def test_a_provider_failing_until_the_reply_window_closes_fails_the_reply_and_dead_letters_it(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    # Retries go on for as long as WhatsApp's 24-hour window allows; this customer's closes in a few seconds.
    almost_a_day_ago = int(time.time()) - 24 * 3600 + 6
    agent, conversation = await assigned_conversation(switchboard, "972540000002", written_at=almost_a_day_ago)
    await switchboard.sandbox_fails(500, count=50)
    message_id, row = await reply_and_wait(switchboard, db, agent, conversation, {"sent", "failed"}, timeout_s=30)
    assert row["delivery_status"] == "failed"
    assert row["delivery_error"]["reason"] in ("retries_exhausted", "channel_rule")
    tries = len(await switchboard.sandbox_requests())
    assert tries >= 4  # SWITCHBOARD_MAX_ATTEMPTS quick attempts in the test stack, then scheduled ones
    [letter] = await eventually(lambda: dead_letters(stack, message_id), what="the dead letter")
    assert letter.reason == row["delivery_error"]["reason"]
    assert letter.attempts == tries
    await switchboard.reset_sandbox()


async def test_a_reply_outside_whatsapps_24_hour_window_is_refused_and_never_sent(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    two_days_ago = int(time.time()) - 2 * 24 * 3600
    agent, conversation = await assigned_conversation(switchboard, "972540000003", written_at=two_days_ago)
    message_id, row = await reply_and_wait(switchboard, db, agent, conversation, {"sent", "failed"})
    assert row["delivery_status"] == "failed"
    error: dict[str, Any] = row["delivery_error"]
    assert (error["reason"], error["code"]) == ("channel_rule", "outside_window")
    assert "template" in error["detail"]
    assert await switchboard.sandbox_requests() == []
    [(letter, headers)] = await eventually(lambda: dead_letter_records(stack, message_id), what="the dead letter")
    assert letter.reason == "channel_rule"
    assert letter.attempts == 0, "a send the channel's rule refused before calling WhatsApp is no attempt"
    assert headers["switchboard-error"] == b"send_failed"  # what the dead-letter keeper reads


async def test_one_conversations_replies_reach_the_provider_in_the_order_written(switchboard: Switchboard):
    agent, conversation = await assigned_conversation(switchboard, "972540000004")
    texts = [f"part {n} of 8" for n in range(8)]
    for text in texts:
        response = await switchboard.reply(agent, conversation["id"], text)
        assert response.status_code == 202, response.text

    async def all_sent():
        requests = await switchboard.sandbox_requests()
        return requests if len(requests) == len(texts) else None

    requests = await eventually(all_sent, what="all eight replies at the provider")
    assert [r["body"]["text"]["body"] for r in requests] == texts


async def test_a_provider_id_already_taken_records_the_send_without_it_instead_of_failing(
    switchboard: Switchboard, db: asyncpg.Connection
):
    # Providers' ids are unique per channel, but a provider that reuses one (Telegram numbers messages per
    # chat) must not wedge the dispatcher's partition: the reply was sent, and that is what is kept.
    agent, conversation = await assigned_conversation(switchboard, "972540000099")
    message_id, _ = await reply_and_wait(switchboard, db, agent, conversation, {"sent"})
    taken = await db.fetchval(
        "SELECT provider_message_id FROM messages WHERE conversation_id = $1 AND direction = 'inbound'",
        conversation["id"],
    )
    await db.execute("UPDATE messages SET delivery_status = 'sending' WHERE id = $1", message_id)

    assert await mark_sent(db, message_id, "whatsapp", taken) == "sent"

    assert await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1", message_id) == "sent"
