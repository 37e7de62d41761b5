"""The assignment queue: read what waits and who is free, and apply one assignment at a time.

Concurrency (in `assign_conversation`, migration 0005): the queued conversation is taken with SKIP LOCKED,
so routers never wait on each other's conversations; the agent's slot is taken by an UPDATE that
re-checks status and cap, so a slot is never given twice. Each call assigns at most one conversation
and locks at most one agent, so two routers cannot deadlock on agents. Which conversation and which
agents is decided in router/queueing.py.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from router.assignment import AgentLoad
from router.priority import REPEAT_WINDOW_DAYS, priority_of
from router.queueing import Match, QueuedConversation
from services.postgres import Connection

# How much of the queue one drain considers: the longest waiting, and the longest waiting among contacts
# with attributes (where VIPs are). A fresh repeat contact behind a backlog larger than this waits for
# ageing to bring them forward.
QUEUE_WINDOW = 300
ATTRIBUTED_WINDOW = 200


@dataclass(frozen=True)
class Assignment:
    """A conversation given to an agent, committed by `assign_conversation`."""

    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    received_at: datetime
    first_time: bool  # False when a released conversation is reassigned
    widened: bool = False  # no agent with the skill or language had room in time


async def free_agents(conn: Connection) -> list[AgentLoad]:
    """Online agents under their cap, as of this statement."""
    rows = await conn.fetch(
        """SELECT id, status, pending, max_pending, last_assigned_at, status_changed_at, skills, languages
             FROM agents WHERE status = 'online' AND pending < max_pending"""
    )
    return [
        AgentLoad(
            r["id"],
            r["status"],
            r["pending"],
            r["max_pending"],
            r["last_assigned_at"],
            r["status_changed_at"],
            frozenset(r["skills"]),
            frozenset(r["languages"]),
        )
        for r in rows
    ]


async def queued_conversations(conn: Connection) -> list[QueuedConversation]:
    """The waiting conversations one drain considers, each with its priority decided from its contact."""
    rows = await conn.fetch(
        f"""WITH window_ AS (
                (SELECT c.id FROM conversations c WHERE c.status = 'queued' ORDER BY c.waiting_since LIMIT $1)
                UNION
                (SELECT c.id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
                  WHERE c.status = 'queued' AND ct.attributes <> '{{}}'::jsonb
                  ORDER BY c.waiting_since LIMIT $2))
            SELECT c.id, c.waiting_since, c.required_skill, c.language, ct.attributes,
                   (SELECT count(*) FROM conversations x WHERE x.contact_id = c.contact_id
                       AND x.created_at > now() - interval '{REPEAT_WINDOW_DAYS} days') AS recent
              FROM window_ w JOIN conversations c ON c.id = w.id JOIN contacts ct ON ct.id = c.contact_id""",
        QUEUE_WINDOW,
        ATTRIBUTED_WINDOW,
    )
    return [
        QueuedConversation(
            conversation_id=r["id"],
            priority=priority_of(r["attributes"], int(r["recent"])).level,
            waiting_since=r["waiting_since"],
            required_skill=r["required_skill"],
            language=r["language"],
        )
        for r in rows
    ]


@dataclass(frozen=True)
class NoSlot:
    """A conversation waits, but none of the ranked agents still had room."""


async def assign_conversation(
    conn: Connection, conversation: QueuedConversation, match: Match
) -> Assignment | NoSlot | None:
    """Give `conversation` to the first agent of `match` with a slot; None when it is no longer queued here."""
    row = await conn.fetchrow(
        "SELECT * FROM assign_conversation($1, $2::uuid[], $3)",
        conversation.conversation_id,
        [a.agent_id for a in match.agents],
        match.widened,
    )
    if row is None:
        return None
    if row["agent_id"] is None:
        return NoSlot()
    if conversation.priority:  # recorded for the agent's view; the queue decides it afresh each time
        await conn.execute(
            "UPDATE conversations SET priority = $2 WHERE id = $1", conversation.conversation_id, conversation.priority
        )
    return Assignment(
        conversation_id=row["conversation_id"],
        agent_id=row["agent_id"],
        assigned_at=row["assigned_at"],
        received_at=row["received_at"],
        first_time=row["first_time"],
        widened=match.widened,
    )


async def anyone_waiting(conn: Connection) -> bool:
    """Whether any conversation is queued: cheap (a partial index), so the queue is not run for nothing."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM conversations WHERE status = 'queued')"))


async def queue_depth(conn: Connection) -> int:
    """How many conversations wait for an agent."""
    count = await conn.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'")
    return int(count or 0)
