"""Assignment under the cap: 5 pending per agent at most, the queue drained oldest first, offline releases."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import Stack
from tests.integration.services import ServiceProcess

pytestmark = pytest.mark.integration


async def statuses(db: asyncpg.Connection) -> dict[str, int]:
    rows = await db.fetch("SELECT status, count(*) AS n FROM conversations GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


@asynccontextmanager
async def cap_watch(dsn: str) -> AsyncIterator[list[int]]:
    """Sample, throughout the block, the most conversations any agent holds and the highest pending counter."""
    peaks: list[int] = []
    stop = asyncio.Event()
    conn = await asyncpg.connect(dsn)

    async def sample() -> None:
        while not stop.is_set():
            held = await conn.fetchval(
                """SELECT greatest(
                       (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM conversations
                         WHERE status = 'assigned' GROUP BY assignee_id) per_agent),
                       (SELECT coalesce(max(pending), 0) FROM agents))"""
            )
            peaks.append(int(held))
            await asyncio.sleep(0.01)

    task = asyncio.create_task(sample())
    try:
        yield peaks
    finally:
        stop.set()
        await task
        await conn.close()


async def thirty_customers_write_at_once(switchboard: Switchboard) -> None:
    await asyncio.gather(*(switchboard.customer_writes(f"97250{n:07d}", f"help {n}") for n in range(30)))


async def assert_cap_holds_and_queue_drains_oldest_first(
    switchboard: Switchboard, db: asyncpg.Connection, dsn: str
) -> None:
    agents = [await switchboard.online_agent(name) for name in ("Ana", "Bo", "Cy")]
    async with cap_watch(dsn) as peaks:
        await thirty_customers_write_at_once(switchboard)
        await eventually(lambda: _settled(db), timeout_s=30, what="15 assigned and 15 queued")
        for agent in agents:
            assert len(await switchboard.agent_conversations(agent)) == 5
        oldest_queued = await db.fetchval(
            "SELECT id FROM conversations WHERE status = 'queued' ORDER BY waiting_since, id LIMIT 1"
        )
        [first, *_] = await switchboard.agent_conversations(agents[0])
        await switchboard.resolve(agents[0], first["id"])

        async def oldest_went_to_the_freed_agent():
            return await db.fetchval(
                "SELECT assignee_id FROM conversations WHERE id = $1 AND status = 'assigned'", oldest_queued
            )

        assert (
            str(await eventually(oldest_went_to_the_freed_agent, what="the oldest queued assigned"))
            == (agents[0]["id"])
        )
        assert await statuses(db) == {"assigned": 15, "queued": 14, "resolved": 1}
    assert peaks, "the cap was never sampled"
    assert max(peaks) == 5


async def _settled(db: asyncpg.Connection) -> bool:
    return await statuses(db) == {"assigned": 15, "queued": 15}


async def test_three_agents_take_five_each_and_the_rest_queue(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack
):
    await assert_cap_holds_and_queue_drains_oldest_first(switchboard, db, stack.dsn)


async def test_an_agent_going_offline_releases_their_conversations_to_others(
    switchboard: Switchboard, db: asyncpg.Connection
):
    ana = await switchboard.online_agent("Ana")
    for n in range(3):
        await switchboard.customer_writes(f"97251{n:07d}", "hi")
    await eventually(lambda: _count(switchboard, ana, 3), what="Ana holding three")
    bo = await switchboard.online_agent("Bo")

    gone = await switchboard.set_presence(ana, "offline")
    assert (gone["status"], gone["pending"]) == ("offline", 0)
    await eventually(lambda: _count(switchboard, bo, 3), what="Bo holding Ana's three")
    assert await switchboard.agent_conversations(ana) == []
    assert await statuses(db) == {"assigned": 3}


async def test_away_keeps_conversations_but_takes_no_new_ones(switchboard: Switchboard, db: asyncpg.Connection):
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972520000001", "first")
    await eventually(lambda: _count(switchboard, ana, 1), what="Ana holding one")
    await switchboard.set_presence(ana, "away")
    await switchboard.customer_writes("972520000002", "second")
    await eventually(lambda: _has_status(db, "queued"), what="the second conversation queued")
    assert len(await switchboard.agent_conversations(ana)) == 1

    await switchboard.set_presence(ana, "online")
    await eventually(lambda: _count(switchboard, ana, 2), what="Ana taking the queued one on return")


async def test_an_agent_coming_online_takes_the_queue_oldest_first(switchboard: Switchboard, db: asyncpg.Connection):
    for n in range(7):
        await switchboard.customer_writes(f"97253{n:07d}", "anyone?")
    await eventually(lambda: _queued(db, 7), what="seven queued")
    order = [r["id"] for r in await db.fetch("SELECT id FROM conversations ORDER BY waiting_since, id")]
    ana = await switchboard.online_agent("Ana", max_pending=3)
    held = await eventually(lambda: _count(switchboard, ana, 3), what="Ana at her cap of 3")
    assert sorted(c["id"] for c in held) == sorted(str(i) for i in order[:3])


async def test_two_routers_consuming_at_once_never_exceed_the_cap(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack, second_router: ServiceProcess
):
    await eventually(
        lambda: _partitions_split(switchboard, [stack.router, second_router]),
        timeout_s=60,
        what="both routers owning inbound partitions",
    )
    await assert_cap_holds_and_queue_drains_oldest_first(switchboard, db, stack.dsn)
    for router in (stack.router, second_router):
        assert await _stored_by(switchboard, router) > 0, f"{router.name} handled no message"


async def _metric(switchboard: Switchboard, service: ServiceProcess, name: str, **labels: str) -> float:
    text = (await switchboard.http.get(f"{service.url}/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


async def _partitions_split(switchboard: Switchboard, routers: list[ServiceProcess]) -> bool:
    owned = [
        await _metric(switchboard, r, "switchboard_consumer_partitions", group="switchboard-router") for r in routers
    ]
    return all(n > 0 for n in owned) and sum(owned) == 8


async def _stored_by(switchboard: Switchboard, router: ServiceProcess) -> float:
    return await _metric(switchboard, router, "switchboard_router_messages_total", kind="message", outcome="stored")


async def _count(switchboard: Switchboard, agent: dict, n: int) -> list[dict] | None:
    held = await switchboard.agent_conversations(agent)
    return held if len(held) == n else None


async def _queued(db: asyncpg.Connection, n: int) -> bool:
    return (await statuses(db)).get("queued") == n


async def _has_status(db: asyncpg.Connection, status: str) -> bool:
    return status in await statuses(db)


async def test_going_offline_while_conversations_arrive_strands_none_on_the_agent(
    switchboard: Switchboard, db: asyncpg.Connection
):
    bo = await switchboard.online_agent("Bo", max_pending=400)  # takes every conversation of the rounds
    for round_ in range(8):
        ana = await switchboard.online_agent(f"Ana {round_}", max_pending=50)
        arrivals = [switchboard.customer_writes(f"97256{round_}{n:05d}", "hi") for n in range(40)]
        await asyncio.gather(*arrivals[:20], switchboard.set_presence(ana, "offline"), *arrivals[20:])
        await eventually(partial(_all_assigned, db, 40 * (round_ + 1)), what=f"round {round_} settled")
        stranded = await db.fetchval(
            """SELECT count(*) FROM conversations c JOIN agents a ON a.id = c.assignee_id
                WHERE c.status = 'assigned' AND a.status = 'offline'"""
        )
        assert stranded == 0, f"round {round_}: conversations left with an offline agent"
        counters = await db.fetch(
            """SELECT a.pending, (SELECT count(*) FROM conversations c
                                   WHERE c.assignee_id = a.id AND c.status = 'assigned') AS held FROM agents a"""
        )
        assert all(r["pending"] == r["held"] for r in counters), f"round {round_}: pending drifted"
    assert len(await switchboard.agent_conversations(bo)) == 320


async def _all_assigned(db: asyncpg.Connection, n: int) -> bool:
    return await statuses(db) == {"assigned": n}
