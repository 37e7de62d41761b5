"""Moving an assigned conversation to another agent, or back to the queue, in one transaction each.

Locks are taken in the global order, the conversation first, then the agents in id order, so a transfer
cannot deadlock with a resolve, a release, the queue or another transfer. The receiving agent's slot is
taken by the queue's conditional UPDATE (`pending < max_pending` on an online agent), and the table's
CHECK backs it: a transfer never puts anyone over their cap.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import asyncpg

from router.store.conversations import CONVERSATION_COLUMNS
from router.transfer import AgentSlots, HeldConversation, Refusal, refuse_transfer
from services.postgres import Connection


@dataclass(frozen=True)
class Transferred:
    """A committed transfer: the conversation as it is now, who lost it and who (if anyone) has it."""

    conversation: asyncpg.Record
    previous_agent_id: UUID
    new_agent_id: UUID | None  # None: back in the queue
    at: datetime


async def transfer(
    conn: Connection, conversation_id: UUID, to_agent_id: UUID | None, acting_agent: UUID | None
) -> Transferred | Refusal | None:
    """Move the conversation to `to_agent_id` (None: the queue), asked by `acting_agent` (None: an admin).

    Run in a transaction. None when there is no such conversation.
    """
    held = await conn.fetchrow(
        "SELECT status, assignee_id FROM conversations WHERE id = $1 FOR UPDATE", conversation_id
    )
    if held is None:
        return None
    agent_ids = sorted({a for a in (held["assignee_id"], to_agent_id) if a is not None})
    agents = {
        r["id"]: r
        for r in await conn.fetch(
            "SELECT id, status, pending, max_pending FROM agents WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE",
            agent_ids,
        )
    }
    target = agents.get(to_agent_id) if to_agent_id is not None else None
    refusal = refuse_transfer(
        HeldConversation(held["status"], held["assignee_id"]),
        acting_agent,
        to_agent_id,
        None
        if target is None
        else AgentSlots(target["id"], target["status"], target["pending"], target["max_pending"]),
    )
    if refusal is not None:
        return refusal
    previous: UUID = held["assignee_id"]
    if to_agent_id is None:
        return await _to_queue(conn, conversation_id, previous)
    return await _to_agent(conn, conversation_id, previous, to_agent_id)


async def _to_agent(conn: Connection, conversation_id: UUID, previous: UUID, to_agent_id: UUID) -> Transferred:
    # One statement: the conversation moves only if the slot was taken; the rows are locked and checked,
    # so it is, but the cap never depends on that.
    row = await conn.fetchrow(
        f"""WITH taken AS (
                UPDATE agents SET pending = pending + 1, last_assigned_at = clock_timestamp()
                 WHERE id = $2 AND status = 'online' AND pending < max_pending
             RETURNING last_assigned_at),
            freed AS (
                UPDATE agents SET pending = pending - 1 WHERE id = $3 AND EXISTS (SELECT 1 FROM taken))
            UPDATE conversations c SET assignee_id = $2, assigned_at = (SELECT last_assigned_at FROM taken)
              FROM accounts a
             WHERE c.id = $1 AND a.id = c.account_id AND EXISTS (SELECT 1 FROM taken)
         RETURNING {CONVERSATION_COLUMNS}""",
        conversation_id,
        to_agent_id,
        previous,
    )
    assert row is not None, "the receiving agent's slot was checked under lock"
    return Transferred(row, previous, to_agent_id, row["assigned_at"])


async def _to_queue(conn: Connection, conversation_id: UUID, previous: UUID) -> Transferred:
    # It keeps its `waiting_since`: the customer has been waiting all along, so they keep their place.
    row = await conn.fetchrow(
        f"""WITH freed AS (UPDATE agents SET pending = pending - 1 WHERE id = $2)
            UPDATE conversations c SET status = 'queued', assignee_id = NULL, assigned_at = NULL
              FROM accounts a
             WHERE c.id = $1 AND a.id = c.account_id
         RETURNING {CONVERSATION_COLUMNS}, now() AS at""",
        conversation_id,
        previous,
    )
    assert row is not None, "the conversation is locked"
    return Transferred(row, previous, None, row["at"])
