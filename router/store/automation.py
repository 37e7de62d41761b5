"""The automation's SQL: intent rules, the kill switch, and the bot taking or handing over a conversation."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from router.away import DEFAULT_AWAY, AutomationPolicy
from router.business_hours import Schedule
from router.intents import IntentRule
from router.store.conversations import LAST_INBOUND, REPLY_INSERTED, outbound_of, queued_reply
from schemas.outbound import OutboundMessage
from services.postgres import Connection


async def intent_rules(conn: Connection) -> tuple[tuple[IntentRule, ...], dict[tuple[str | None, str], str]]:
    """The configured rules in order, and the reply templates they carry by (account, intent)."""
    rows = await conn.fetch(
        """SELECT account_external_id, intent, keywords, patterns, reply FROM intent_rules
            ORDER BY account_external_id NULLS LAST, position, created_at"""
    )
    rules = tuple(
        IntentRule(r["intent"], tuple(r["keywords"]), tuple(r["patterns"]), r["account_external_id"]) for r in rows
    )
    templates = {(r["account_external_id"], r["intent"]): r["reply"] for r in rows if r["reply"]}
    return rules, templates


async def disabled_scopes(conn: Connection) -> frozenset[str]:
    rows = await conn.fetch("SELECT scope FROM automation_switches WHERE NOT enabled")
    return frozenset(r["scope"] for r in rows)


async def set_switch(conn: Connection, scope: str, enabled: bool) -> None:
    await conn.execute(
        """INSERT INTO automation_switches (scope, enabled) VALUES ($1, $2)
           ON CONFLICT (scope) DO UPDATE SET enabled = excluded.enabled, changed_at = now()""",
        scope,
        enabled,
    )


async def switches(conn: Connection) -> dict[str, bool]:
    return {r["scope"]: r["enabled"] for r in await conn.fetch("SELECT scope, enabled FROM automation_switches")}


async def schedules(conn: Connection) -> dict[str, tuple[Schedule, AutomationPolicy]]:
    """Each account's business hours and automated messages (router/business_hours.py, router/away.py)."""
    found: dict[str, tuple[Schedule, AutomationPolicy]] = {}
    for r in await conn.fetch("SELECT * FROM account_schedules"):
        policy = AutomationPolicy(
            greeting=r["greeting"],
            away_template=r["away_template"] or DEFAULT_AWAY,
            min_interval=timedelta(seconds=r["min_interval_s"]),
        )
        found[r["account_external_id"]] = (Schedule.from_dict(r["schedule"]), policy)
    return found


async def set_schedule(
    conn: Connection,
    account: str,
    schedule: Schedule,
    greeting: str | None,
    away_template: str | None,
    min_interval_s: int,
) -> None:
    await conn.execute(
        """INSERT INTO account_schedules (account_external_id, schedule, greeting, away_template, min_interval_s)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (account_external_id) DO UPDATE
              SET schedule = excluded.schedule, greeting = excluded.greeting, away_template = excluded.away_template,
                  min_interval_s = excluded.min_interval_s, updated_at = now()""",
        account,
        schedule.to_dict(),
        greeting,
        away_template,
        min_interval_s,
    )


@dataclass(frozen=True)
class BotView:
    status: str
    bot_turns: int
    ever_assigned: bool
    inbound_messages: int
    last_automated_at: datetime | None = None

    @property
    def bot_may_answer(self) -> bool:
        """The bot's conversation, or a new one nobody has picked up yet (its first message)."""
        if self.status == "bot":
            return True
        return self.status == "queued" and not self.ever_assigned and self.inbound_messages == 1


async def bot_view(conn: Connection, conversation_id: UUID) -> BotView | None:
    row = await conn.fetchrow(
        """SELECT status, bot_turns, first_assigned_at IS NOT NULL AS ever_assigned, last_automated_at,
                  (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'inbound')
                      AS inbound_messages
             FROM conversations c WHERE id = $1""",
        conversation_id,
    )
    if row is None:
        return None
    return BotView(
        row["status"], row["bot_turns"], row["ever_assigned"], row["inbound_messages"], row["last_automated_at"]
    )


async def claim_for_bot(conn: Connection, conversation_id: UUID) -> bool:
    """Take a new, still unassigned conversation for the bot; False when an agent already has it."""
    claimed = await conn.fetchval(
        """UPDATE conversations SET status = 'bot'
            WHERE id = $1 AND status = 'queued' AND first_assigned_at IS NULL RETURNING id""",
        conversation_id,
    )
    return claimed is not None


async def hand_over(conn: Connection, conversation_id: UUID, reason: str) -> bool:
    """Give the bot's conversation to the queue (its transcript is its history); it waits from now."""
    moved = await conn.fetchval(
        """UPDATE conversations SET status = 'queued', waiting_since = now(), handed_over_reason = $2
            WHERE id = $1 AND status = 'bot' RETURNING id""",
        conversation_id,
        reason,
    )
    return moved is not None


async def hand_over_unanswered(conn: Connection, after: timedelta) -> int:
    """Give the queue every bot conversation whose customer's last message got no answer within `after`.

    The bot claims a conversation, then answers in a statement of its own: a process that dies between the
    two (or a PostgreSQL outage that outlasts the record's retries) leaves it `bot` with nobody answering,
    and the replayed record is a duplicate the bot does not see again. `answer` keeps `last_bot_reply_at`, so
    an index of the unanswered ones alone (0019) finds them; rows another transaction holds are left for the
    next sweep. Returns how many were handed over.
    """
    moved = await conn.fetch(
        """WITH unanswered AS (
               SELECT c.id FROM conversations c
                WHERE c.status = 'bot' AND (c.last_bot_reply_at IS NULL OR c.last_bot_reply_at < c.last_inbound_at)
                  AND c.last_inbound_at <= now() - $1::interval
                  FOR UPDATE SKIP LOCKED)
           UPDATE conversations c SET status = 'queued', waiting_since = now(), handed_over_reason = 'bot_unanswered'
             FROM unanswered u WHERE c.id = u.id AND c.status = 'bot' RETURNING c.id""",
        after,
    )
    return len(moved)


async def answer(
    conn: Connection, conversation_id: UUID, intent: str | None, text: str, topic: str
) -> OutboundMessage | None:
    """The bot takes (or keeps) the conversation and stores its reply as pending, in one statement, and its
    outbound record in the outbox (`topic`), all in one statement: the reply and its record commit together.

    None when the conversation is no longer the bot's to answer (an agent took it meanwhile).
    """
    row = await conn.fetchrow(
        f"""WITH taken AS (
               UPDATE conversations SET status = 'bot', bot_turns = bot_turns + 1, intent = coalesce(intent, $2),
                                        last_bot_reply_at = now()
                WHERE id = $1 AND status IN ('queued', 'bot') RETURNING id),
           {LAST_INBOUND},
           reply AS (
           INSERT INTO messages (conversation_id, direction, channel, account_id, external_id, content_type, text,
                                 delivery_status)
           SELECT $1, 'outbound', l.channel, l.account_id, l.external_id, 'text', $3, 'pending'
             FROM last_inbound l, taken
           {REPLY_INSERTED}),
           {queued_reply("$4", "bot")}""",
        conversation_id,
        intent,
        text,
        topic,
    )
    return None if row is None else outbound_of(row, conversation_id, text, "bot")


async def automated_notice(
    conn: Connection, conversation_id: UUID, text: str, min_interval: timedelta, topic: str
) -> OutboundMessage | None:
    """Store an away or greeting message, unless the conversation had one within `min_interval`, and its
    outbound record in the outbox (`topic`), all in one statement: the message and its record commit together.

    The check and the insert are one statement, so two routers cannot both send one.
    """
    row = await conn.fetchrow(
        f"""WITH stamped AS (
               UPDATE conversations SET last_automated_at = now()
                WHERE id = $1 AND (last_automated_at IS NULL OR last_automated_at <= now() - $3::interval)
            RETURNING id),
           {LAST_INBOUND},
           reply AS (
           INSERT INTO messages (conversation_id, direction, channel, account_id, external_id, content_type, text,
                                 delivery_status)
           SELECT $1, 'outbound', l.channel, l.account_id, l.external_id, 'text', $2, 'pending'
             FROM last_inbound l, stamped
           {REPLY_INSERTED}),
           {queued_reply("$4", "bot")}""",
        conversation_id,
        text,
        min_interval,
        topic,
    )
    return None if row is None else outbound_of(row, conversation_id, text, "bot")
