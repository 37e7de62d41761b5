"""The outbox relay: publishes what committed transactions wrote to the `outbox` table, in id order, to Kafka.

Every router process runs one, but only the holder of a session advisory lock publishes; the others stand
by and take over within `STANDBY_S` of the holder's connection dying (PostgreSQL releases the lock with
the session). One publisher reading in id order keeps one conversation's records in the order committed
(while Kafka takes them: a row it refuses is published again after the later rows it took).

A batch is sent whole with the idempotent acks=all producer, every ack awaited, then the acknowledged rows
deleted in one statement. Delivery is at least once: a crash (or a lost connection) after the acks and
before the delete publishes those rows again, so every consumer of a relayed topic must be idempotent (the
dispatcher claims each reply by its message id, pending -> sending, so a republished reply is not resent).

Errors: a Kafka error (KafkaError, or a send that times out) keeps the unacknowledged rows and retries
them with capped backoff; a PostgreSQL error or outage (PostgresError, InterfaceError, OSError, a timeout)
drops the session and reconnects, giving the lock up for whichever relay reconnects first.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
from aiokafka.errors import KafkaError

from services.metrics import OUTBOX_OLDEST_AGE, OUTBOX_PUBLISHED, OUTBOX_RELAY_LEADER, OUTBOX_WAITING
from services.postgres import Connection

log = logging.getLogger(__name__)

CHANNEL = "switchboard_outbox"  # 0011_outbox.sql's trigger notifies it once per inserting statement
# Advisory locks are per database, so several stacks on one server each get their own relay.
LOCK = "SELECT pg_try_advisory_lock(hashtextextended('switchboard.outbox.relay', 0))"
BATCH = 500
POLL_S = 0.5  # a missed notification (e.g. during a reconnect) costs at most this much delay
STANDBY_S = 1.0
BACKOFF_INITIAL_S = 0.1
BACKOFF_MAX_S = 5.0
COUNT_EVERY_S = 1.0
CONNECT_TIMEOUT_S = 5.0
STATEMENT_TIMEOUT_S = 10.0  # a hung PostgreSQL (SIGSTOP) surfaces as an error instead of a silent stall

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class Publisher(Protocol):
    """What the relay needs of a producer (aiokafka's AIOKafkaProducer)."""

    async def send(self, topic: str, value: bytes, key: bytes) -> Awaitable[object]: ...


def backoff_s(failures: int) -> float:
    """Seconds to wait after `failures` consecutive failures: doubling from 0.1 s, capped at 5 s."""
    return min(BACKOFF_MAX_S, BACKOFF_INITIAL_S * 2.0 ** min(max(0, failures - 1), 32))


class OutboxRelay:
    """One process's relay: stands by until it holds the lock, then publishes until stopped or disconnected."""

    def __init__(self, dsn: str, producer: Publisher, *, batch: int = BATCH, poll_s: float = POLL_S) -> None:
        self._dsn = dsn
        self._producer = producer
        self._batch = batch
        self._poll_s = poll_s
        self._wake = asyncio.Event()
        self._counted_at = float("-inf")
        self._failures = 0  # in a row, of any kind: paces every retry

    async def run_until(self, stopping: asyncio.Event) -> None:
        """Relay until `stopping` is set, reconnecting to PostgreSQL after any database error."""
        while not stopping.is_set():
            try:
                conn = await asyncpg.connect(self._dsn, timeout=CONNECT_TIMEOUT_S, command_timeout=STATEMENT_TIMEOUT_S)
            except _DATABASE_ERRORS as error:
                log.warning("outbox relay cannot reach PostgreSQL (%r); retrying", error)
                await self._back_off(stopping)
                continue
            try:
                await self._session(conn, stopping)
            except _DATABASE_ERRORS as error:
                log.warning("outbox relay lost its PostgreSQL session (%r); reconnecting", error)
                await self._back_off(stopping)
            except Exception:  # the task's outermost loop: a bug must not end relaying for good
                log.exception("outbox relay failed; restarting it")
                await self._back_off(stopping)
            finally:
                _standing_by()
                await _close(conn)

    async def _back_off(self, stopping: asyncio.Event) -> None:
        self._failures += 1
        await _pause(stopping, backoff_s(self._failures))

    async def _session(self, conn: Connection, stopping: asyncio.Event) -> None:
        while not await conn.fetchval(LOCK):
            await _pause(stopping, STANDBY_S)
            if stopping.is_set():
                return
        log.info("outbox relay publishing from this process")
        OUTBOX_RELAY_LEADER.set(1)
        await conn.add_listener(CHANNEL, self._notified)
        while not stopping.is_set():
            self._wake.clear()  # before the read: a row committed after it sets it again
            rows = await conn.fetch(
                "SELECT id, topic, key, value, created_at FROM outbox ORDER BY id LIMIT $1", self._batch
            )
            await self._record_backlog(conn, rows)
            if not rows:
                self._failures = 0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll_s)
                continue
            published = await self._publish(rows)
            if published:
                await conn.execute("DELETE FROM outbox WHERE id = ANY($1::bigint[])", published)
                OUTBOX_PUBLISHED.inc(len(published))
            if len(published) < len(rows):
                await self._back_off(stopping)
            else:
                self._failures = 0

    async def _publish(self, rows: Sequence[asyncpg.Record]) -> list[int]:
        """Send every row, await every ack; the ids Kafka acknowledged, in order.

        A topic Kafka refuses (unknown, unreachable leader) holds back only its own rows, so one broken topic
        does not stall the others; a key's order lives within one topic, so holding back by topic keeps it.
        """
        pending: list[tuple[int, Awaitable[object]]] = []
        refused: set[str] = set()
        for row in rows:
            if row["topic"] in refused:
                continue
            try:
                pending.append((row["id"], await self._producer.send(row["topic"], row["value"], key=row["key"])))
            except (KafkaError, TimeoutError) as error:
                refused.add(row["topic"])
                log.warning("outbox relay cannot hand row %d to Kafka (%r); retrying", row["id"], error)
        outcomes = await asyncio.gather(*(ack for _, ack in pending), return_exceptions=True)
        acked = []
        for (row_id, _), outcome in zip(pending, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if not isinstance(outcome, KafkaError | TimeoutError):
                    raise outcome
                log.warning("outbox relay: Kafka did not acknowledge row %d (%r); retrying", row_id, outcome)
            else:
                acked.append(row_id)
        return acked

    async def _record_backlog(self, conn: Connection, rows: Sequence[asyncpg.Record]) -> None:
        """Rows waiting and the oldest one's age, from the relay's own read; beyond a batch, counted seldom."""
        if len(rows) < self._batch:
            OUTBOX_WAITING.set(len(rows))
        elif (now := asyncio.get_running_loop().time()) - self._counted_at >= COUNT_EVERY_S:
            OUTBOX_WAITING.set(await conn.fetchval("SELECT count(*) FROM outbox"))
            self._counted_at = now
        OUTBOX_OLDEST_AGE.set((datetime.now(UTC) - rows[0]["created_at"]).total_seconds() if rows else 0)

    def _notified(self, *_: object) -> None:
        self._wake.set()


def _standing_by() -> None:
    # Only the publishing process reports a backlog, so a sum or a max over processes reads true.
    OUTBOX_RELAY_LEADER.set(0)
    OUTBOX_WAITING.set(0)
    OUTBOX_OLDEST_AGE.set(0)


async def _close(conn: Connection) -> None:
    try:
        await conn.close(timeout=2)
    except Exception:  # a session that failed may not answer a polite close; the lock goes with it anyway
        conn.terminate()


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)
