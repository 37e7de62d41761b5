"""Hostile input on the agent/admin API: bodies over the limit, malformed JSON, out-of-range numbers, odd
strings, NaN attributes, unsafe patterns and templates each get a 4xx JSON error and store nothing; unknown
paths are JSON 404/405; agent tokens can be replaced and revoked on every router process."""

from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from tests.integration.client import Switchboard, eventually
from tests.integration.services import ServiceProcess

pytestmark = pytest.mark.integration

LIMIT = 64 * 1024


def assert_json_error(response, status: int | None = None) -> dict[str, Any]:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "detail"}, body
    return body


async def test_a_body_over_the_limit_is_refused_before_authentication(switchboard: Switchboard):
    url = f"{switchboard.router}/v1/agents"
    big = b'{"name": "' + b"x" * LIMIT + b'"}'
    for headers in ({}, switchboard.admin):
        declared = await switchboard.http.post(
            url, content=big, headers={**headers, "content-type": "application/json"}
        )
        assert assert_json_error(declared, 413)["error"] == "payload_too_large"

    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(200):
            yield b"x" * 1024

    streamed = await switchboard.http.post(url, content=chunked(), headers={"content-type": "application/json"})
    assert assert_json_error(streamed, 413)["error"] == "payload_too_large"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"name": ', "application/json"),
        (b"not json", "application/json"),
        (b'{"name": "Ana"}', "text/plain"),
        (b"name=Ana", "application/x-www-form-urlencoded"),
        (b"[]", "application/json"),
        (b'{"name": "\\ud800"}', "application/json"),
        (b'{"name": NaN}', "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_malformed_bodies_are_a_4xx_json_error(
    switchboard: Switchboard, db: asyncpg.Connection, content, content_type
):
    response = await switchboard.http.post(
        f"{switchboard.router}/v1/agents", content=content, headers={**switchboard.admin, "content-type": content_type}
    )
    assert_json_error(response)
    assert await db.fetchval("SELECT count(*) FROM agents") == 0


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Ana", "max_pending": 10**30},
        {"name": "Ana", "max_pending": -1},
        {"name": "a\u0000b"},
        {"name": "x" * 10_000},
        {"name": "Ana", "skills": ["s" * 10_000]},
        {"name": "Ana", "skills": ["bil\u0000ling"]},
        {"name": "Ana", "languages": ["x" * 500]},
        {"name": "Ana", "skills": [f"s{n}" for n in range(1000)]},
    ],
)
async def test_out_of_range_numbers_and_odd_strings_on_agents_are_422(
    switchboard: Switchboard, db: asyncpg.Connection, body
):
    response = await switchboard.http.post(f"{switchboard.router}/v1/agents", json=body, headers=switchboard.admin)
    assert assert_json_error(response, 422)["error"] == "invalid_request"
    assert await db.fetchval("SELECT count(*) FROM agents") == 0


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/intents", {"intent": "refund", "keywords": ["x"], "position": 10**30}),
        ("POST", "/v1/intents", {"intent": "refund", "keywords": ["x"], "position": 2**31}),
        ("POST", "/v1/intents", {"intent": "refund", "keywords": ["k\u0000"]}),
        ("PUT", "/v1/schedules/site-test", {"schedule": {"time_zone": "UTC", "weekly": {}}, "min_interval_s": 10**30}),
        ("PUT", "/v1/schedules/site-test", {"schedule": {"time_zone": "UTC", "weekly": {}}, "greeting": "a\u0000"}),
        ("PUT", "/v1/automation", {"enabled": False, "account": "a\u0000"}),
        ("POST", "/v1/crm/contacts", {"channel": "whatsapp", "external_id": "x" * 10_000, "attributes": {}}),
        ("POST", "/v1/crm/contacts", {"channel": "whatsapp", "external_id": "97255\u0000", "attributes": {}}),
        ("POST", "/v1/quick-replies", {"shortcut": "/price", "text": "a\u0000b"}),
    ],
)
async def test_out_of_range_numbers_and_odd_strings_on_admin_calls_are_422(
    switchboard: Switchboard, db: asyncpg.Connection, method, path, body
):
    response = await switchboard.http.request(
        method, f"{switchboard.router}{path}", json=body, headers=switchboard.admin
    )
    assert assert_json_error(response, 422)["error"] == "invalid_request"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/conversations?channel=a%00b",
        "/v1/conversations?external_id=%00",
        "/v1/conversations?status=" + "x" * 5000,
        "/v1/contacts?channel=whatsapp&external_id=a%00",
        "/v1/contacts?channel=whatsapp&external_id=" + "9" * 5000,
        "/v1/schedules/a%00b",
    ],
)
async def test_odd_query_and_path_values_are_a_4xx(switchboard: Switchboard, path):
    method = "DELETE" if path.startswith("/v1/schedules") else "GET"
    assert_json_error(await switchboard.http.request(method, f"{switchboard.router}{path}", headers=switchboard.admin))


async def test_a_nan_crm_attribute_is_refused_and_the_contact_keeps_answering(
    switchboard: Switchboard, db: asyncpg.Connection
):
    crm = f"{switchboard.router}/v1/crm/contacts"
    record = {"channel": "whatsapp", "external_id": "972551112222", "attributes": {"monthly_spend": 1200}}
    created = await switchboard.http.post(crm, json=record, headers=switchboard.admin)
    assert created.status_code == 200, created.text
    contact_id = created.json()["id"]
    for attributes in ({"monthly_spend": "NaN"}, {"returns_90d": "Infinity"}, {"monthly_spend": "-inf"}):
        refused = await switchboard.http.post(crm, json={**record, "attributes": attributes}, headers=switchboard.admin)
        assert assert_json_error(refused, 422)["error"] == "invalid_request"
        put = await switchboard.http.put(
            f"{switchboard.router}/v1/contacts/{contact_id}/attributes", json=attributes, headers=switchboard.admin
        )
        assert_json_error(put, 422)
    contact = await switchboard.http.get(f"{switchboard.router}/v1/contacts/{contact_id}", headers=switchboard.admin)
    assert contact.status_code == 200
    assert contact.json()["attributes"]["monthly_spend"] == 1200
    # One stored before the API refused it no longer breaks the contact either.
    await db.execute("""UPDATE contacts SET attributes = '{"monthly_spend": "NaN"}' WHERE id = $1""", contact_id)
    contact = await switchboard.http.get(f"{switchboard.router}/v1/contacts/{contact_id}", headers=switchboard.admin)
    assert contact.status_code == 200
    assert contact.json()["priority"] == 0


async def test_unknown_paths_and_methods_under_v1_are_json_404_and_405(switchboard: Switchboard):
    missing = await switchboard.http.get(f"{switchboard.router}/v1/no-such-thing", headers=switchboard.admin)
    assert assert_json_error(missing, 404)["error"] == "not_found"
    wrong = await switchboard.http.patch(f"{switchboard.router}/v1/agents", headers=switchboard.admin)
    assert assert_json_error(wrong, 405)["error"] == "method_not_allowed"


async def test_patterns_re2_cannot_run_in_linear_time_are_refused_naming_the_pattern(
    switchboard: Switchboard, db: asyncpg.Connection
):
    for pattern in (r"(a+)\1", r"(?<=#)\d+"):
        response = await switchboard.http.post(
            f"{switchboard.router}/v1/intents",
            json={"intent": "returns", "patterns": [pattern]},
            headers=switchboard.admin,
        )
        detail = assert_json_error(response, 422)["detail"]
        assert any(pattern in error["msg"] for error in detail), detail
    assert await db.fetchval("SELECT count(*) FROM intent_rules WHERE intent = 'returns'") == 0


@pytest.mark.parametrize(
    "reply",
    ["Hi {name}", "Order {order_id.__class__.__init__}", "Item {order_id[0]}", "Unbalanced {", "Wide {eta:>99999999}"],
)
async def test_bot_templates_that_cannot_render_safely_are_refused(
    switchboard: Switchboard, db: asyncpg.Connection, reply
):
    response = await switchboard.http.post(
        f"{switchboard.router}/v1/intents",
        json={"intent": "returns", "keywords": ["rma"], "reply": reply},
        headers=switchboard.admin,
    )
    assert assert_json_error(response, 422)["error"] == "invalid_request"
    assert await db.fetchval("SELECT count(*) FROM intent_rules WHERE intent = 'returns'") == 0


async def test_an_agent_token_can_be_replaced_and_revoked(switchboard: Switchboard):
    agent = await switchboard.create_agent("Ana")
    me = f"{switchboard.router}/v1/agents/{agent['id']}"
    assert (await switchboard.http.get(me, headers=switchboard.as_agent(agent))).status_code == 200

    replaced = await switchboard.http.post(f"{me}/token", headers=switchboard.admin)
    assert replaced.status_code == 200, replaced.text
    renewed = replaced.json()
    assert renewed["id"] == agent["id"]
    assert renewed["token"] != agent["token"]
    assert assert_json_error(await switchboard.http.get(me, headers=switchboard.as_agent(agent)), 401)
    assert (await switchboard.http.get(me, headers=switchboard.as_agent(renewed))).status_code == 200

    revoked = await switchboard.http.delete(f"{me}/token", headers=switchboard.admin)
    assert revoked.status_code == 204
    assert assert_json_error(await switchboard.http.get(me, headers=switchboard.as_agent(renewed)), 401)
    # Only an admin replaces or revokes, and not for an agent that does not exist.
    assert (await switchboard.http.post(f"{me}/token", headers=switchboard.as_agent(renewed))).status_code == 401
    unknown = f"{switchboard.router}/v1/agents/00000000-0000-0000-0000-000000000000/token"
    assert assert_json_error(await switchboard.http.delete(unknown, headers=switchboard.admin), 404)


async def test_a_revoked_token_stops_working_on_another_router_within_the_cache_ttl(
    switchboard: Switchboard, second_router: ServiceProcess
):
    agent = await switchboard.create_agent("Ana")
    elsewhere = f"{second_router.url}/v1/agents/{agent['id']}"
    # The other process has looked the token up and cached it.
    assert (await switchboard.http.get(elsewhere, headers=switchboard.as_agent(agent))).status_code == 200
    revoked = await switchboard.http.delete(
        f"{switchboard.router}/v1/agents/{agent['id']}/token", headers=switchboard.admin
    )
    assert revoked.status_code == 204

    async def refused() -> bool:
        return (await switchboard.http.get(elsewhere, headers=switchboard.as_agent(agent))).status_code == 401

    # SWITCHBOARD_TOKEN_CACHE_TTL_S defaults to 5 s: the documented bound.
    await eventually(refused, timeout_s=8, what="the other router to refuse the revoked token")
