"""Our own PostgreSQL outage, seen by one router process through a proxy we cut: every /v1 call answers a
503 JSON error (never a 500), the same calls succeed once the link is back without restarting anything, and
agents whose heartbeats were refused meanwhile are not timed out for it."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
import pytest_asyncio

from loadtests.ports import free_port
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import ADMIN_TOKEN, Stack
from tests.integration.services import ServiceProcess
from tests.integration.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
HEARTBEAT_TIMEOUT_S = 3


class RouterBehindProxy:
    def __init__(self, process: ServiceProcess, proxy: TcpProxy) -> None:
        self.process = process
        self.proxy = proxy
        self.url = process.url


@pytest_asyncio.fixture
async def isolated_router(stack: Stack) -> AsyncIterator[RouterBehindProxy]:
    """One extra router process (both roles) whose only way to PostgreSQL is a proxy the test can cut."""
    dsn = urlsplit(stack.dsn)
    proxy = TcpProxy(dsn.hostname or "127.0.0.1", dsn.port or 5432)
    await proxy.start()
    proxied = urlunsplit(dsn._replace(netloc=f"{dsn.username}:{dsn.password}@127.0.0.1:{proxy.port}"))
    port = free_port()
    env = {
        **stack.env,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_DATABASE_URL": proxied,
        "SWITCHBOARD_HEARTBEAT_TIMEOUT_S": str(HEARTBEAT_TIMEOUT_S),
        "SWITCHBOARD_QUEUE_SWEEP_INTERVAL_S": "0.2",
        "SWITCHBOARD_TOKEN_CACHE_TTL_S": "0",  # every agent call reads the database: the outage shows
    }
    process = ServiceProcess("router", port, env, name="router-behind-proxy")
    process.start()
    try:
        await asyncio.to_thread(process.wait_ready)  # in a thread: the proxy runs on this loop
        yield RouterBehindProxy(process, proxy)
    finally:
        if not proxy.listening:
            await proxy.restore()  # a graceful stop needs its database
        await asyncio.to_thread(process.stop)
        await proxy.stop()


def every_kind_of_call(ids: dict[str, str], agent_token: str) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, path, headers, json body) for every /v1 endpoint, as an admin or the agent."""
    agent = {"authorization": f"Bearer {agent_token}"}
    a, c, k = ids["agent"], ids["conversation"], ids["contact"]
    return [
        ("GET", "/v1/agents", ADMIN, None),
        ("POST", "/v1/agents", ADMIN, {"name": "Outage Olga"}),
        ("GET", "/v1/accounts", ADMIN, None),
        ("GET", f"/v1/agents/{a}", agent, None),
        ("PUT", f"/v1/agents/{a}/presence", agent, {"status": "online"}),
        ("POST", f"/v1/agents/{a}/heartbeat", agent, None),
        ("GET", f"/v1/agents/{a}/conversations", agent, None),
        ("GET", f"/v1/agents/{a}/events?probe=1", ADMIN, None),
        ("GET", "/v1/conversations?status=assigned", ADMIN, None),
        ("GET", f"/v1/conversations/{c}", ADMIN, None),
        ("POST", f"/v1/conversations/{c}/notes", ADMIN, {"text": "a note"}),
        ("GET", f"/v1/contacts/{k}", ADMIN, None),
        ("GET", f"/v1/contacts?channel=whatsapp&external_id={ids['wa_id']}", ADMIN, None),
        ("PUT", f"/v1/contacts/{k}/attributes", ADMIN, {"plan": "gold"}),
        ("POST", "/v1/crm/contacts", ADMIN, {"channel": "whatsapp", "external_id": "972559990001", "attributes": {}}),
        ("POST", f"/v1/contacts/{k}/identities", ADMIN, {"channel": "telegram", "external_id": "5550001"}),
        ("POST", f"/v1/contacts/{k}/merge", ADMIN, {"from_contact_id": str(uuid.uuid4())}),
        ("GET", "/v1/automation", ADMIN, None),
        ("PUT", "/v1/automation", ADMIN, {"enabled": False, "account": "outage-test"}),
        ("GET", "/v1/intents", ADMIN, None),
        ("POST", "/v1/intents", ADMIN, {"intent": "outage_probe", "keywords": ["zzz-outage"], "account": "none"}),
        ("DELETE", f"/v1/intents/{uuid.uuid4()}", ADMIN, None),
        ("PUT", "/v1/schedules/outage-test", ADMIN, {"schedule": {"time_zone": "UTC", "weekly": {}}}),
        ("GET", "/v1/schedules", ADMIN, None),
        ("DELETE", "/v1/schedules/outage-test", ADMIN, None),
        ("GET", "/v1/quick-replies", agent, None),
        ("POST", "/v1/quick-replies", ADMIN, {"shortcut": f"/o{uuid.uuid4().hex[:8]}", "text": "hello"}),
        ("DELETE", f"/v1/quick-replies/{uuid.uuid4()}", ADMIN, None),
        ("POST", f"/v1/conversations/{c}/transfer", ADMIN, {"to": "queue"}),
        ("POST", f"/v1/conversations/{c}/resolve", ADMIN, None),
        ("POST", f"/v1/agents/{a}/token", ADMIN, None),
    ]


async def call(http: httpx.AsyncClient, base: str, method: str, path: str, headers: dict[str, str], body: Any):
    if path.startswith("/v1/agents/") and path.endswith("/events?probe=1"):
        async with http.stream(method, base + path, headers=headers) as response:
            return (
                response.status_code,
                response.headers,
                (await response.aread()) if response.status_code != 200 else b"{}",
            )
    response = await http.request(method, base + path, headers=headers, json=body)
    return response.status_code, response.headers, response.content


async def test_a_database_outage_is_a_503_on_every_call_and_the_same_calls_work_once_it_is_back(
    switchboard: Switchboard, isolated_router: RouterBehindProxy, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972551230001", "hello")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    ids = {
        "agent": agent["id"],
        "conversation": conversation["id"],
        "contact": conversation["contact_id"],
        "wa_id": "972551230001",
    }
    calls = every_kind_of_call(ids, agent["token"])
    base = isolated_router.url
    async with httpx.AsyncClient(timeout=15) as http:
        await isolated_router.proxy.cut()
        for method, path, headers, body in calls:
            status, response_headers, content = await call(http, base, method, path, headers, body)
            assert status == 503, (method, path, status, content)
            error = httpx.Response(status, content=content).json()
            assert error["error"] == "database_unavailable", (method, path, error)
            assert "detail" in error
            assert int(response_headers["retry-after"]) > 0

        await isolated_router.proxy.restore()
        for method, path, headers, body in calls:
            status, _, content = await call(http, base, method, path, headers, body)
            assert status < 500, (method, path, status, content)
        # The reads answer as they did before the outage, from the same process.
        for path in ("/v1/agents", f"/v1/conversations/{ids['conversation']}", f"/v1/contacts/{ids['contact']}"):
            assert (await http.get(base + path, headers=ADMIN)).status_code == 200, path
    assert isolated_router.process.process is not None
    assert isolated_router.process.process.poll() is None  # never restarted


async def test_agents_are_not_timed_out_for_heartbeats_our_outage_refused(
    switchboard: Switchboard, isolated_router: RouterBehindProxy, db: asyncpg.Connection
):
    base = isolated_router.url
    agents = [await switchboard.online_agent(name) for name in ("Ana", "Bo", "Cy")]
    control = await switchboard.online_agent("Silent Sam")
    async with httpx.AsyncClient(timeout=15) as http:
        for agent in agents:
            answer = await http.post(f"{base}/v1/agents/{agent['id']}/heartbeat", headers=switchboard.as_agent(agent))
            assert answer.status_code == 204
        await isolated_router.proxy.cut()
        # Longer than the heartbeat timeout: every heartbeat meanwhile is refused.
        outage_ends = asyncio.get_running_loop().time() + 2 * HEARTBEAT_TIMEOUT_S
        while asyncio.get_running_loop().time() < outage_ends:
            for agent in agents:
                answer = await http.post(
                    f"{base}/v1/agents/{agent['id']}/heartbeat", headers=switchboard.as_agent(agent)
                )
                assert answer.status_code == 503
            await asyncio.sleep(0.5)
        # An agent who really was silent long before the outage still times out: it proves the isolated
        # router's sweep ran after the outage (the shared router's 60 s timeout does not catch it).
        await db.execute("UPDATE agents SET last_seen_at = now() - interval '30 seconds' WHERE id = $1", control["id"])
        await isolated_router.proxy.restore()

    async def control_timed_out() -> bool:
        view = await switchboard.agent(control)
        return bool(view["offline_reason"] == "heartbeat_timeout")

    await eventually(control_timed_out, what="the sweep to time out the agent silent since before the outage")
    for agent in agents:
        view = await switchboard.agent(agent)
        assert (view["status"], view["offline_reason"]) == ("online", None), view
