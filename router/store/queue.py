"""The assignment queue: read what waits and who is free, and apply one assignment at a time.

Concurrency (in `assign_first_available`, migration 0007): the queued conversation is taken with SKIP LOCKED,
so routers never wait on each other's conversations; the agent's slot is taken by an UPDATE that
re-checks status and cap, so a slot is never given twice. Each call assigns at most one conversation
and locks at most one agent, so two routers cannot deadlock on agents. Which conversation and which
agents is decided in router/queueing.py.
"""

from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from router.assignment import AgentLoad
from router.priority import LEVELS
from router.queueing import Match, QueuedConversation
from services.postgres import Connection

# How much of the queue one drain considers, per priority level: more than the free slots it can fill,
# with room for conversations no free agent matches.
WINDOW_PER_LEVEL = 50
_AGENT_LOAD_COLUMNS = (
    "id",
    "status",
    "pending",
    "max_pending",
    "last_assigned_at",
    "status_changed_at",
    "skills",
    "languages",
)


@dataclass(frozen=True)
class Assignment:
    """A conversation given to an agent, committed by `assign_first_available`."""

    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    received_at: datetime
    first_time: bool  # False when a released conversation is reassigned
    widened: bool = False  # no agent with the skill or language had room in time


def agent_load_columns(alias: str) -> str:
    """The agent columns `agent_load` reads, in its order, of the table or CTE aliased `alias`."""
    return ", ".join(f"{alias}.{column}" for column in _AGENT_LOAD_COLUMNS)


def agent_load(values: Iterable[Any]) -> AgentLoad:
    """An agent's load from the columns of `agent_load_columns`, as a record or a whole-row value."""
    agent_id, status, pending, max_pending, last_assigned_at, status_changed_at, skills, languages = values
    return AgentLoad(
        agent_id,
        status,
        pending,
        max_pending,
        last_assigned_at,
        status_changed_at,
        frozenset(skills),
        frozenset(languages),
    )


async def free_agents(conn: Connection, only: AbstractSet[UUID] | None = None) -> list[AgentLoad]:
    """Online agents under their cap (of `only`, when given), as of this statement; none while no conversation
    is queued (a partial index answers that), so a drain with nothing to give costs this one statement."""
    rows = await conn.fetch(
        f"""SELECT {agent_load_columns("a")}
              FROM agents a WHERE a.status = 'online' AND a.pending < a.max_pending
               AND ($1::uuid[] IS NULL OR a.id = ANY($1::uuid[]))
               AND EXISTS (SELECT 1 FROM conversations WHERE status = 'queued')""",
        None if only is None else list(only),
    )
    return [agent_load(row) for row in rows]


async def queued_conversations(conn: Connection) -> list[QueuedConversation]:
    """The waiting conversations one drain considers: the longest waiting of each priority level.

    Within a level urgency grows with the wait, so the most urgent conversations overall are among these.
    """
    rows = await conn.fetch(
        """SELECT q.* FROM unnest($1::int[]) AS level(priority)
             CROSS JOIN LATERAL (
                 SELECT c.id, c.priority, c.waiting_since, c.required_skill, c.language
                   FROM conversations c WHERE c.status = 'queued' AND c.priority = level.priority
                  ORDER BY c.waiting_since LIMIT $2) q""",
        list(LEVELS),
        WINDOW_PER_LEVEL,
    )
    return [
        QueuedConversation(
            conversation_id=r["id"],
            priority=r["priority"],
            waiting_since=r["waiting_since"],
            required_skill=r["required_skill"],
            language=r["language"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class NoSlot:
    """A conversation waits, but none of the ranked agents still had room."""


async def assign_first_available(
    conn: Connection, candidates: list[tuple[QueuedConversation, Match]]
) -> Assignment | NoSlot | None:
    """Give the first candidate still waiting to the first of its agents with a slot.

    None when every candidate was taken or held by another drain; NoSlot when the first one available
    found none of its agents with room.
    """
    row = await conn.fetchrow(
        "SELECT * FROM assign_first_available($1::uuid[], $2::jsonb, $3::boolean[])",
        [conversation.conversation_id for conversation, _ in candidates],
        [[str(agent.agent_id) for agent in match.agents] for _, match in candidates],
        [match.widened for _, match in candidates],
    )
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
        widened=row["widened"],
    )


async def queue_depth(conn: Connection) -> int:
    """How many conversations wait for an agent."""
    count = await conn.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'")
    return int(count or 0)
