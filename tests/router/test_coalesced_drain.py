"""router/coalesced_drain.py: who runs a whole-queue drain when several ask at once."""

import asyncio
from collections.abc import Set as AbstractSet
from uuid import UUID, uuid4

from router.coalesced_drain import CoalescedDrain


class HeldDrain:
    """A drain that records what it was asked and waits until let go."""

    def __init__(self) -> None:
        self.runs: list[set[UUID]] = []
        self.release = asyncio.Event()

    async def __call__(self, arriving: AbstractSet[UUID]) -> int:
        self.runs.append(set(arriving))
        await self.release.wait()
        return len(arriving)


async def test_asks_made_while_a_drain_runs_are_served_by_one_drain_begun_after_them() -> None:
    drain = HeldDrain()
    drains = CoalescedDrain(drain)
    first, second, third = uuid4(), uuid4(), uuid4()
    running = asyncio.create_task(drains.ask({first}))
    await asyncio.sleep(0)  # the first drain has begun
    waiting = [asyncio.create_task(drains.ask({c})) for c in (second, third)]
    await asyncio.sleep(0)

    drain.release.set()
    results = await asyncio.gather(running, *waiting)

    assert drain.runs == [{first}, {second, third}]
    assert sorted(results) == [0, 1, 2]  # one of the two waiting asks ran the drain for both


async def test_an_ask_after_every_drain_finished_runs_its_own() -> None:
    drain = HeldDrain()
    drain.release.set()
    drains = CoalescedDrain(drain)

    await drains.ask({uuid4()})
    await drains.ask()

    assert len(drain.runs) == 2


async def test_a_drain_that_fails_leaves_the_asks_it_would_have_served_to_the_next() -> None:
    calls = 0

    async def failing_once(arriving: AbstractSet[UUID]) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0)  # the second ask comes in while this one runs
            raise ConnectionError("PostgreSQL went away")
        return 0

    drains = CoalescedDrain(failing_once)
    outcomes = await asyncio.gather(drains.ask(), drains.ask(), return_exceptions=True)

    assert isinstance(outcomes[0], ConnectionError)
    assert outcomes[1] == 0
    assert calls == 2
