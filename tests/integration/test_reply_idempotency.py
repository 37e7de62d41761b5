"""`Idempotency-Key` on an agent's reply, through the real stack: the same key answers the same reply and
sends nothing twice, even when the two requests race; the key's reuse for another request is refused."""

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest

from tests.integration.client import Switchboard, eventually

pytestmark = pytest.mark.integration


async def assigned_conversation(switchboard: Switchboard, customer: str) -> tuple[dict[str, Any], str]:
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes(customer, "Where is my order #42?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    return agent, conversation["id"]


async def post_reply(
    switchboard: Switchboard, agent: dict[str, Any], conversation_id: str, body: dict[str, Any], key: str
) -> httpx.Response:
    return await switchboard.http.post(
        f"{switchboard.router}/v1/conversations/{conversation_id}/messages",
        json=body,
        headers={**switchboard.as_agent(agent), "Idempotency-Key": key},
    )


async def sends_of(switchboard: Switchboard, text: str) -> int:
    return sum(r["body"].get("text", {}).get("body") == text for r in await switchboard.sandbox_requests())


async def replies_stored(db: asyncpg.Connection) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages WHERE direction = 'outbound'"))


async def sent(db: asyncpg.Connection, message_id: str) -> bool:
    return bool(await db.fetchval("SELECT delivery_status FROM messages WHERE id = $1::uuid", message_id) == "sent")


async def test_the_same_key_twice_answers_the_same_reply_and_sends_it_once(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880001")
    body = {"text": "It ships today.", "resolve": True}

    first = await post_reply(switchboard, agent, conversation_id, body, "reply-1")
    await eventually(lambda: sent(db, first.json()["id"]), what="the first reply sent")
    again = await post_reply(switchboard, agent, conversation_id, body, "reply-1")

    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json() == first.json()
    assert first.json()["resolved"] is True, "a retry answers `resolved` as the first call did"
    assert await replies_stored(db) == 1
    assert await db.fetchval("SELECT pending FROM agents WHERE id = $1::uuid", agent["id"]) == 0, "freed once"
    assert await db.fetchval("SELECT status FROM conversations WHERE id = $1::uuid", conversation_id) == "resolved"
    await eventually(lambda: outbox_empty(db), what="nothing left to publish")
    assert await sends_of(switchboard, "It ships today.") == 1


async def outbox_empty(db: asyncpg.Connection) -> bool:
    return bool(await db.fetchval("SELECT count(*) FROM outbox") == 0)


async def test_the_same_key_with_another_body_or_conversation_is_refused(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880002")
    first = await post_reply(switchboard, agent, conversation_id, {"text": "It ships today."}, "reply-2")
    assert first.status_code == 202, first.text

    other_body = await post_reply(switchboard, agent, conversation_id, {"text": "It ships tomorrow."}, "reply-2")
    other_conversation = await post_reply(
        switchboard, agent, "00000000-0000-0000-0000-000000000001", {"text": "It ships today."}, "reply-2"
    )

    for refused in (other_body, other_conversation):
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"] == "idempotency_key_reused"
        assert "detail" in refused.json()
    assert await replies_stored(db) == 1


async def test_the_key_belongs_to_its_agent(switchboard: Switchboard, db: asyncpg.Connection):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880003")
    other = await switchboard.online_agent("Bo")
    await switchboard.customer_writes("972508880004", "Hello")
    [theirs] = await eventually(lambda: switchboard.agent_conversations(other), what="Bo's conversation")

    mine = await post_reply(switchboard, agent, conversation_id, {"text": "Hi"}, "shared-key")
    also_mine = await post_reply(switchboard, other, theirs["id"], {"text": "Hi"}, "shared-key")

    assert (mine.status_code, also_mine.status_code) == (202, 202), also_mine.text
    assert mine.json()["id"] != also_mine.json()["id"]
    assert await replies_stored(db) == 2


async def test_two_concurrent_requests_with_one_key_store_one_reply(switchboard: Switchboard, db: asyncpg.Connection):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880005")
    body = {"text": "Only once, please."}

    answers = await asyncio.gather(
        *(post_reply(switchboard, agent, conversation_id, body, "racing-key") for _ in range(8))
    )

    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await replies_stored(db) == 1
    await eventually(lambda: sent(db, answers[0].json()["id"]), what="the reply sent")
    await eventually(lambda: outbox_empty(db), what="nothing left to publish")
    assert await sends_of(switchboard, "Only once, please.") == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\tkey"])
async def test_a_malformed_key_is_refused_and_nothing_is_stored(
    switchboard: Switchboard, db: asyncpg.Connection, key: str
):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880006")

    answer = await switchboard.http.post(
        f"{switchboard.router}/v1/conversations/{conversation_id}/messages",
        json={"text": "Hi"},
        headers=[
            *((name.encode(), value.encode()) for name, value in switchboard.as_agent(agent).items()),
            (b"Idempotency-Key", key.encode("latin-1")),
        ],
    )

    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_idempotency_key"
    assert await replies_stored(db) == 0


async def test_a_refused_reply_does_not_use_up_its_key(switchboard: Switchboard, db: asyncpg.Connection):
    agent, conversation_id = await assigned_conversation(switchboard, "972508880007")
    await switchboard.resolve(agent, conversation_id)
    refused = await post_reply(switchboard, agent, conversation_id, {"text": "Hi"}, "reply-3")
    assert refused.status_code == 409, refused.text

    await switchboard.customer_writes("972508880007", "Still there?")
    [reopened] = await eventually(lambda: switchboard.agent_conversations(agent), what="the new conversation")
    accepted = await post_reply(switchboard, agent, reopened["id"], {"text": "Hi"}, "reply-3")

    assert accepted.status_code == 202, accepted.text
    assert await replies_stored(db) == 1
