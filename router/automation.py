"""The router's automation: the bot answering inbound messages, under the kill switch.

Each router process re-reads the intent rules and the kill switch every `refresh_s` (0.5 s), so a switch
thrown through the admin API takes effect on every router within a second, without a broker round trip
on the hot path. The decisions are router/intents.py and router/bot.py; this module does the I/O.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from uuid import UUID

import httpx

from router.away import AutomationPolicy, automated_message
from router.bot import DEFAULT_TEMPLATES, BotTurn, Handoff, LookupFailed, Order, respond
from router.business_hours import Schedule
from router.intents import DEFAULT_RULES, IntentRule, asks_for_a_person, classify, order_number
from router.orders import look_up
from router.outbox import OutboxBell
from router.store import automation as automation_store
from router.store.automation import BotView
from schemas.inbound import InboundMessage
from services.kafka import Topics
from services.metrics import AUTOMATION_ENABLED, AUTOMATION_SCHEDULES
from services.postgres import Pool, in_one_statement

log = logging.getLogger(__name__)

WARM_UP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class AutomationState:
    rules: tuple[IntentRule, ...]
    templates: dict[tuple[str | None, str], str]  # (account or None, intent) -> template
    disabled: frozenset[str]  # "global" and/or account external ids
    schedules: dict[str, tuple[Schedule, AutomationPolicy]] = field(default_factory=dict)

    def enabled_for(self, account: str) -> bool:
        return "global" not in self.disabled and account not in self.disabled

    def template_for(self, account: str) -> dict[str, str]:
        merged = dict(DEFAULT_TEMPLATES)
        merged.update({intent: t for (acc, intent), t in self.templates.items() if acc is None})
        merged.update({intent: t for (acc, intent), t in self.templates.items() if acc == account})
        return merged


DEFAULT_STATE = AutomationState(DEFAULT_RULES, {}, frozenset())


class Automation:
    """Classifies every inbound message and lets the bot answer or hand over, while switched on."""

    def __init__(
        self, pool: Pool, topics: Topics, bell: OutboxBell, orders_api_base: str, lookup_timeout_s: float
    ) -> None:
        self._pool = pool
        self._topics = topics
        self._bell = bell  # rung after each commit that wrote a reply to the outbox
        self._orders_api_base = orders_api_base
        self._lookup_timeout_s = lookup_timeout_s
        self._http = httpx.AsyncClient()
        self.state = DEFAULT_STATE

    async def refresh(self) -> None:
        async with self._pool.acquire() as conn:
            rules, templates = await automation_store.intent_rules(conn)
            disabled = await automation_store.disabled_scopes(conn)
            schedules = await automation_store.schedules(conn)
        self.state = AutomationState(rules or DEFAULT_RULES, templates, disabled, schedules)
        AUTOMATION_ENABLED.labels(scope="global").set(0 if "global" in disabled else 1)
        AUTOMATION_SCHEDULES.set(len(schedules))

    async def warm_up(self) -> None:
        """Open the order endpoint's connection before the first customer asks for an order.

        A cold client's first request pays one-off costs (the async network backend imported and compiled on
        first use, the first connection) inside the lookup's 0.3 s budget: on a fresh, busy machine it timed
        out and the bot handed its first customer to an agent. The answer does not matter, only the path.
        """
        with contextlib.suppress(httpx.HTTPError):
            await self._http.head(self._orders_api_base, timeout=WARM_UP_TIMEOUT_S)

    async def refresh_until(self, stopping: asyncio.Event, interval_s: float) -> None:
        # Started with the process, before its consumer joins the group and receives a first message.
        await self.warm_up()
        while not stopping.is_set():
            try:
                await self.refresh()
            except Exception:
                log.exception("reading the automation settings failed; keeping the last ones")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), interval_s)

    async def close(self) -> None:
        await self._http.aclose()

    def may_act_on(self, message: InboundMessage, intent: str | None, with_bot: bool) -> bool:
        """Cheap test, before any query: is there anything automation could do with this message?

        Only the bot's own conversations, messages with an intent the bot might answer, and accounts with
        business hours (away and greeting messages) need the conversation read.
        """
        account = message.account_external_id
        if not self.state.enabled_for(account):
            return False
        return with_bot or intent is not None or account in self.state.schedules

    def intent_of(self, message: InboundMessage) -> str | None:
        return classify(message.text, self.state.rules, message.account_external_id)

    async def handle(self, message: InboundMessage, intent: str | None, conversation_id: UUID) -> bool:
        """Let the bot take this stored message if its conversation is the bot's (or new and answerable).

        Returns True when the conversation stays with the bot (it must not be queued for an agent).
        """
        account = message.account_external_id
        if not self.state.enabled_for(account):
            return False
        async with self._pool.acquire() as conn:
            state = await automation_store.bot_view(conn, conversation_id)
        if state is None:
            return False
        if not state.bot_may_answer:
            await self._notice(message, conversation_id, state)
            return False
        templates = self.state.template_for(account)
        if state.status == "queued" and intent in templates and not asks_for_a_person(message.text):
            # Claim the new conversation for the bot before looking anything up: the queue's periodic sweep
            # would otherwise give it to an agent while the shop answers, and the bot would stay silent.
            async with self._pool.acquire() as conn:
                if not await automation_store.claim_for_bot(conn, conversation_id):
                    return False  # an agent has it already
            state = replace(state, status="bot")
        order: Order | LookupFailed | None = None
        number = order_number(message.text) if intent == "order_status" else None
        if number is not None:
            order = await look_up(self._http, self._orders_api_base, number, self._lookup_timeout_s)
        turn = BotTurn(message.text, intent, state.bot_turns, order, message.sender_name)
        outcome = respond(turn, templates)
        if isinstance(outcome, Handoff):
            if state.status == "bot":
                async with self._pool.acquire() as conn:
                    await automation_store.hand_over(conn, conversation_id, outcome.reason)
            await self._notice(message, conversation_id, state)
            return False
        if not self.state.enabled_for(account):  # switched off while we looked the order up
            if state.status == "bot":
                async with self._pool.acquire() as conn:
                    await automation_store.hand_over(conn, conversation_id, "automation_off")
            return False
        topic, text = self._topics.outbound, outcome.text
        reply = await in_one_statement(
            self._pool, lambda conn: automation_store.answer(conn, conversation_id, intent, text, topic)
        )
        # None: an agent took it in the meantime, theirs now. Otherwise the outbox relay publishes the reply.
        if reply is None:
            return False
        self._bell.ring()
        return True

    async def _notice(self, message: InboundMessage, conversation_id: UUID, view: BotView) -> None:
        """The account's greeting (first contact, within hours) or away message (outside hours), throttled."""
        scheduled = self.state.schedules.get(message.account_external_id)
        if scheduled is None or not self.state.enabled_for(message.account_external_id):
            return
        schedule, policy = scheduled
        text = automated_message(
            schedule,
            policy,
            datetime.now(UTC),
            first_contact=view.inbound_messages == 1 and not view.ever_assigned,
            last_automated_at=view.last_automated_at,
            customer_time_zone=None,  # not known from the channels yet
        )
        if text is None:
            return
        topic = self._topics.outbound
        await in_one_statement(
            self._pool,
            lambda conn: automation_store.automated_notice(conn, conversation_id, text, policy.min_interval, topic),
        )
        self._bell.ring()
