"""Contacts: one person across channels, their identities and attributes; linking and merging them."""

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from router.merging import MergePlan, OpenConversation, plan_merge
from router.priority import REPEAT_WINDOW_DAYS
from services.postgres import Connection

_CONTACT = f"""SELECT c.id, c.display_name, c.attributes, c.merged_into, c.created_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('channel', i.channel, 'external_id', i.external_id)
                                  ORDER BY i.created_at, i.channel)
                   FROM contact_identities i WHERE i.contact_id = c.id), '[]') AS identities,
       (SELECT count(*) FROM conversations x WHERE x.contact_id = c.id
           AND x.created_at > now() - interval '{REPEAT_WINDOW_DAYS} days') AS recent_conversations
  FROM contacts c"""


async def get_contact(conn: Connection, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_CONTACT} WHERE c.id = $1", contact_id)


async def contact_by_identity(conn: Connection, channel: str, external_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""{_CONTACT} WHERE c.id = (SELECT contact_id FROM contact_identities
                                     WHERE channel = $1 AND external_id = $2)""",
        channel,
        external_id,
    )


async def owner_of(conn: Connection, channel: str, external_id: str) -> UUID | None:
    owner: UUID | None = await conn.fetchval(
        "SELECT contact_id FROM contact_identities WHERE channel = $1 AND external_id = $2", channel, external_id
    )
    return owner


async def create_contact(conn: Connection, display_name: str | None) -> UUID:
    contact_id: UUID = await conn.fetchval("INSERT INTO contacts (display_name) VALUES ($1) RETURNING id", display_name)
    return contact_id


async def add_identities(conn: Connection, contact_id: UUID, identities: list[tuple[str, str]]) -> None:
    """Give the contact these identities; an identity another contact holds is left with it."""
    await conn.executemany(
        "INSERT INTO contact_identities (channel, external_id, contact_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(channel, external_id, contact_id) for channel, external_id in identities],
    )


async def update_attributes(conn: Connection, contact_id: UUID, changes: dict[str, Any]) -> bool:
    """Set the given attributes (a null removes one); False when there is no such contact."""
    removed = [key for key, value in changes.items() if value is None]
    kept = {key: value for key, value in changes.items() if value is not None}
    updated = await conn.fetchval(
        "UPDATE contacts SET attributes = (attributes || $2::jsonb) - $3::text[] WHERE id = $1 RETURNING id",
        contact_id,
        kept,
        removed,
    )
    return updated is not None


@dataclass(frozen=True)
class MergeOutcome:
    plan: MergePlan
    freed_agent_id: UUID | None  # the closed conversation's agent, whose slot came back


async def merge_contacts(conn: Connection, survivor_id: UUID, merged_id: UUID) -> MergeOutcome | None:
    """Fold `merged_id` into `survivor_id` (in the caller's transaction): identities, attributes (the
    survivor's win) and conversations move; of two open conversations one absorbs the other (router/merging.py).
    None when either contact is missing or already merged."""
    rows = await conn.fetch(
        "SELECT id FROM contacts WHERE id = ANY($1::uuid[]) AND merged_into IS NULL ORDER BY id FOR UPDATE",
        [survivor_id, merged_id],
    )
    if len(rows) != 2:
        return None
    opened = {
        r["contact_id"]: OpenConversation(r["id"], r["status"], r["waiting_since"], r["assigned_at"])
        for r in await conn.fetch(
            """SELECT id, contact_id, status, waiting_since, assigned_at FROM conversations
                WHERE contact_id = ANY($1::uuid[]) AND status <> 'resolved' ORDER BY id FOR UPDATE""",
            [survivor_id, merged_id],
        )
    }
    plan = plan_merge(opened.get(survivor_id), opened.get(merged_id))
    freed: UUID | None = None
    if plan.close is not None and plan.keep is not None:
        await conn.execute("UPDATE messages SET conversation_id = $2 WHERE conversation_id = $1", plan.close, plan.keep)
        assignee: UUID | None = await conn.fetchval(
            """UPDATE conversations SET status = 'resolved', resolved_at = now() WHERE id = $1
               RETURNING assignee_id""",
            plan.close,
        )
        closed_was_assigned = any(c.conversation_id == plan.close and c.status == "assigned" for c in opened.values())
        if closed_was_assigned and assignee is not None:
            freed = await conn.fetchval("UPDATE agents SET pending = pending - 1 WHERE id = $1 RETURNING id", assignee)
    await conn.execute("UPDATE contact_identities SET contact_id = $1 WHERE contact_id = $2", survivor_id, merged_id)
    await conn.execute("UPDATE conversations SET contact_id = $1 WHERE contact_id = $2", survivor_id, merged_id)
    await conn.execute(
        """UPDATE contacts s SET attributes = m.attributes || s.attributes,
                  display_name = coalesce(s.display_name, m.display_name)
             FROM contacts m WHERE s.id = $1 AND m.id = $2""",
        survivor_id,
        merged_id,
    )
    await conn.execute("UPDATE contacts SET merged_into = $1 WHERE id = $2", survivor_id, merged_id)
    return MergeOutcome(plan, freed)
