"""Recording each open conversation's priority, decided by router/priority.py from its contact.

Decided when a conversation waits (the consumer, for each batch's queued conversations) and again when
the contact's attributes change (the contacts API), so the queue reads a stored, indexed level instead
of working it out for every waiting conversation on every drain.
"""

from uuid import UUID

from router.priority import REPEAT_WINDOW_DAYS, priority_of
from services.postgres import Connection

_FACTS = f"""SELECT c.id, c.priority, ct.attributes,
       (SELECT count(*) FROM conversations x WHERE x.contact_id = c.contact_id
           AND x.created_at > now() - interval '{REPEAT_WINDOW_DAYS} days') AS recent
  FROM conversations c JOIN contacts ct ON ct.id = c.contact_id"""


async def decide_priorities(conn: Connection, conversation_ids: list[UUID]) -> None:
    """Record the priority of these conversations (those still open)."""
    rows = await conn.fetch(f"{_FACTS} WHERE c.id = ANY($1::uuid[]) AND c.status <> 'resolved'", conversation_ids)
    await _record(conn, [(r["id"], r["priority"], priority_of(r["attributes"], int(r["recent"])).level) for r in rows])


async def decide_contact_priority(conn: Connection, contact_id: UUID) -> None:
    """Record the priority of the contact's open conversation, after their attributes changed."""
    rows = await conn.fetch(f"{_FACTS} WHERE c.contact_id = $1 AND c.status <> 'resolved'", contact_id)
    await _record(conn, [(r["id"], r["priority"], priority_of(r["attributes"], int(r["recent"])).level) for r in rows])


async def _record(conn: Connection, decided: list[tuple[UUID, int, int]]) -> None:
    changed = [(conversation_id, level) for conversation_id, stored, level in decided if stored != level]
    if changed:
        await conn.executemany("UPDATE conversations SET priority = $2 WHERE id = $1", changed)
