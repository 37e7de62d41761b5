"""Quick replies through the real stack: an admin creates `/price`, an agent types `/cost`, the customer
gets the prepared text, and the use is counted."""

from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio

from tests.integration.client import Switchboard, eventually

pytestmark = pytest.mark.integration

PRICE = {
    "shortcut": "/price",
    "synonyms": ["/cost"],
    "text": "Hi {customer_name}, plans start at 9 EUR a month. {agent_name}",
}


@pytest_asyncio.fixture
async def no_quick_replies(db: asyncpg.Connection) -> None:
    # The session's database is shared by every test; the db fixture empties only the tables it knows.
    await db.execute("TRUNCATE quick_replies")


async def create(
    switchboard: Switchboard, body: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    return await switchboard.http.post(
        f"{switchboard.router}/v1/quick-replies", json=body, headers=headers or switchboard.admin
    )


async def listed(switchboard: Switchboard, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await switchboard.http.get(f"{switchboard.router}/v1/quick-replies", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_an_agent_types_a_synonym_and_the_customer_gets_the_text(
    switchboard: Switchboard, db: asyncpg.Connection, no_quick_replies: None
):
    created = await create(switchboard, PRICE)
    assert created.status_code == 201, created.text
    quick_reply = created.json()
    assert (quick_reply["shortcut"], quick_reply["synonyms"], quick_reply["use_count"]) == ("/price", ["/cost"], 0)

    ana = await switchboard.online_agent("Ana")
    [seen] = await listed(switchboard, switchboard.as_agent(ana))  # agents read them too: they type them
    assert (seen["id"], seen["use_count"], seen["last_used_at"]) == (quick_reply["id"], 0, None)

    await switchboard.customer_writes("972580000001", "How much is it?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(ana), what="Ana's assignment")
    reply = await switchboard.reply(ana, conversation["id"], "/cost")
    assert reply.status_code == 202, reply.text

    expected = "Hi Test Customer, plans start at 9 EUR a month. Ana"
    [sent] = await eventually(switchboard.sandbox_requests, what="the reply at the sandbox")
    assert sent["body"]["text"]["body"] == expected
    history = (await switchboard.conversation(conversation["id"]))["messages"]
    assert [m["text"] for m in history if m["direction"] == "outbound"] == [expected]
    [used] = await listed(switchboard, switchboard.admin)
    assert used["use_count"] == 1
    assert used["last_used_at"] is not None

    # Send and resolve still works, with text after the shortcut kept as typed.
    closing = await switchboard.reply_and_resolve(ana, conversation["id"], "/price Anything else?")
    assert closing.status_code == 202, closing.text
    assert closing.json()["resolved"] is True
    requests = await eventually(lambda: _at_least(switchboard, 2), what="the second reply at the sandbox")
    assert requests[1]["body"]["text"]["body"] == expected + " Anything else?"
    assert (await listed(switchboard, switchboard.admin))[0]["use_count"] == 2
    assert await db.fetchval("SELECT status FROM conversations WHERE id = $1", conversation["id"]) == "resolved"


async def _at_least(switchboard: Switchboard, count: int) -> list[dict[str, Any]] | None:
    requests = await switchboard.sandbox_requests()
    return requests if len(requests) >= count else None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({**PRICE, "shortcut": "/Price"}, "lowercase letters"),
        ({**PRICE, "shortcut": "/p"}, "2 to 16"),
        ({**PRICE, "shortcut": "/abcdefghijklmnopq"}, "2 to 16"),
        ({**PRICE, "synonyms": ["/cost", "/cost"]}, "/cost is given twice"),
        ({**PRICE, "text": "Hi {custmer_name}"}, "unknown placeholder {custmer_name}"),
        ({**PRICE, "text": ""}, "at least 1 character"),
    ],
)
async def test_malformed_quick_replies_are_refused_with_the_reason(
    switchboard: Switchboard, no_quick_replies: None, body: dict[str, Any], reason: str
):
    refused = await create(switchboard, body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "invalid_request"
    assert reason in refused.text
    assert await listed(switchboard, switchboard.admin) == []


async def test_duplicate_and_confusable_names_are_refused_naming_the_existing_quick_reply(
    switchboard: Switchboard, no_quick_replies: None
):
    price = (await create(switchboard, PRICE)).json()
    for shortcut, synonyms in [("/prices", []), ("/pr1ce", []), ("/price_", []), ("/fee", ["/cost"]), ("/c0st", [])]:
        refused = await create(switchboard, {"shortcut": shortcut, "synonyms": synonyms, "text": "Other text"})
        assert refused.status_code == 409, (shortcut, refused.text)
        assert refused.json()["error"] == "conflict"
        assert price["id"] in refused.json()["detail"]
    assert [q["shortcut"] for q in await listed(switchboard, switchboard.admin)] == ["/price"]

    assert (await create(switchboard, {"shortcut": "/hours", "text": "Mon-Fri 9-18"})).status_code == 201


async def test_only_an_admin_creates_or_deletes_and_a_deleted_name_is_free_again(
    switchboard: Switchboard, no_quick_replies: None
):
    ana = await switchboard.create_agent("Ana")
    assert (await create(switchboard, PRICE, switchboard.as_agent(ana))).status_code == 403
    price = (await create(switchboard, PRICE)).json()
    url = f"{switchboard.router}/v1/quick-replies/{price['id']}"

    assert (await switchboard.http.delete(url, headers=switchboard.as_agent(ana))).status_code == 403
    assert (await switchboard.http.delete(url, headers=switchboard.admin)).status_code == 204
    assert (await switchboard.http.delete(url, headers=switchboard.admin)).status_code == 404
    assert (await switchboard.http.get(f"{switchboard.router}/v1/quick-replies")).status_code == 401
    assert (await create(switchboard, {**PRICE, "shortcut": "/prices"})).status_code == 201
