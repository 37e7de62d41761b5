"""Agents: creation, lookup by token, presence. Going offline releases the agent's conversations."""

from dataclasses import dataclass
from uuid import UUID

import asyncpg

from services.postgres import Connection

_AGENT_COLUMNS = "id, name, status, pending, max_pending, skills, languages, last_assigned_at, created_at"


@dataclass(frozen=True)
class PresenceChange:
    """The agent after a presence change, and the conversations it gave back to the queue."""

    agent: asyncpg.Record
    released: list[UUID]


async def create_agent(
    conn: Connection, name: str, token_hash: str, skills: list[str], languages: list[str], max_pending: int
) -> asyncpg.Record:
    """Insert an agent, offline until they say otherwise."""
    row = await conn.fetchrow(
        f"""INSERT INTO agents (name, token_hash, skills, languages, max_pending)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_AGENT_COLUMNS}""",
        name,
        token_hash,
        skills,
        languages,
        max_pending,
    )
    assert row is not None
    return row


async def agent_by_token_hash(conn: Connection, token_hash: str) -> UUID | None:
    """The agent holding this token, if any."""
    agent_id: UUID | None = await conn.fetchval("SELECT id FROM agents WHERE token_hash = $1", token_hash)
    return agent_id


async def get_agent(conn: Connection, agent_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE id = $1", agent_id)


async def list_agents(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, id")


async def set_presence(conn: Connection, agent_id: UUID, status: str) -> asyncpg.Record | None:
    """Change an agent's presence in one statement, committed before anything else is done.

    Going offline must take effect first: the queue's slot UPDATE only fills online agents, so once this
    commits no new conversation can reach the agent while `release_conversations` hands theirs back.
    (Releasing first let a concurrent assignment land on the agent in between and stay there.)
    """
    return await conn.fetchrow(
        f"""UPDATE agents
               SET status_changed_at = CASE WHEN status = $2 THEN status_changed_at ELSE now() END,
                   status = $2
             WHERE id = $1 RETURNING {_AGENT_COLUMNS}""",
        agent_id,
        status,
    )


async def release_conversations(conn: Connection, agent_id: UUID) -> PresenceChange | None:
    """Return an offline agent's assigned conversations to the queue and free their slots (one transaction).

    Conversations are locked before the agent row, the same order as resolving one, so the two never
    deadlock. Released conversations keep their `waiting_since`, so they go ahead of newer ones. Nothing
    is released if the agent came back online meanwhile.
    """
    released = [
        r["id"]
        for r in await conn.fetch(
            """UPDATE conversations SET status = 'queued', assignee_id = NULL, assigned_at = NULL
                WHERE assignee_id = $1 AND status = 'assigned'
                  AND EXISTS (SELECT 1 FROM agents WHERE id = $1 AND status = 'offline') RETURNING id""",
            agent_id,
        )
    ]
    agent = await conn.fetchrow(
        f"UPDATE agents SET pending = pending - $2 WHERE id = $1 RETURNING {_AGENT_COLUMNS}", agent_id, len(released)
    )
    return None if agent is None else PresenceChange(agent, released)


# Going offline is two steps a few milliseconds apart (status, then release); an agent still holding
# conversations this long after going offline was not released (a crash between the steps).
STRANDED_AFTER = "5 seconds"


async def offline_agents_holding_conversations(conn: Connection) -> list[UUID]:
    """Agents offline for a while who still hold conversations: a release that did not happen."""
    rows = await conn.fetch(
        f"""SELECT DISTINCT c.assignee_id FROM conversations c JOIN agents a ON a.id = c.assignee_id
             WHERE c.status = 'assigned' AND a.status = 'offline'
               AND a.status_changed_at < now() - interval '{STRANDED_AFTER}'"""
    )
    return [r["assignee_id"] for r in rows]


async def agents_by_status(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM agents GROUP BY status")
    counts = {"online": 0, "away": 0, "offline": 0}
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts
