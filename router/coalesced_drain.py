"""Whole-queue drains, coalesced: one at a time in a process, and none run for an ask a later drain served.

Each of a consumer's partitions asks for a drain after every batch it stored, all at once under load: run
side by side, their drains read the same agents and queue and fought over the same candidates (SKIP LOCKED:
6 conversations tried per assignment made, by pg_stat_statements at 500 msg/s). A drain that began after a
caller asked reads a snapshot that holds what the caller committed before asking, so that caller's
conversations are served by it, and the assigner's after-commit rule (router/assigner.py) still holds.

Errors: a drain that fails raises to the caller that ran it; the asks it would have served run the next one.
"""

import asyncio
from collections.abc import Awaitable, Callable
from collections.abc import Set as AbstractSet
from uuid import UUID


class CoalescedDrain:
    """Runs `drain(arriving)` for asks, coalescing the asks made while one runs into the next run."""

    def __init__(self, drain: Callable[[AbstractSet[UUID]], Awaitable[int]]) -> None:
        self._drain = drain
        self._lock = asyncio.Lock()
        self._asked = 0  # asks so far
        self._served = 0  # asks made before the last drain that finished began
        self._arriving: set[UUID] = set()

    async def ask(self, arriving: AbstractSet[UUID] = frozenset()) -> int:
        """Have the queue drained after this call began; how many this call's drain assigned (0 when a drain
        another caller ran served it). `arriving` are conversations just stored (immediate assignments)."""
        self._arriving |= arriving
        self._asked += 1
        ticket = self._asked
        async with self._lock:
            if self._served >= ticket:
                return 0  # a drain that began after we asked has run
            serving = self._asked  # every ask so far was made before this drain's first read
            arrived, self._arriving = self._arriving, set()
            assigned = await self._drain(arrived)
            self._served = serving
            return assigned
