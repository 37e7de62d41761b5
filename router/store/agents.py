"""Agents: creation, lookup by token, presence and heartbeats. Logging off releases the agent's conversations
at once; an agent timed out for silence keeps them for a grace period (decided in router/presence.py)."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from router.presence import OfflineHold, Seen
from services.postgres import Connection

_AGENT_COLUMNS = """id, name, status, pending, max_pending, skills, languages, last_assigned_at, created_at,
    status_changed_at, last_seen_at, offline_reason"""


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


async def replace_token(conn: Connection, agent_id: UUID, token_hash: str | None) -> bool:
    """Give the agent a new token hash (None: no token at all); False for an unknown agent. The old token
    stops matching in the same statement."""
    replaced = await conn.fetchval(
        "UPDATE agents SET token_hash = $2, token_issued_at = now() WHERE id = $1 RETURNING id", agent_id, token_hash
    )
    return replaced is not None


async def get_agent(conn: Connection, agent_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {_AGENT_COLUMNS} FROM agents WHERE id = $1", agent_id)


async def list_agents(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_AGENT_COLUMNS} FROM agents ORDER BY created_at, id")


async def set_presence(conn: Connection, agent_id: UUID, status: str) -> asyncpg.Record | None:
    """Change an agent's presence in one statement, committed before anything else is done.

    Going offline must take effect first: the queue's slot UPDATE only fills online agents, so once this
    commits no new conversation can reach the agent while `release_conversations` hands theirs back.
    (Releasing first let a concurrent assignment land on the agent in between and stay there.)
    Saying so is also a sign of life, and going offline this way is logging off.
    """
    return await conn.fetchrow(
        f"""UPDATE agents
               SET status_changed_at = CASE WHEN status = $2 THEN status_changed_at ELSE now() END,
                   status = $2,
                   offline_reason = CASE WHEN $2 = 'offline' THEN 'logged_off' END,
                   last_seen_at = now()
             WHERE id = $1 RETURNING {_AGENT_COLUMNS}""",
        agent_id,
        status,
    )


async def record_heartbeat(conn: Connection, agent_id: UUID) -> bool:
    """Note that the agent's client is there; False for an unknown agent. It does not change presence:
    an agent the sweep already timed out comes back by setting their presence."""
    seen = await conn.fetchval("UPDATE agents SET last_seen_at = now() WHERE id = $1 RETURNING id", agent_id)
    return seen is not None


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


async def database_clock(conn: Connection) -> datetime:
    """The database's now: presence is decided against the clock its timestamps were written with."""
    now: datetime = await conn.fetchval("SELECT now()")
    return now


async def present_agents(conn: Connection) -> list[Seen]:
    """Agents online or away, with when they were last heard from."""
    rows = await conn.fetch("SELECT id, last_seen_at FROM agents WHERE status <> 'offline'")
    return [Seen(r["id"], r["last_seen_at"]) for r in rows]


async def time_out(conn: Connection, agent_ids: list[UUID], silent_before: datetime) -> list[UUID]:
    """Mark these agents offline for silence, each only if still not offline and still silent since before
    `silent_before`; returns those marked. One statement: a heartbeat committed first keeps its agent
    (the condition is re-checked on the row it wrote), one committed after finds the agent offline.

    The rows are locked in id order, the order a transfer locks two agents in, so the two cannot deadlock.
    """
    rows = await conn.fetch(
        """WITH silent AS (
               SELECT id FROM agents
                WHERE id = ANY($1::uuid[]) AND status <> 'offline' AND last_seen_at < $2
                ORDER BY id FOR UPDATE)
           UPDATE agents a SET status = 'offline', offline_reason = 'heartbeat_timeout', status_changed_at = now()
             FROM silent WHERE a.id = silent.id RETURNING a.id""",
        agent_ids,
        silent_before,
    )
    return [r["id"] for r in rows]


async def offline_agents_holding_conversations(conn: Connection) -> list[OfflineHold]:
    """Offline agents who still hold conversations: timed out and inside their grace, or whose release
    did not happen. Which are due a release is router/presence.py's decision."""
    rows = await conn.fetch(
        """SELECT a.id, a.offline_reason, a.status_changed_at FROM agents a
            WHERE a.status = 'offline'
              AND EXISTS (SELECT 1 FROM conversations c WHERE c.assignee_id = a.id AND c.status = 'assigned')"""
    )
    return [OfflineHold(r["id"], r["offline_reason"], r["status_changed_at"]) for r in rows]


async def release_hold(conn: Connection, hold: OfflineHold) -> list[UUID]:
    """Return the conversations of `hold`'s agent to the queue and free their slots, in one statement.

    Only if the agent is still offline for the same reason since the same moment: one who came back (or
    came back and left again) before the statement keeps theirs; one coming back during it loses them,
    cleanly (pending is lowered by exactly what was released). The conversations are locked before the
    agent row, the order everywhere else, and keep their `waiting_since`, so they go ahead of newer ones.
    """
    rows = await conn.fetch(
        """WITH released AS (
               UPDATE conversations c SET status = 'queued', assignee_id = NULL, assigned_at = NULL
                 FROM agents a
                WHERE c.assignee_id = $1 AND c.status = 'assigned'
                  AND a.id = $1 AND a.status = 'offline' AND a.status_changed_at = $2
                  AND a.offline_reason IS NOT DISTINCT FROM $3
            RETURNING c.id),
           freed AS (
               UPDATE agents SET pending = pending - (SELECT count(*) FROM released)
                WHERE id = $1 AND EXISTS (SELECT 1 FROM released))
           SELECT id FROM released""",
        hold.agent_id,
        hold.offline_since,
        hold.reason,
    )
    return [r["id"] for r in rows]


async def agents_by_status(conn: Connection) -> dict[str, int]:
    rows = await conn.fetch("SELECT status, count(*) AS n FROM agents GROUP BY status")
    counts = {"online": 0, "away": 0, "offline": 0}
    counts.update({r["status"]: int(r["n"]) for r in rows})
    return counts
