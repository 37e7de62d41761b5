"""The assignment queue: hand the oldest waiting conversation to the best free agent.

Concurrency (in `assign_next_queued`, migration 0002): the queued conversation is taken with SKIP LOCKED,
so routers never wait on each other's conversations; the agent's slot is taken by an UPDATE that
re-checks status and cap, so a slot is never given twice. Each call assigns at most one conversation
and locks at most one agent, so two routers cannot deadlock on agents.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from router.assignment import AgentLoad
from services.postgres import Connection


@dataclass(frozen=True)
class Assignment:
    """A conversation given to an agent, committed by `assign_next_queued`."""

    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    received_at: datetime
    first_time: bool  # False when a released conversation is reassigned


async def free_agents(conn: Connection) -> list[AgentLoad]:
    """Online agents under their cap, as of this statement."""
    rows = await conn.fetch(
        """SELECT id, status, pending, max_pending, last_assigned_at, status_changed_at
             FROM agents WHERE status = 'online' AND pending < max_pending"""
    )
    return [
        AgentLoad(r["id"], r["status"], r["pending"], r["max_pending"], r["last_assigned_at"], r["status_changed_at"])
        for r in rows
    ]


@dataclass(frozen=True)
class NoSlot:
    """A conversation waits, but none of the ranked agents still had room."""


async def assign_next_queued(conn: Connection, ranked: list[AgentLoad]) -> Assignment | NoSlot | None:
    """Give the queue's first conversation to the first of `ranked` with a slot; None when the queue is empty."""
    row = await conn.fetchrow("SELECT * FROM assign_next_queued($1::uuid[])", [a.agent_id for a in ranked])
    if row is None:
        return None
    if row["agent_id"] is None:
        return NoSlot()
    return Assignment(
        conversation_id=row["conversation_id"],
        agent_id=row["agent_id"],
        assigned_at=row["assigned_at"],
        received_at=row["received_at"],
        first_time=row["first_time"],
    )


async def anyone_waiting(conn: Connection) -> bool:
    """Whether any conversation is queued: cheap (a partial index), so the queue is not run for nothing."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM conversations WHERE status = 'queued')"))


async def queue_depth(conn: Connection) -> int:
    """How many conversations wait for an agent."""
    count = await conn.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'")
    return int(count or 0)
