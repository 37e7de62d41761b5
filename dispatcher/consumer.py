"""The dispatcher's sending: adopt each reply from Kafka, send it under its channel's rules, record the outcome.

A batch is adopted (its records kept in their rows) in one statement and the offsets are committed at
once; the sends run beside the consume loop, so a slow or failing provider never holds a partition.
Each (channel, account) has its own send slots and circuit, so one provider cannot stall the others.
One conversation's replies are sent in order (store.claim_all holds a reply behind an earlier one); the
claims of one loop turn are one statement (dispatcher/claims.py), and so are the sends the providers accepted
in one turn (dispatcher/sent_records.py), recorded once the provider's slot is given back.
"""

import asyncio
import logging
import random
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import httpx
from aiokafka import AIOKafkaProducer, ConsumerRecord

from dispatcher import store
from dispatcher.circuit import Circuit, Circuits
from dispatcher.claims import Claims
from dispatcher.errors import OutcomeUnknown, PermanentError, RetryableError, RuleViolation, SendError
from dispatcher.resend import resend_safe
from dispatcher.result import Send, SendResult
from dispatcher.retry_policy import RetryPolicy, backoff_s, has_window, next_attempt_at, reply_deadline, wait_s
from dispatcher.sent_records import SentRecords
from dispatcher.settings import DispatcherSettings
from schemas.outbound import DeadLetter, OutboundMessage
from schemas.wire import decode, encode
from services.accounts import ChannelAccount, find_account
from services.failures import is_transient
from services.kafka import Topics
from services.metrics import DISPATCH, DISPATCH_CIRCUITS_OPEN, DISPATCH_LATENCY
from services.postgres import Pool

log = logging.getLogger(__name__)

# How long a reply the provider accepted waits for PostgreSQL to record it (a restart, a short outage).
RECORD_SENT_WITHIN_S = 120.0

# The header the dead-letter keeper reads to know why a record is on the dead-letter topic.
ERROR_HEADER = "switchboard-error"


def policy_of(settings: DispatcherSettings) -> RetryPolicy:
    return RetryPolicy(
        quick_attempts=max(1, settings.max_attempts),
        quick_initial_s=settings.retry_initial_s,
        quick_max_s=settings.retry_max_s,
        later_initial_s=settings.retry_later_initial_s,
        later_max_s=settings.retry_later_max_s,
        max_reply_age=timedelta(seconds=settings.max_reply_age_s),
    )


class OutboundHandler:
    """Sends replies: those the outbound topic brings, and those the scheduler finds due."""

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
        self._policy = policy_of(settings)
        self._lease_s = store.lease_seconds(settings.send_timeout_s, settings.lease_margin_s)
        self._claims = Claims(pool, self._lease_s)
        self._sent_records = SentRecords(pool)
        self._circuits = Circuits(
            settings.circuit_failure_threshold, settings.circuit_open_s, settings.circuit_max_open_s
        )
        self._slots: dict[tuple[str, str], asyncio.Semaphore] = {}
        self._backlog = asyncio.Semaphore(settings.max_queued_sends)
        self._tasks: set[asyncio.Task[None]] = set()
        self._rng = random.Random()

    @property
    def hand_off_s(self) -> float:
        """How long an adopted reply is this process's before the scheduler may take it (it died)."""
        return self._settings.hand_off_s

    async def handle_partition(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Adopt the batch's replies and start sending them; returns once they are durable in their rows."""
        replies = [decode(OutboundMessage, record.value or b"") for record in records]
        async with self._pool.acquire() as conn:
            adopted = await store.adopt(conn, replies, self.hand_off_s)
        for reply in replies:
            if reply.message_id not in adopted:
                DISPATCH.labels(channel=reply.channel, outcome="skipped").inc()
        await self.start([reply for reply in replies if reply.message_id in adopted])

    async def start(self, replies: Iterable[OutboundMessage], attempts: dict[object, int] | None = None) -> None:
        """Send `replies` beside the caller: conversations concurrently, each one's replies in order."""
        by_conversation: dict[object, list[OutboundMessage]] = {}
        for reply in replies:
            by_conversation.setdefault(reply.conversation_id, []).append(reply)
        for conversation in by_conversation.values():
            for _ in conversation:
                await self._backlog.acquire()  # bounded memory: a stalled provider slows intake, at worst
            task = asyncio.create_task(self._in_order(conversation, attempts or {}))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _in_order(self, replies: list[OutboundMessage], attempts: dict[object, int]) -> None:
        for reply in replies:
            try:
                await self.dispatch(reply, attempts.get(reply.message_id, 0))
            except Exception:
                # The reply stays adopted or claimed: the scheduler or the reaper settles it.
                log.exception("sending %s failed; the scheduler will settle it", reply.message_id)
            finally:
                self._backlog.release()

    async def drain(self, deadline_s: float) -> None:
        """Let sends in flight finish within the deadline; the rest are left to their leases."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=deadline_s)
            for task in late:
                task.cancel()

    async def dispatch(self, outbound: OutboundMessage, prior_attempts: int = 0) -> None:
        """Send one reply at most once, retrying what may be retried; settle it as sent, scheduled,
        unknown or failed."""
        account = find_account(self._settings.accounts, outbound.channel, outbound.account_external_id)
        send = self._senders.get(outbound.channel)
        if account is None or send is None:
            error = PermanentError(
                f"no configured {outbound.channel} account {outbound.account_external_id}", code="unknown_account"
            )
            await self._give_up(outbound, error, prior_attempts, claimed=False)
            return
        key = (outbound.channel, outbound.account_external_id)
        circuit = self._circuits.of(*key)
        async with self._slot(key):
            # A windowed reply whose window closed goes on: its channel refuses it with the rule, uncalled.
            closed = has_window(outbound) and reply_deadline(outbound, self._policy.max_reply_age) < datetime.now(UTC)
            if not closed and not circuit.allows(time.monotonic()):
                await self._retry_later(
                    outbound, None, prior_attempts, circuit_wait=self._circuit_wait(key), claimed=False
                )
                DISPATCH.labels(channel=outbound.channel, outcome="circuit_open").inc()
                return
            claimed, held_until = await self._claims.claim(outbound.message_id)
            if claimed != "claimed":
                circuit.abandoned()
                if claimed == "held":
                    await self._hold(outbound, held_until)
                else:
                    DISPATCH.labels(channel=outbound.channel, outcome="skipped").inc()
                return
            accepted = await self._attempts(outbound, send, account, circuit, prior_attempts)
        # Recorded after the provider's slot is given back: the slot bounds calls to the provider, and the
        # next reply waiting for it need not wait for our database write too.
        if accepted is not None:
            result, recovered = accepted
            await self._sent(outbound, result)
            if recovered:  # the provider is back: what waits for a backed-off retry goes now
                async with self._pool.acquire() as conn:
                    await store.wake_retries(conn, outbound.channel, outbound.account_external_id)
        DISPATCH_CIRCUITS_OPEN.set(self._circuits.open_count())

    async def _attempts(
        self, outbound: OutboundMessage, send: Send, account: ChannelAccount, circuit: Circuit, prior_attempts: int
    ) -> tuple[SendResult, bool] | None:
        """Call the provider until it accepts, refuses for good, or the reply must wait; settles every outcome
        but acceptance, which it returns (the result, and whether the provider's circuit just recovered)."""
        attempts = prior_attempts
        for quick in range(1, self._policy.quick_attempts + 1):
            attempted_at = datetime.now(UTC)
            if quick > 1:
                async with self._pool.acquire() as conn:
                    if not await store.renew(conn, outbound.message_id, self._lease_s):
                        return None  # the reaper settled it meanwhile
            attempts += 1
            try:
                result = await self._send_once(send, account, outbound, attempted_at)
            except RuleViolation as error:  # refused by the channel's rule before any call: not an attempt
                circuit.abandoned()
                await self._give_up(outbound, error, attempts - 1, claimed=True)
                return None
            except PermanentError as error:
                circuit.succeeded()  # the provider answered: it is up, it refused this one
                await self._give_up(outbound, error, attempts, claimed=True)
                return None
            except OutcomeUnknown as error:
                circuit.failed(time.monotonic())
                if not error.resend_safe:
                    await self._unknown(outbound, error)
                    return None
                retry: SendError = error
            except RetryableError as error:
                circuit.failed(time.monotonic())
                retry = error
            else:
                return result, circuit.succeeded()
            wait = wait_s(
                backoff_s(
                    quick,
                    self._policy.quick_initial_s,
                    self._policy.quick_max_s,
                    rate_limited=_rate_limited(retry),
                    rng=self._rng,
                ),
                _retry_after(retry),
            )
            last = quick == self._policy.quick_attempts
            if last or wait > self._policy.quick_max_s or circuit.blocked(time.monotonic() + wait):
                await self._retry_later(
                    outbound, retry, attempts, circuit_wait=self._circuit_wait(_key(outbound)), claimed=True
                )
                return None
            DISPATCH.labels(channel=outbound.channel, outcome="retried").inc()
            log.warning("retrying %s in %.2fs after %s", outbound.message_id, wait, retry.detail)
            await asyncio.sleep(wait)
        return None

    async def _send_once(
        self, send: Send, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        # httpx's timeout bounds each read and write, not the call: this bounds the call within the lease.
        try:
            async with asyncio.timeout(self._settings.send_timeout_s + 1):
                return await send(self._client, account, outbound, now)
        except TimeoutError as error:
            raise OutcomeUnknown(
                f"no answer within {self._settings.send_timeout_s + 1:.0f}s",
                code="no_answer",
                resend_safe=resend_safe(outbound, now),
            ) from error

    def _slot(self, key: tuple[str, str]) -> asyncio.Semaphore:
        slot = self._slots.get(key)
        if slot is None:
            slot = self._slots[key] = asyncio.Semaphore(self._settings.sends_per_account)
        return slot

    def _circuit_wait(self, key: tuple[str, str]) -> float:
        now = time.monotonic()
        circuit = self._circuits.of(*key)
        return max(0.0, circuit.retry_at(now) - now) if circuit.blocked(now) else 0.0

    async def _retry_later(
        self, outbound: OutboundMessage, error: SendError | None, attempts: int, *, circuit_wait: float, claimed: bool
    ) -> None:
        now = datetime.now(UTC)
        rounds = max(1, attempts - self._policy.quick_attempts + 1)
        backoff = backoff_s(
            rounds,
            self._policy.later_initial_s,
            self._policy.later_max_s,
            rate_limited=error is not None and _rate_limited(error),
            rng=self._rng,
        )
        wait = max(wait_s(backoff, None if error is None else _retry_after(error)), circuit_wait)
        if error is None:
            wait = circuit_wait  # not tried: the circuit alone says when
        at = next_attempt_at(now, wait, reply_deadline(outbound, self._policy.max_reply_age))
        if at is None:
            final = error or _closed_before_sending(outbound)
            await self._give_up(outbound, final, attempts, claimed=claimed)
            return
        last_error = (
            {"code": "circuit_open", "detail": "the provider's circuit is open", "at": now.isoformat()}
            if error is None
            else {"code": error.code, "detail": error.detail, "at": now.isoformat()}
        )
        async with self._pool.acquire() as conn:
            await store.schedule(conn, outbound.message_id, at, last_error, claimed=claimed)
        DISPATCH.labels(channel=outbound.channel, outcome="scheduled").inc()
        log.info("reply %s scheduled for %s: %s", outbound.message_id, at.isoformat(), error and error.detail)

    async def _hold(self, outbound: OutboundMessage, until: datetime | None) -> None:
        at = max(until or datetime.now(UTC), datetime.now(UTC))
        async with self._pool.acquire() as conn:
            await store.schedule(conn, outbound.message_id, at, None, claimed=False)  # held: not ours
        DISPATCH.labels(channel=outbound.channel, outcome="held").inc()

    async def _unknown(self, outbound: OutboundMessage, error: SendError) -> None:
        async with self._pool.acquire() as conn:
            await store.mark_unknown(conn, self._topics, outbound, error.detail, datetime.now(UTC))
        DISPATCH.labels(channel=outbound.channel, outcome="unknown").inc()
        log.warning("outcome of %s unknown: %s", outbound.message_id, error.detail)

    async def _sent(self, outbound: OutboundMessage, result: SendResult) -> None:
        # The provider has it: that is known, so a PostgreSQL outage now is waited out (bounded) rather than
        # left to the reaper, which could only call the outcome unknown once the lease ran out.
        give_up_at, delay_s = time.monotonic() + RECORD_SENT_WITHIN_S, 0.2
        while True:
            try:
                await self._sent_records.record(
                    store.Sent(outbound.message_id, outbound.channel, result.provider_message_id)
                )
                break
            except Exception as error:
                if not is_transient(error) or time.monotonic() + delay_s > give_up_at:
                    raise
                log.warning("recording %s as sent failed (%r); again in %.1fs", outbound.message_id, error, delay_s)
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, 5.0)
        DISPATCH.labels(channel=outbound.channel, outcome="sent").inc()
        DISPATCH_LATENCY.labels(channel=outbound.channel).observe(
            max(0.0, time.time() - outbound.created_at.timestamp())
        )

    async def _give_up(self, outbound: OutboundMessage, error: SendError, attempts: int, *, claimed: bool) -> None:
        reason = (
            "channel_rule"  # which rule is in the error's code: outside_window, text_too_long...
            if isinstance(error, RuleViolation)
            else "retries_exhausted"
            if isinstance(error, RetryableError | OutcomeUnknown)
            else "rejected"
        )
        # The database is the record of truth, so it is marked first: if the dead-letter publish fails,
        # the replayed record finds the reply failed and does not send it.
        async with self._pool.acquire() as conn:
            await store.mark_failed(
                conn,
                outbound.message_id,
                {"code": error.code, "reason": reason, "detail": error.detail},
                claimed=claimed,
            )
        letter = DeadLetter(
            message=outbound, reason=reason, detail=error.detail, attempts=attempts, failed_at=datetime.now(UTC)
        )
        await self._producer.send_and_wait(
            self._topics.outbound_dead_letter,
            encode(letter),
            key=str(outbound.conversation_id).encode(),
            headers=[(ERROR_HEADER, b"send_failed")],
        )
        DISPATCH.labels(channel=outbound.channel, outcome="dead_lettered").inc()
        log.warning("gave up on %s (%s): %s", outbound.message_id, reason, error.detail)


def _closed_before_sending(outbound: OutboundMessage) -> SendError:
    """Why a reply never tried (its provider's circuit open) is given up: its window closed, or it got too old."""
    if has_window(outbound):
        return RuleViolation(
            "the channel's reply window closed while its provider's circuit was open", code="outside_window"
        )
    return RetryableError("the provider's circuit stayed open until the reply was too old", code="circuit_open")


def _key(outbound: OutboundMessage) -> tuple[str, str]:
    return outbound.channel, outbound.account_external_id


def _rate_limited(error: SendError) -> bool:
    return isinstance(error, RetryableError) and error.rate_limited


def _retry_after(error: SendError) -> float | None:
    return error.retry_after_s if isinstance(error, RetryableError) else None
