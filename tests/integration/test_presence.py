"""Heartbeats and the presence timeout: a silent agent goes offline, keeps their conversations for a grace
period, and after it they go to agents who are there. A router with short timeouts runs the sweep here."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from loadtests.ports import free_port
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import Stack
from tests.integration.services import ServiceProcess
from tests.integration.test_assignment import cap_watch

pytestmark = pytest.mark.integration

TIMEOUT_S = 2.0
GRACE_S = 2.0
BEAT_EVERY_S = 0.25  # eight heartbeats to a timeout: a slow test machine does not time out a live agent


@pytest_asyncio.fixture(scope="module")
async def quick_router(stack: Stack) -> AsyncIterator[ServiceProcess]:
    """A second router whose sweep times agents out after TIMEOUT_S and releases after GRACE_S."""
    port = free_port()
    router = ServiceProcess(
        "router",
        port,
        {
            **stack.env,
            "SWITCHBOARD_PORT": str(port),
            "SWITCHBOARD_HEARTBEAT_TIMEOUT_S": str(TIMEOUT_S),
            "SWITCHBOARD_OFFLINE_GRACE_S": str(GRACE_S),
            "SWITCHBOARD_QUEUE_SWEEP_INTERVAL_S": "0.1",
        },
        name="router-presence",
    )
    router.start()
    try:
        await asyncio.to_thread(router.wait_ready)
        # Wait for the consumer group to settle with both routers, so no test waits out a rebalance.
        async with httpx.AsyncClient(timeout=10) as http:
            await eventually(
                lambda: partitions_split(http, [stack.router, router]),
                timeout_s=60,
                what="both routers owning inbound partitions",
            )
        yield router
    finally:
        await asyncio.to_thread(router.stop)


async def partitions_split(http: httpx.AsyncClient, routers: list[ServiceProcess]) -> bool:
    owned = []
    for router in routers:
        text = (await http.get(f"{router.url}/metrics")).text
        owned.append(
            sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "switchboard_consumer_partitions"
                and sample.labels.get("group") == "switchboard-router"
            )
        )
    return all(n > 0 for n in owned) and sum(owned) == 8


class Heartbeats:
    """Agents' clients sending heartbeats in the background, until told to stop (as if the app died)."""

    def __init__(self, switchboard: Switchboard) -> None:
        self.switchboard = switchboard
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, *agents: dict) -> None:
        for agent in agents:
            self.tasks[agent["id"]] = asyncio.create_task(self._beat(agent))

    async def stop(self, agent: dict) -> None:
        task = self.tasks.pop(agent["id"])
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _beat(self, agent: dict) -> None:
        while True:
            response = await self.switchboard.heartbeat(agent)
            assert response.status_code == 204, response.text
            await asyncio.sleep(BEAT_EVERY_S)  # the client's own rhythm, not a wait in the test


@pytest_asyncio.fixture
async def heartbeats(switchboard: Switchboard, quick_router: ServiceProcess) -> AsyncIterator[Heartbeats]:
    beats = Heartbeats(switchboard)
    try:
        yield beats
    finally:
        for agent_id in list(beats.tasks):
            await beats.stop({"id": agent_id})


async def holding(switchboard: Switchboard, agent: dict, n: int) -> list[dict] | None:
    held = await switchboard.agent_conversations(agent)
    return held if len(held) == n else None


async def timed_out(switchboard: Switchboard, agent: dict) -> dict | None:
    state = await switchboard.agent(agent)
    return state if state["status"] == "offline" else None


async def test_heartbeats_are_answered_for_oneself_or_by_an_admin(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    bo = await switchboard.online_agent("Bo")
    before = datetime.fromisoformat((await switchboard.agent(ana))["last_seen_at"])

    assert (await switchboard.heartbeat(ana)).status_code == 204
    assert datetime.fromisoformat((await switchboard.agent(ana))["last_seen_at"]) > before
    assert (await switchboard.heartbeat(ana, as_agent=bo)).status_code == 403
    admin = await switchboard.http.post(
        f"{switchboard.router}/v1/agents/{ana['id']}/heartbeat", headers=switchboard.admin
    )
    assert admin.status_code == 204
    unknown = "00000000-0000-0000-0000-000000000004"
    missing = await switchboard.http.post(
        f"{switchboard.router}/v1/agents/{unknown}/heartbeat", headers=switchboard.admin
    )
    assert missing.status_code == 404


async def test_a_silent_agent_goes_offline_and_after_the_grace_their_conversations_go_to_another(
    switchboard: Switchboard, db: asyncpg.Connection, heartbeats: Heartbeats
):
    ana = await switchboard.online_agent("Ana")
    heartbeats.start(ana)
    for n in range(3):
        await switchboard.customer_writes(f"97258000000{n}", "hello?")
    anas = await eventually(lambda: holding(switchboard, ana, 3), what="Ana holding three")
    bo = await switchboard.online_agent("Bo")
    heartbeats.start(bo)

    async with switchboard.live_events(ana) as ana_sees, switchboard.live_events(bo) as bo_sees:
        await ana_sees.next()
        await bo_sees.next()
        await heartbeats.stop(ana)  # Ana's app dies

        gone = await eventually(lambda: timed_out(switchboard, ana), what="Ana timed out")
        assert (gone["offline_reason"], gone["pending"]) == ("heartbeat_timeout", 3)
        assert len(await switchboard.agent_conversations(ana)) == 3, "kept during the grace"
        # A heartbeat after the timeout does not bring her back: only setting her presence does.
        assert (await switchboard.heartbeat(ana)).status_code == 204
        assert (await switchboard.agent(ana))["status"] == "offline"

        bos = await eventually(lambda: holding(switchboard, bo, 3), what="Bo holding Ana's three")
        released = [await ana_sees.next() for _ in range(3)]
        assigned = [await bo_sees.next() for _ in range(3)]

    assert sorted(c["id"] for c in bos) == sorted(c["id"] for c in anas)
    assert {(event, data["reason"]) for event, data in released} == {("released", "heartbeat_timeout")}
    assert {(event, data["reason"]) for event, data in assigned} == {("assigned", "from_queue")}
    assert (await switchboard.agent(ana))["pending"] == 0
    handed_on_at = await db.fetchval("SELECT min(assigned_at) FROM conversations WHERE assignee_id = $1", bo["id"])
    offline_since = await db.fetchval("SELECT status_changed_at FROM agents WHERE id = $1", ana["id"])
    assert (handed_on_at - offline_since).total_seconds() >= GRACE_S, "not before the grace was over"
    assert [c["waiting_since"] for c in sorted(bos, key=lambda c: c["id"])] == [
        c["waiting_since"] for c in sorted(anas, key=lambda c: c["id"])
    ], "they kept their place in the queue"


async def test_coming_back_within_the_grace_keeps_the_conversations(
    switchboard: Switchboard, db: asyncpg.Connection, heartbeats: Heartbeats
):
    ana = await switchboard.online_agent("Ana")
    heartbeats.start(ana)
    for n in range(2):
        await switchboard.customer_writes(f"97258100000{n}", "hi")
    anas = await eventually(lambda: holding(switchboard, ana, 2), what="Ana holding two")
    cy = await switchboard.online_agent("Cy")
    heartbeats.start(cy)
    # One at a time: two drains at once may skip Cy's locked row and give one to Ana (SKIP LOCKED).
    await switchboard.customer_writes("972582000000", "hi")
    await eventually(lambda: holding(switchboard, cy, 1), what="Cy holding one")
    await switchboard.customer_writes("972582000001", "hi")
    cys = await eventually(lambda: holding(switchboard, cy, 2), what="Cy holding two")
    bo = await switchboard.online_agent("Bo")
    heartbeats.start(bo)

    await heartbeats.stop(ana)
    await eventually(lambda: timed_out(switchboard, ana), what="Ana timed out")
    back = await switchboard.set_presence(ana, "online")  # her app reconnects within the grace
    heartbeats.start(ana)
    assert (back["status"], back["offline_reason"], back["pending"]) == ("online", None, 2)

    # Cy goes silent after Ana came back, so once the sweep hands Cy's conversations on, Ana's grace
    # would have ended too: that she still holds hers shows coming back kept them.
    await heartbeats.stop(cy)
    bos = await eventually(lambda: holding(switchboard, bo, 2), what="Cy's two handed to Bo")
    assert sorted(c["id"] for c in bos) == sorted(c["id"] for c in cys)
    assert sorted(c["id"] for c in await switchboard.agent_conversations(ana)) == sorted(c["id"] for c in anas)
    assert (await switchboard.agent(ana))["pending"] == 2


async def test_logging_off_still_releases_at_once(switchboard: Switchboard, heartbeats: Heartbeats):
    ana = await switchboard.online_agent("Ana")
    heartbeats.start(ana)
    await switchboard.customer_writes("972583000001", "hi")
    [conversation] = await eventually(lambda: holding(switchboard, ana, 1), what="Ana's assignment")
    bo = await switchboard.online_agent("Bo")
    heartbeats.start(bo)

    await heartbeats.stop(ana)
    gone = await switchboard.set_presence(ana, "offline")

    assert (gone["status"], gone["offline_reason"], gone["pending"]) == ("offline", "logged_off", 0)
    [with_bo] = await eventually(lambda: holding(switchboard, bo, 1), what="Bo taking it")
    assert with_bo["id"] == conversation["id"]


async def test_an_agent_who_stops_heartbeating_under_load_loses_nothing_and_no_cap_is_exceeded(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack, heartbeats: Heartbeats
):
    agents = [await switchboard.online_agent(name) for name in ("Ana", "Bo", "Cy")]
    ana, bo, cy = agents
    heartbeats.start(*agents)
    workers = {a["id"]: asyncio.create_task(answer_everything(switchboard, a)) for a in agents}
    posted = 0

    async def burst(first: int, customers: int) -> int:
        writes = [
            switchboard.customer_writes(f"9725900{n:05d}", f"message {m} from {n}")
            for n in range(first, first + customers)
            for m in range(1 + n % 2)
        ]
        await asyncio.gather(*writes)
        return len(writes)

    async def cy_timed_out_holding() -> tuple[dict, list[dict]] | None:
        if (await timed_out(switchboard, cy)) is None:
            return None
        return await switchboard.agent(cy), await switchboard.agent_conversations(cy)

    try:
        async with cap_watch(stack.dsn) as peaks:
            posted += await burst(0, 25)
            # Cy's screen freezes: he stops answering but his app still beats, so conversations pile up on
            # him; then the app dies altogether while customers keep writing.
            workers.pop(cy["id"]).cancel()
            posted += await burst(25, 25)
            await eventually(lambda: switchboard.agent_conversations(cy), what="Cy holding conversations")
            await heartbeats.stop(cy)
            wrote, (cy_gone, stuck_with_cy) = await asyncio.gather(
                burst(50, 25), eventually(cy_timed_out_holding, what="Cy timed out")
            )
            posted += wrote
            posted += await burst(75, 25)

            await eventually(lambda: everything_answered(db, posted), timeout_s=60, what="every conversation resolved")
        assert peaks, "the cap was never sampled"
        assert max(peaks) <= 5
    finally:
        for worker in workers.values():
            worker.cancel()

    assert stuck_with_cy, "Cy held conversations when he timed out"
    assert len(stuck_with_cy) == cy_gone["pending"]
    resolved_by = await db.fetch(
        "SELECT DISTINCT assignee_id FROM conversations WHERE id = ANY($1::uuid[])", [c["id"] for c in stuck_with_cy]
    )
    assert {str(r["assignee_id"]) for r in resolved_by} <= {ana["id"], bo["id"]}, "Cy's went to agents who are there"
    cy_now = await switchboard.agent(cy)
    assert (cy_now["status"], cy_now["offline_reason"], cy_now["pending"]) == ("offline", "heartbeat_timeout", 0)
    customers = await db.fetchval("SELECT count(*) FROM contact_identities WHERE channel = 'whatsapp'")
    assert customers == 100
    drifted = await db.fetchval(
        """SELECT count(*) FROM agents a WHERE a.pending <> (SELECT count(*) FROM conversations c
            WHERE c.assignee_id = a.id AND c.status = 'assigned')"""
    )
    assert drifted == 0


async def answer_everything(switchboard: Switchboard, agent: dict) -> None:
    """An agent's screen: resolve every conversation as it is given (by its live events)."""
    async with switchboard.live_events(agent) as events:
        while True:
            event, data = await events.next(timeout_s=120)
            ids = [c["id"] for c in data["items"]] if event == "conversations" else [data["conversation_id"]]
            if event == "released":
                continue
            for conversation_id in ids:
                response = await switchboard.http.post(
                    f"{switchboard.router}/v1/conversations/{conversation_id}/resolve",
                    headers=switchboard.as_agent(agent),
                )
                assert response.status_code == 200, response.text


async def everything_answered(db: asyncpg.Connection, posted: int) -> bool:
    """Every message stored once, and every conversation answered: nothing lost, nothing left waiting."""
    stored = await db.fetchval("SELECT count(*) FROM messages WHERE direction = 'inbound'")
    open_ = await db.fetchval("SELECT count(*) FROM conversations WHERE status <> 'resolved'")
    return bool(stored == posted and open_ == 0)
