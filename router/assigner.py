"""Running the assignment queue after commits, and announcing what it assigned.

Why after commit: a conversation queued in one transaction and an agent's slot freed in another can
each miss the other while both are uncommitted. Whoever commits second runs the queue again with a
snapshot that sees both, so nothing waits while an agent has room. A periodic sweep backs this up.

Each assignment is one statement (`assign_next_queued`, migration 0002) applying the ranking that
`router/assignment.py` decides; the free agents are read once per drain and re-ranked locally.
"""

import asyncio
import contextlib
import logging
from collections.abc import Set as AbstractSet
from functools import partial
from uuid import UUID

from aiokafka import AIOKafkaProducer

from router.assignment import after_assignment, rank_agents
from router.store.agents import agents_by_status, offline_agents_holding_conversations, release_conversations
from router.store.queue import Assignment, NoSlot, anyone_waiting, assign_next_queued, free_agents, queue_depth
from schemas.assignment import AssignmentEvent
from schemas.wire import encode
from services.kafka import Topics
from services.metrics import AGENTS, ASSIGNMENT_LATENCY, QUEUE_DEPTH
from services.postgres import Pool, in_transaction

log = logging.getLogger(__name__)

_STALE_VIEW_REREADS = 5


class Assigner:
    """Drains the queue into free agents and publishes each committed assignment."""

    def __init__(self, pool: Pool, producer: AIOKafkaProducer, topics: Topics) -> None:
        self._pool = pool
        self._producer = producer
        self._topics = topics

    async def drain(self, arriving: AbstractSet[UUID] = frozenset()) -> int:
        """Assign queued conversations until the queue is empty or nobody has room; returns how many.

        `arriving` are conversations just stored: their assignments count as immediate, not queued.
        """
        assigned = 0
        async with self._pool.acquire() as conn:
            if not await anyone_waiting(conn):
                return 0
            for _ in range(_STALE_VIEW_REREADS):
                ranked = rank_agents(await free_agents(conn))
                while ranked:
                    outcome = await assign_next_queued(conn, ranked)
                    if outcome is None:
                        return assigned
                    if isinstance(outcome, NoSlot):
                        break  # other routers filled the slots we saw: read the agents again
                    await self.announce(outcome, immediate=outcome.conversation_id in arriving)
                    assigned += 1
                    ranked = after_assignment(ranked, outcome.agent_id, outcome.assigned_at)
                else:
                    return assigned
        return assigned

    async def announce(self, assignment: Assignment, *, immediate: bool) -> None:
        """Record the latency of a committed assignment and publish it for live listeners."""
        if assignment.first_time:
            waited = (assignment.assigned_at - assignment.received_at).total_seconds()
            ASSIGNMENT_LATENCY.labels(path="immediate" if immediate else "queued").observe(max(0.0, waited))
        event = AssignmentEvent(
            conversation_id=assignment.conversation_id,
            agent_id=assignment.agent_id,
            assigned_at=assignment.assigned_at,
            received_at=assignment.received_at,
            reason="new_conversation" if immediate else "from_queue",
        )
        # Fire and forget: the assignment is already committed; the event only informs listeners.
        await self._producer.send(self._topics.assignments, encode(event), key=str(event.agent_id).encode())

    async def release_from_offline_agents(self) -> None:
        """Hand back conversations still held by offline agents (a release interrupted by a crash)."""
        async with self._pool.acquire() as conn:
            stranded = await offline_agents_holding_conversations(conn)
        for agent_id in stranded:
            log.warning("releasing conversations still held by offline agent %s", agent_id)
            await in_transaction(self._pool, partial(release_conversations, agent_id=agent_id))

    async def sweep_until(self, stopping: asyncio.Event, interval_s: float) -> None:
        """Periodically drain the queue and refresh the queue and agent gauges, until `stopping` is set."""
        while not stopping.is_set():
            try:
                await self.release_from_offline_agents()
                await self.drain()
                async with self._pool.acquire() as conn:
                    QUEUE_DEPTH.set(await queue_depth(conn))
                    for status, count in (await agents_by_status(conn)).items():
                        AGENTS.labels(status=status).set(count)
            except Exception:
                log.exception("queue sweep failed; retrying in %.1fs", interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)
