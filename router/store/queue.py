"""The assignment queue: hand the oldest waiting conversation to the best free agent.

Concurrency: the queued conversation is taken with SKIP LOCKED, so routers never wait on each other's
conversations; the agent's slot is taken by an UPDATE that re-checks status and cap, so a slot is never
given twice. Each call assigns at most one conversation and locks at most one agent, so two routers
cannot deadlock on agents.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from router.assignment import AgentLoad, rank_agents
from services.postgres import Connection

Reason = Literal["new_conversation", "from_queue"]


@dataclass(frozen=True)
class Assignment:
    """A conversation given to an agent in the current transaction."""

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


async def assign_next_queued(conn: Connection) -> Assignment | None:
    """Assign the queue's first conversation to the best free agent, or do nothing if either is missing."""
    ranked = rank_agents(await free_agents(conn))
    if not ranked:
        return None
    conversation = await conn.fetchrow(
        """SELECT id, received_at, first_assigned_at FROM conversations
            WHERE status = 'queued' ORDER BY priority DESC, waiting_since, id
            LIMIT 1 FOR UPDATE SKIP LOCKED"""
    )
    if conversation is None:
        return None
    for agent in ranked:
        taken = await conn.fetchrow(
            """UPDATE agents SET pending = pending + 1, last_assigned_at = clock_timestamp()
                WHERE id = $1 AND status = 'online' AND pending < max_pending
            RETURNING last_assigned_at""",
            agent.agent_id,
        )
        if taken is None:
            continue  # another router filled this agent's last slot since we read it
        await conn.execute(
            """UPDATE conversations
                  SET status = 'assigned', assignee_id = $2, assigned_at = $3,
                      first_assigned_at = coalesce(first_assigned_at, $3)
                WHERE id = $1""",
            conversation["id"],
            agent.agent_id,
            taken["last_assigned_at"],
        )
        return Assignment(
            conversation_id=conversation["id"],
            agent_id=agent.agent_id,
            assigned_at=taken["last_assigned_at"],
            received_at=conversation["received_at"],
            first_time=conversation["first_assigned_at"] is None,
        )
    return None


async def queue_depth(conn: Connection) -> int:
    """How many conversations wait for an agent."""
    count = await conn.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'")
    return int(count or 0)
