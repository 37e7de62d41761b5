"""The outbox relay: publishes what committed transactions wrote to the `outbox` table, in id order, to Kafka.

Every router process runs one, but only the holder of a session advisory lock publishes; the others stand
by and take over within `STANDBY_S` of the holder's connection dying (PostgreSQL releases the lock with
the session). One publisher reading in id order keeps one conversation's records in the order committed
(while Kafka takes them: a row it refuses is published again after the later rows it took).

A batch is sent whole with the idempotent acks=all producer, every ack awaited, then the acknowledged rows
deleted in one statement. Delivery is at least once: a crash (or a lost connection) after the acks and
before the delete publishes those rows again, so every consumer of a relayed topic must be idempotent (the
dispatcher claims each reply by its message id, pending -> sending, so a republished reply is not resent).

Waking: a writer rings the process's `OutboxBell` once its transaction committed. In the publishing process
that sets the relay's event; in another it sends one NOTIFY (coalesced: one in flight per process). A NOTIFY
inside the writing transaction (0011's trigger, until 0017) serialises every such commit, fsync included, on
PostgreSQL's notification lock: measured under `make loadtest RATE=300`, it was where agents' replies and the
bot's answers queued. A ring that is lost (a crash between the commit and the ring) costs a poll, `POLL_S`.

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
from services.postgres import OUTBOX_CHANNEL, Connection, Pool

log = logging.getLogger(__name__)

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
        self._leading = False
        self._counted_at = float("-inf")
        self._failures = 0  # in a row, of any kind: paces every retry

    @property
    def leading(self) -> bool:
        """This process's relay holds the lock and publishes: a ring here needs no NOTIFY."""
        return self._leading

    def wake(self) -> None:
        """Read the outbox now instead of at the next poll."""
        self._wake.set()

    async def run_until(self, stopping: asyncio.Event) -> None:
        """Relay until `stopping` is set, reconnecting to PostgreSQL after any database error."""
        waker = asyncio.create_task(self._wake_when(stopping), name="outbox-relay-stop")
        try:
            await self._relay_until(stopping)
        finally:
            waker.cancel()

    async def _wake_when(self, stopping: asyncio.Event) -> None:
        """Stopping ends the wait for rows at once, however long the poll."""
        await stopping.wait()
        self._wake.set()

    async def _relay_until(self, stopping: asyncio.Event) -> None:
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
                self._leading = False
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
        await conn.add_listener(OUTBOX_CHANNEL, self._notified)
        self._leading = True
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


class OutboxBell:
    """Rung after a transaction that wrote the outbox committed, so the relay publishes at once.

    Never inside the transaction: a NOTIFY there holds PostgreSQL's notification lock through the commit's
    fsync, one committing writer at a time. Here the publishing process only sets an event; another sends a
    NOTIFY in a transaction of its own, at most one in flight per process (rings meanwhile are folded into
    the next). That transaction commits without waiting for its WAL flush (`synchronous_commit = off`,
    for it alone): it writes no data, the rows it announces were flushed by their own commits, and a
    notification is not durable anyway (a lost one is a poll's delay).
    """

    def __init__(self, pool: Pool, relay: OutboxRelay) -> None:
        self._pool = pool
        self._relay = relay
        self._again = False
        self._notifying: asyncio.Task[None] | None = None

    def ring(self) -> None:
        if self._relay.leading:
            self._relay.wake()
            return
        self._again = True
        if self._notifying is None or self._notifying.done():
            self._notifying = asyncio.create_task(self._notify(), name="outbox-bell")

    async def _notify(self) -> None:
        while self._again:
            self._again = False
            try:
                async with asyncio.timeout(STATEMENT_TIMEOUT_S), self._pool.acquire() as conn, conn.transaction():
                    await conn.execute("SET LOCAL synchronous_commit = off")
                    await conn.execute("SELECT pg_notify($1, '')", OUTBOX_CHANNEL)
            except _DATABASE_ERRORS as error:  # the relay's poll finds the rows
                log.debug("outbox bell not rung: %r", error)
                return


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
