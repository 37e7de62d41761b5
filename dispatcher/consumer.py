"""The dispatcher's Kafka handler: claim each reply, send it under its channel's rules, record the outcome."""

import asyncio
import logging
import time
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from dispatcher.errors import PermanentError, RetryableError, RuleViolation, SendError
from dispatcher.result import Send
from dispatcher.settings import DispatcherSettings
from dispatcher.store import claim, mark_failed, mark_sent
from schemas.outbound import DeadLetter, OutboundMessage
from schemas.wire import decode, encode
from services.accounts import find_account
from services.kafka import Topics
from services.metrics import DISPATCH, DISPATCH_LATENCY
from services.postgres import Pool

log = logging.getLogger(__name__)


class OutboundHandler:
    """Sends the replies of one outbound partition, in order."""

    def __init__(
        self,
        settings: DispatcherSettings,
        pool: Pool,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        senders: dict[str, Send],
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._client = client
        self._producer = producer
        self._senders = senders
        self._topics = Topics(settings.topic_prefix)
        self._in_flight = asyncio.Semaphore(settings.max_concurrent_sends)

    async def handle_partition(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Send the batch's replies: conversations concurrently, each conversation's replies in order.

        A send waits on the provider and two database round trips; one at a time per partition left the
        dispatcher latency-bound (about 100 replies/s here) while the CPU had room.
        """
        by_conversation: dict[bytes, list[OutboundMessage]] = {}
        for record in records:
            by_conversation.setdefault(record.key or b"", []).append(decode(OutboundMessage, record.value or b""))

        async def in_order(replies: list[OutboundMessage]) -> None:
            async with self._in_flight:
                for reply in replies:
                    await self.dispatch(reply)

        await asyncio.gather(*(in_order(replies) for replies in by_conversation.values()))

    async def dispatch(self, outbound: OutboundMessage) -> None:
        """Send one reply at most once; a permanent failure is marked failed and dead-lettered."""
        async with self._pool.acquire() as conn:
            if not await claim(conn, outbound.message_id):
                DISPATCH.labels(channel=outbound.channel, outcome="skipped").inc()
                return
        attempts = 0

        def count_retry(state: RetryCallState) -> None:
            DISPATCH.labels(channel=outbound.channel, outcome="retried").inc()
            log.warning("retrying %s after %s", outbound.message_id, state.outcome and state.outcome.exception())

        try:
            account = find_account(self._settings.accounts, outbound.channel, outbound.account_external_id)
            send = self._senders.get(outbound.channel)
            if account is None or send is None:
                raise PermanentError(
                    f"no configured {outbound.channel} account {outbound.account_external_id}", code="unknown_account"
                )
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(RetryableError),
                stop=stop_after_attempt(self._settings.max_attempts),
                wait=wait_random_exponential(multiplier=self._settings.retry_initial_s, max=self._settings.retry_max_s),
                before_sleep=count_retry,
                reraise=True,
            ):
                with attempt:
                    attempts += 1
                    result = await send(self._client, account, outbound, datetime.now(UTC))
        except SendError as error:
            await self._give_up(outbound, error, attempts)
            return
        async with self._pool.acquire() as conn:
            await mark_sent(conn, outbound.message_id, outbound.channel, result.provider_message_id)
        DISPATCH.labels(channel=outbound.channel, outcome="sent").inc()
        DISPATCH_LATENCY.labels(channel=outbound.channel).observe(
            max(0.0, time.time() - outbound.created_at.timestamp())
        )

    async def _give_up(self, outbound: OutboundMessage, error: SendError, attempts: int) -> None:
        reason = (
            "channel_rule"  # which rule is in the error's code: outside_window, text_too_long...
            if isinstance(error, RuleViolation)
            else "retries_exhausted"
            if isinstance(error, RetryableError)
            else "rejected"
        )
        # The database is the record of truth, so it is marked first: if the dead-letter publish fails,
        # the replayed record finds the reply failed and does not send it.
        async with self._pool.acquire() as conn:
            await mark_failed(conn, outbound.message_id, {"code": error.code, "reason": reason, "detail": error.detail})
        letter = DeadLetter(
            message=outbound, reason=reason, detail=error.detail, attempts=attempts, failed_at=datetime.now(UTC)
        )
        await self._producer.send_and_wait(
            self._topics.outbound_dead_letter, encode(letter), key=str(outbound.conversation_id).encode()
        )
        DISPATCH.labels(channel=outbound.channel, outcome="dead_lettered").inc()
        log.warning("gave up on %s (%s): %s", outbound.message_id, reason, error.detail)
