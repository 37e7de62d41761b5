"""The router's Kafka consumer: each inbound event stored once, then the conversation assigned."""

import asyncio
import logging
from collections import Counter
from uuid import UUID

from aiokafka import ConsumerRecord

from router.assigner import Assigner
from router.automation import Automation
from router.identity import phone_of
from router.language import detect_language
from router.store.accounts import ensure_account
from router.store.inbound import StoredInbound, StoredMessage, record_receipts, store_inbound
from router.store.priorities import decide_priorities
from schemas.inbound import DeliveryStatus, InboundEvent, InboundMessage
from schemas.wire import decode_inbound
from services.accounts import ChannelAccount, find_account
from services.failures import UnprocessableRecord
from services.metrics import ROUTED_MESSAGES
from services.postgres import Pool

log = logging.getLogger(__name__)


def _decoded(record: ConsumerRecord[bytes, bytes]) -> InboundEvent:
    """The record's event; a record that is not one (ingest publishes only validated events) is dead-lettered."""
    try:
        return decode_inbound(record.value or b"")
    except ValueError as error:  # pydantic's ValidationError, for bytes that are not JSON as well
        ROUTED_MESSAGES.labels(kind="unknown", outcome="undecodable").inc()
        raise UnprocessableRecord(record, str(error)) from error


class InboundHandler:
    """Handles the records of one inbound partition, in order."""

    def __init__(
        self,
        pool: Pool,
        assigner: Assigner,
        accounts: tuple[ChannelAccount, ...],
        languages: tuple[str, ...],
        automation: Automation | None = None,
    ) -> None:
        self._automation = automation
        self._pool = pool
        self._assigner = assigner
        self._accounts = accounts
        self._languages = languages
        self._recorded_accounts: set[UUID] = set()

    async def handle_partition(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Apply the batch's receipts, store its messages in one statement, then run the queue once."""
        messages: list[StoredMessage] = []
        receipts: list[DeliveryStatus] = []
        for event in [_decoded(record) for record in records]:  # all decoded before anything is written
            if isinstance(event, InboundMessage):
                messages.append(await self._routing_facts(event))
            else:
                receipts.append(event)
        if receipts:  # receipts concern our sends, not these messages' order
            await self._record_receipts(receipts)
        if not messages:
            return
        async with self._pool.acquire() as conn:
            stored = await store_inbound(conn, messages)
        for outcome, count in Counter(result.outcome for result in stored).items():
            ROUTED_MESSAGES.labels(kind="message", outcome=outcome).inc(count)
        with_bot = await self._automate(messages, stored) if self._automation is not None else set()
        waiting = {r.conversation_id for r in stored if r.queued and r.conversation_id is not None} - with_bot
        if waiting:
            async with self._pool.acquire() as conn:
                await decide_priorities(conn, list(waiting))
            await self._assigner.drain_queue(arriving=waiting)

    async def _automate(self, messages: list[StoredMessage], stored: list[StoredInbound]) -> set[UUID]:
        """Let the bot take what it can of the stored messages (classified before storing); returns the conversations
        it kept.

        A conversation the bot hands over is queued again and picked up by this batch's drain.
        """
        assert self._automation is not None
        automation = self._automation
        by_conversation: dict[UUID, list[tuple[InboundMessage, str | None]]] = {}
        for item, result in zip(messages, stored, strict=True):
            if result.outcome != "stored" or result.conversation_id is None:
                continue
            message, intent = item.message, item.intent
            if (result.queued or result.with_bot) and automation.may_act_on(message, intent, result.with_bot):
                by_conversation.setdefault(result.conversation_id, []).append((message, intent))
        kept: set[UUID] = set()

        async def in_order(conversation_id: UUID, arrivals: list[tuple[InboundMessage, str | None]]) -> None:
            for message, intent in arrivals:  # one conversation's messages in the order they came
                if await automation.handle(message, intent, conversation_id):
                    kept.add(conversation_id)
                else:
                    kept.discard(conversation_id)

        # Conversations at once: a bot's order lookup or Kafka send must not hold up the partition's others.
        await asyncio.gather(*(in_order(c, arrivals) for c, arrivals in by_conversation.items()))
        return kept

    async def _record_receipts(self, receipts: list[DeliveryStatus]) -> None:
        async with self._pool.acquire() as conn:
            moved = await record_receipts(conn, receipts)
        for outcome, count in Counter("applied" if m else "kept" for m in moved).items():
            ROUTED_MESSAGES.labels(kind="receipt", outcome=outcome).inc(count)

    async def _routing_facts(self, message: InboundMessage) -> StoredMessage:
        """What storing and routing need beyond the message: its account, the sender's phone number in
        E.164 (which joins channels), the language it is written in, the skill its account requires, and
        its intent (classified before storing, so the row is written once with it)."""
        account = await self._account(message)
        return StoredMessage(
            message=message,
            account_id=account.id,
            phone=phone_of(message.channel, message.sender_external_id),
            language=detect_language(message.text, self._languages),
            required_skill=account.skill,
            intent=self._automation.intent_of(message) if self._automation is not None else None,
        )

    async def _account(self, message: InboundMessage) -> ChannelAccount:
        """The account, recording an account nobody configured so its messages are not lost."""
        account = find_account(self._accounts, message.channel, message.account_external_id) or ChannelAccount(
            channel=message.channel,
            external_id=message.account_external_id,
            name=f"unconfigured {message.channel} account {message.account_external_id}",
        )
        if account.id not in self._recorded_accounts:
            async with self._pool.acquire() as conn:
                await ensure_account(conn, account)
            self._recorded_accounts.add(account.id)
        return account
