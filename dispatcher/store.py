"""The dispatcher's SQL: adopt a reply, claim it with a lease, record what the provider said.

adopt:    the reply's record is kept in its row (`outbound_record`) with a hand-off deadline in
          `next_attempt_at`, before the Kafka offset is committed: if this process dies before
          sending, the scheduler finds it due and sends it.
claim:    pending -> sending, with a lease (`lease_expires_at`). A replayed record or a second
          dispatcher finds it claimed and sends nothing twice. An earlier reply of the same
          conversation still on its way holds it back, so replies reach the customer in order.
          The claims of one event-loop turn are one statement (dispatcher/claims.py).
then:     sent | scheduled (back to pending, `next_attempt_at`) | unknown | failed.
reap:     a lease that ran out (the dispatcher died mid-send) is settled: resent where the provider
          makes it safe, else `unknown`, announced on the agent's stream in the same transaction.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from schemas.assignment import DeliveryUnknownEvent
from schemas.delivery import OutboundStatus, furthest
from schemas.outbound import OutboundMessage
from schemas.wire import encode
from services.kafka import Topics
from services.postgres import OUTBOX_CHANNEL, Connection

log = logging.getLogger(__name__)

# An earlier reply of the conversation that is still to be sent (scheduled, or being sent) holds this one.
_HELD_BEHIND = """EXISTS (SELECT 1 FROM messages e
                          WHERE e.conversation_id = m.conversation_id AND e.direction = 'outbound'
                            AND e.created_at < m.created_at AND e.id <> m.id
                            AND (e.delivery_status = 'sending'
                                 OR (e.delivery_status = 'pending' AND e.next_attempt_at IS NOT NULL)))"""
# Once a reply is settled, the later replies of its conversation that were only held behind it (never failed
# themselves) are due at once. A CTE over `marked` (conversation_id, created_at of the settled reply).
# `coalesce(next_attempt_at, ...) > now()` rather than `next_attempt_at > now()`: the plain comparison lets the
# planner read the dispatch-due partial index (every adopted reply, hundreds under load) and filter it by
# conversation, which made each settle 3x slower; written so, only the conversation's own index applies.
_WAKE_HELD = """woken AS (
                   UPDATE messages w SET next_attempt_at = now() FROM marked
                    WHERE w.conversation_id = marked.conversation_id AND w.direction = 'outbound'
                      AND w.created_at > marked.created_at AND w.delivery_status = 'pending'
                      AND coalesce(w.next_attempt_at, '-infinity') > now() AND w.last_error IS NULL
                      AND w.outbound_record IS NOT NULL)"""


@dataclass(frozen=True)
class Due:
    """A reply the scheduler or reaper took from the database, with the record to send it by."""

    outbound: OutboundMessage
    claimed_at: datetime | None = None
    attempts: int = 0  # provider calls made for it so far


async def adopt(conn: Connection, replies: list[OutboundMessage], hand_off_s: float) -> set[UUID]:
    """Keep each pending, not yet adopted reply's record in its row; the ids adopted (the rest: replays)."""
    rows = await conn.fetch(
        """UPDATE messages m SET outbound_record = r.record, next_attempt_at = now() + make_interval(secs => $3)
             FROM unnest($1::uuid[], $2::jsonb[]) AS r(id, record)
            WHERE m.id = r.id AND m.delivery_status = 'pending' AND m.next_attempt_at IS NULL
        RETURNING m.id""",
        [reply.message_id for reply in replies],
        [reply.model_dump(mode="json") for reply in replies],
        hand_off_s,
    )
    return {row["id"] for row in rows}


Claim = tuple[str, datetime | None]


async def claim_all(conn: Connection, message_ids: Sequence[UUID], lease_s: float) -> dict[UUID, Claim]:
    """Take pending replies for sending under a lease, in one statement; each id's outcome:

    ("claimed", None); ("held", until) when an earlier reply of the conversation must go first (until:
    when that one is due, or its lease ends); ("gone", None) when it was sent, settled or taken meanwhile.

    The statement reads one snapshot, so two replies of one conversation claimed together are decided as if
    one after the other: the later one finds the earlier still pending and adopted (`next_attempt_at` set)
    and is held behind it, as it would be behind it `sending`.
    """
    rows = await conn.fetch(
        f"""UPDATE messages m SET delivery_status = 'sending', delivery_updated_at = now(),
                   lease_expires_at = now() + make_interval(secs => $2), send_attempts = send_attempts + 1,
                   next_attempt_at = NULL
             WHERE id = ANY($1::uuid[]) AND delivery_status = 'pending' AND NOT {_HELD_BEHIND}
         RETURNING id""",
        list(message_ids),
        lease_s,
    )
    outcomes: dict[UUID, Claim] = {row["id"]: ("claimed", None) for row in rows}
    others = [message_id for message_id in message_ids if message_id not in outcomes]
    if others:
        held = await conn.fetch(
            """SELECT m.id, m.delivery_status = 'pending' AS pending,
                      (SELECT max(COALESCE(e.next_attempt_at, e.lease_expires_at)) FROM messages e
                        WHERE e.conversation_id = m.conversation_id AND e.direction = 'outbound'
                          AND e.created_at < m.created_at AND e.delivery_status IN ('pending', 'sending')) AS until
                 FROM messages m WHERE m.id = ANY($1::uuid[])""",
            others,
        )
        for row in held:
            if row["pending"]:
                outcomes[row["id"]] = ("held", row["until"])
    return {message_id: outcomes.get(message_id, ("gone", None)) for message_id in message_ids}


async def renew(conn: Connection, message_id: UUID, lease_s: float) -> bool:
    """Extend a claim for one more attempt; False when it is no longer ours (the reaper settled it)."""
    renewed = await conn.fetchval(
        """UPDATE messages SET lease_expires_at = now() + make_interval(secs => $2), send_attempts = send_attempts + 1
            WHERE id = $1 AND delivery_status = 'sending' RETURNING id""",
        message_id,
        lease_s,
    )
    return renewed is not None


async def wake_retries(conn: Connection, channel: str, account_external_id: str) -> None:
    """Make an account's backed-off retries due now: its provider answered again after an outage. Replies held
    behind an earlier one of their conversation stay behind it: the claim checks that, not this."""
    await conn.execute(
        """UPDATE messages m SET next_attempt_at = now()
             FROM accounts a
            WHERE a.channel = $1 AND a.external_id = $2 AND m.account_id = a.id AND m.direction = 'outbound'
              AND m.delivery_status = 'pending' AND m.next_attempt_at > now()""",
        channel,
        account_external_id,
    )


async def schedule(
    conn: Connection, message_id: UUID, at: datetime, error: dict[str, Any] | None, *, claimed: bool
) -> None:
    """Set the reply's next attempt at `at`, keeping the last error: releasing our claim when `claimed`, or
    deferring a reply nobody holds (an open circuit, a reply held behind an earlier one).

    Unclaimed, only a `pending` reply moves: one `sending` is another task's or dispatcher's, mid-call, and
    turning it back to `pending` would let the scheduler send it again beside that call (the 503 storm in
    `make chaos` delivered one reply twice that way, when a republished record met an open circuit).
    """
    await conn.execute(
        """UPDATE messages SET delivery_status = 'pending', delivery_updated_at = now(), lease_expires_at = NULL,
                  next_attempt_at = $2, last_error = COALESCE($3, last_error)
            WHERE id = $1 AND (delivery_status = 'pending' OR ($4 AND delivery_status = 'sending'))""",
        message_id,
        at,
        error,
        claimed,
    )


async def take_due(conn: Connection, limit: int, hand_off_s: float) -> list[Due]:
    """Adopt the retries that are due (SKIP LOCKED: several dispatchers share them), oldest reply first."""
    rows = await conn.fetch(
        """WITH due AS (SELECT id FROM messages
                         WHERE delivery_status = 'pending' AND next_attempt_at <= now() AND outbound_record IS NOT NULL
                         ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
           UPDATE messages m SET next_attempt_at = now() + make_interval(secs => $2)
             FROM due WHERE m.id = due.id
         RETURNING m.outbound_record, m.created_at, m.send_attempts""",
        limit,
        hand_off_s,
    )
    rows = sorted(rows, key=lambda row: row["created_at"])
    return [Due(OutboundMessage.model_validate(row["outbound_record"]), attempts=row["send_attempts"]) for row in rows]


async def take_expired_leases(conn: Connection, limit: int) -> list[Due]:
    """Lock the replies whose lease ran out, in the caller's transaction, with when they were claimed."""
    rows = await conn.fetch(
        """SELECT outbound_record, delivery_updated_at FROM messages
            WHERE delivery_status = 'sending' AND lease_expires_at < now() AND outbound_record IS NOT NULL
            ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [Due(OutboundMessage.model_validate(r["outbound_record"]), r["delivery_updated_at"]) for r in rows]


async def mark_unknown(conn: Connection, topics: Topics, outbound: OutboundMessage, detail: str, now: datetime) -> bool:
    """Record that the provider may or may not have the reply, and tell the conversation's agent, in one
    transaction (a savepoint of the caller's): the state and its announcement commit together."""
    async with conn.transaction():
        row = await conn.fetchrow(
            f"""WITH marked AS (
                   UPDATE messages SET delivery_status = 'unknown', delivery_updated_at = now(),
                          lease_expires_at = NULL, delivery_error = $2
                    WHERE id = $1 AND delivery_status = 'sending' RETURNING conversation_id, created_at),
               {_WAKE_HELD}
               SELECT c.assignee_id FROM marked LEFT JOIN conversations c ON c.id = marked.conversation_id""",
            outbound.message_id,
            {"code": "outcome_unknown", "reason": "outcome_unknown", "detail": detail},
        )
        if row is None:
            return False
        agent_id: UUID | None = row["assignee_id"]
        if agent_id is not None:
            event = DeliveryUnknownEvent(
                message_id=outbound.message_id,
                conversation_id=outbound.conversation_id,
                agent_id=agent_id,
                channel=outbound.channel,
                detail=detail,
                occurred_at=now,
            )
            # router.store.outbox.enqueue's INSERT ... SELECT * FROM unnest(...) WITH ORDINALITY writes its
            # ordinality column too and is refused by PostgreSQL; one row needs no unnest.
            # The dispatcher runs no relay to ring (router/outbox.py OutboxBell): it notifies in the transaction,
            # which is rare enough (an outcome unknown) for the notification lock not to matter.
            await conn.execute(
                "INSERT INTO outbox (topic, key, value) VALUES ($1, $2, $3)",
                topics.assignments,
                str(agent_id).encode(),
                encode(event),
            )
            await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
    return True


async def mark_sent(conn: Connection, message_id: UUID, channel: str, provider_message_id: str) -> OutboundStatus:
    """Record the provider's id, applying any receipt that arrived before we knew the id.

    Usually no receipt is early, and this is one statement; otherwise the furthest status wins.
    """
    try:
        early: list[OutboundStatus] | None = await conn.fetchval(
            f"""WITH early AS (SELECT array_agg(status) AS statuses FROM delivery_receipts
                                WHERE channel = $2 AND provider_message_id = $3),
                    marked AS (
                        UPDATE messages SET provider_message_id = $3, delivery_status = 'sent',
                               delivery_updated_at = now(), lease_expires_at = NULL, next_attempt_at = NULL
                         WHERE id = $1 RETURNING conversation_id, created_at),
                    {_WAKE_HELD}
                SELECT (SELECT statuses FROM early) FROM marked""",
            message_id,
            channel,
            provider_message_id,
        )
    except asyncpg.UniqueViolationError:
        # The provider gave an id another message already has: its ids are not what we took them for.
        # The message was sent all the same; keep that, without the id (its receipts cannot be matched),
        # rather than fail the batch and replay it forever.
        log.error(
            "%s reused provider id %s: reply %s recorded as sent without it", channel, provider_message_id, message_id
        )
        await conn.execute(
            """UPDATE messages SET delivery_status = 'sent', delivery_updated_at = now(), lease_expires_at = NULL,
                      next_attempt_at = NULL WHERE id = $1""",
            message_id,
        )
        return "sent"
    status = furthest("sent", early or [])
    if status != "sent":
        await conn.execute("UPDATE messages SET delivery_status = $2 WHERE id = $1", message_id, status)
    return status


@dataclass(frozen=True)
class Sent:
    """A reply the provider accepted, with the id it gave it."""

    message_id: UUID
    channel: str
    provider_message_id: str


async def mark_sent_all(conn: Connection, sent: Sequence[Sent]) -> dict[Sent, OutboundStatus]:
    """`mark_sent` for several replies in one statement (dispatcher/sent_records.py); each one's status.

    Should a provider id already belong to another message, the statement fails as a whole and each reply is
    recorded by `mark_sent` on its own, which keeps that one sent without the id."""
    try:
        rows = await conn.fetch(
            f"""WITH sent AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) AS s(id, channel, provider_id)),
                    early AS (SELECT s.id, array_agg(r.status) AS statuses FROM sent s
                                JOIN delivery_receipts r
                                  ON r.channel = s.channel AND r.provider_message_id = s.provider_id
                               GROUP BY s.id),
                    marked AS (
                        UPDATE messages m SET provider_message_id = s.provider_id, delivery_status = 'sent',
                               delivery_updated_at = now(), lease_expires_at = NULL, next_attempt_at = NULL
                          FROM sent s WHERE m.id = s.id RETURNING m.id, m.conversation_id, m.created_at),
                    {_WAKE_HELD}
                SELECT marked.id, early.statuses FROM marked LEFT JOIN early ON early.id = marked.id""",
            [s.message_id for s in sent],
            [s.channel for s in sent],
            [s.provider_message_id for s in sent],
        )
    except asyncpg.UniqueViolationError:
        return {s: await mark_sent(conn, s.message_id, s.channel, s.provider_message_id) for s in sent}
    early = {row["id"]: row["statuses"] or [] for row in rows}
    statuses: dict[Sent, OutboundStatus] = {}
    for s in sent:
        status = furthest("sent", early.get(s.message_id, []))
        if status != "sent":  # a receipt came before we knew the id: rare, one statement each
            await conn.execute("UPDATE messages SET delivery_status = $2 WHERE id = $1", s.message_id, status)
        statuses[s] = status
    return statuses


async def mark_failed(conn: Connection, message_id: UUID, error: dict[str, Any], *, claimed: bool) -> None:
    """Record that the reply will not be sent, and why: one we claimed, or (unclaimed, as `schedule`) only a
    `pending` one, never one another call is sending."""
    await conn.execute(
        f"""WITH marked AS (
                UPDATE messages SET delivery_status = 'failed', delivery_error = $2, delivery_updated_at = now(),
                       lease_expires_at = NULL, next_attempt_at = NULL
                 WHERE id = $1 AND (delivery_status = 'pending' OR ($3 AND delivery_status = 'sending'))
             RETURNING conversation_id, created_at),
                {_WAKE_HELD}
            SELECT 1""",
        message_id,
        error,
        claimed,
    )


async def count_unsettled(conn: Connection) -> tuple[int, int]:
    """(replies whose outcome is unknown, replies waiting for a scheduled retry), for the gauges."""
    row = await conn.fetchrow(
        """SELECT (SELECT count(*) FROM messages WHERE delivery_status = 'unknown') AS unknown,
                  (SELECT count(*) FROM messages WHERE delivery_status = 'pending' AND next_attempt_at IS NOT NULL
                      AND last_error IS NOT NULL) AS scheduled"""
    )
    assert row is not None
    return int(row["unknown"]), int(row["scheduled"])


def lease_seconds(send_timeout_s: float, margin_s: float) -> float:
    """How long a claim lasts: one send's timeout and a margin for the database round trips around it."""
    return send_timeout_s + margin_s
