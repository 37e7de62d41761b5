"""Running the assignment queue after commits, and announcing what it assigned and released.

Why after commit: a conversation queued in one transaction and an agent's slot freed in another can
each miss the other while both are uncommitted. Whoever commits second runs the queue again with a
snapshot that sees both, so nothing waits while an agent has room. A periodic sweep backs this up, and
enforces presence: agents silent past the heartbeat timeout go offline, and their conversations go back
to the queue once the grace is over (router/presence.py decides).

Each assignment is one statement (`assign_first_available`, migration 0007) applying what router/queueing.py
decides (which conversation: priority with ageing; which agents: skills, language, widening) and the load
ranking of router/assignment.py; the queue and the free agents are read once per drain and kept locally.
"""

import asyncio
import contextlib
import logging
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from functools import partial
from uuid import UUID

from aiokafka import AIOKafkaProducer

from router.assignment import AgentLoad, after_assignment, rank_agents
from router.coalesced_drain import CoalescedDrain
from router.errors import DatabaseUnavailable, outage_of
from router.presence import DatabaseSightings, OfflineHold, PresencePolicy
from router.queueing import RoutingPolicy, candidates
from router.store.agents import (
    agents_by_status,
    database_clock,
    offline_agents_holding_conversations,
    present_agents,
    release_hold,
    time_out,
)
from router.store.automation import hand_over_unanswered
from router.store.queue import (
    Assignment,
    NoSlot,
    assign_first_available,
    free_agents,
    queue_depth,
    queued_conversations,
)
from schemas.assignment import AssigneeChange, AssignmentEvent, ReleaseEvent, ReleaseReason
from schemas.wire import encode
from services.kafka import Topics
from services.metrics import AGENTS, ASSIGNMENT_LATENCY, BOT_UNANSWERED, QUEUE_DEPTH
from services.postgres import Pool, in_transaction

log = logging.getLogger(__name__)

_STALE_VIEW_REREADS = 5
_CANDIDATES_PER_CALL = 20


class Assigner:
    """Drains the queue into free agents, publishes each committed assignment and release, and (in its
    sweep) enforces presence."""

    def __init__(self, pool: Pool, producer: AIOKafkaProducer, topics: Topics, policy: RoutingPolicy) -> None:
        self._pool = pool
        self._producer = producer
        self._topics = topics
        self._policy = policy
        self._sightings = DatabaseSightings()
        self._whole_queue = CoalescedDrain(lambda arriving: self.drain(arriving=arriving))

    async def drain_queue(self, arriving: AbstractSet[UUID] = frozenset()) -> int:
        """`drain` over every free agent, coalesced with the other such drains of this process
        (router/coalesced_drain.py): the consumer's partitions, the sweep, a log-off, a merge."""
        return await self._whole_queue.ask(arriving)

    async def drain(
        self,
        arriving: AbstractSet[UUID] = frozenset(),
        passing_over: AbstractSet[UUID] = frozenset(),
        only_agents: AbstractSet[UUID] | None = None,
        freed: AgentLoad | None = None,
    ) -> int:
        """Assign queued conversations until the queue is empty or nobody has room; returns how many.

        `arriving` are conversations just stored: their assignments count as immediate, not queued.
        `passing_over` are agents this drain gives nothing (one who just handed a conversation back).
        `only_agents`: the agents whose capacity just changed (a resolve freed one slot; an agent came
        online). Every other agent's room was offered to the queue when it appeared, so reading only these
        is enough, and cheap when every resolve runs the queue.
        `freed`: the one agent whose slot the caller's committed statement freed, as that statement left their
        row. The drain starts from it instead of reading it again (one statement fewer per resolve); should
        another drain fill the slot meanwhile, the assignment finds no room and the agents are read again.
        """
        if freed is not None:
            only_agents = {freed.agent_id}
        assigned = 0
        async with self._pool.acquire() as conn:
            for reread in range(_STALE_VIEW_REREADS):
                if reread == 0 and freed is not None:
                    free = [freed] if freed.has_capacity else []
                else:
                    free = await free_agents(conn, only_agents)
                ranked = [a for a in rank_agents(free) if a.agent_id not in passing_over]
                if not ranked:
                    return assigned
                queue = await queued_conversations(conn)
                saw_stale_view = False
                while ranked and queue:
                    now = datetime.now(UTC)
                    chosen = candidates(queue, ranked, now, self._policy, _CANDIDATES_PER_CALL)
                    if not chosen:
                        return assigned  # nobody free may take what waits (yet)
                    outcome = await assign_first_available(conn, chosen)
                    if outcome is None or isinstance(outcome, NoSlot):
                        # Other drains took (or hold) every candidate, or filled the slots we saw: read again.
                        saw_stale_view = True
                        break
                    await self.announce(outcome, immediate=outcome.conversation_id in arriving)
                    assigned += 1
                    ranked = after_assignment(ranked, outcome.agent_id, outcome.assigned_at)
                    queue = [c for c in queue if c.conversation_id != outcome.conversation_id]
                if not saw_stale_view:
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
        await self._publish(event)

    async def announce_transfer(
        self, conversation_id: UUID, agent_id: UUID, at: datetime, received_at: datetime
    ) -> None:
        """Publish a committed transfer to `agent_id` for their live listeners."""
        await self._publish(
            AssignmentEvent(
                conversation_id=conversation_id,
                agent_id=agent_id,
                assigned_at=at,
                received_at=received_at,
                reason="transfer",
            )
        )

    async def announce_released(
        self, agent_id: UUID, conversation_ids: list[UUID], reason: ReleaseReason, at: datetime
    ) -> None:
        """Publish that committed releases took these conversations from `agent_id`."""
        for conversation_id in conversation_ids:
            await self._publish(
                ReleaseEvent(conversation_id=conversation_id, agent_id=agent_id, released_at=at, reason=reason)
            )

    async def _publish(self, event: AssigneeChange) -> None:
        # Fire and forget: the change is already committed; the event only informs listeners.
        await self._producer.send(self._topics.assignments, encode(event), key=str(event.agent_id).encode())

    async def enforce_presence(self, policy: PresencePolicy) -> None:
        """Time out agents silent for too long, and give back the conversations of offline agents whose
        hold is up: after the grace for a timeout, at once (a release that did not happen) for a log-off."""
        async with self._pool.acquire() as conn:
            now = await database_clock(conn)
            downtimes = self._sightings.saw(now, keep=policy.heartbeat_timeout)
            silent = policy.timed_out(await present_agents(conn), now, downtimes)
            silent_before = policy.silent_before(now)
            if silent and silent_before is not None:
                for agent_id in await time_out(conn, silent, silent_before):
                    log.info("agent %s timed out: no heartbeat since before %s", agent_id, silent_before)
            due = policy.releases_due(await offline_agents_holding_conversations(conn), now)
        for hold in due:
            released = await in_transaction(self._pool, partial(release_hold, hold=hold))
            if not released:
                continue  # the agent came back, or another router released them first
            if hold.reason == "heartbeat_timeout":
                log.info("released %d conversations of timed-out agent %s", len(released), hold.agent_id)
            else:
                log.warning("released %d conversations still held by offline agent %s", len(released), hold.agent_id)
            await self.announce_released(hold.agent_id, released, _release_reason(hold), now)

    async def sweep_until(
        self,
        stopping: asyncio.Event,
        interval_s: float,
        presence: PresencePolicy,
        bot_unanswered_after: timedelta,
    ) -> None:
        """Periodically enforce presence, hand the queue the bot's conversations left unanswered, drain the
        queue and refresh the queue and agent gauges, until `stopping` is set."""
        while not stopping.is_set():
            try:
                await self.enforce_presence(presence)
                async with self._pool.acquire() as conn:
                    unanswered = await hand_over_unanswered(conn, bot_unanswered_after)
                if unanswered:
                    BOT_UNANSWERED.inc(unanswered)
                    log.warning("handed %d unanswered bot conversation(s) to the queue", unanswered)
                await self.drain_queue()
                async with self._pool.acquire() as conn:
                    QUEUE_DEPTH.set(await queue_depth(conn))
                    for status, count in (await agents_by_status(conn)).items():
                        AGENTS.labels(status=status).set(count)
            except Exception as error:
                if isinstance(outage_of(error), DatabaseUnavailable):
                    # Heartbeats are refused meanwhile: the time until the next sighting is not the agents'.
                    self._sightings.missed()
                    log.warning("queue sweep: PostgreSQL unavailable (%r); retrying in %.1fs", error, interval_s)
                else:
                    log.exception("queue sweep failed; retrying in %.1fs", interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)


def _release_reason(hold: OfflineHold) -> ReleaseReason:
    return "heartbeat_timeout" if hold.reason == "heartbeat_timeout" else "logged_off"
