"""The dispatcher's two sweeps, every `scheduler_interval_s`: the reaper and the retry scheduler.

- Reaper: a reply whose lease ran out was being sent by a dispatcher that died (or lost its database)
  mid-send. Where a resend is safe (dispatcher/resend.py) it is made due again and resent with the same
  key; otherwise it is marked `unknown` and its agent told, in the same transaction.
- Scheduler: replies whose `next_attempt_at` has come are taken (SKIP LOCKED, in batches, so several
  dispatchers share them) and sent like the ones Kafka brings.
"""

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from dispatcher import store
from dispatcher.consumer import OutboundHandler
from dispatcher.resend import resend_safe
from dispatcher.settings import DispatcherSettings
from services.kafka import Topics
from services.metrics import DISPATCH, DISPATCH_SCHEDULED, DISPATCH_UNKNOWN
from services.postgres import Pool

log = logging.getLogger(__name__)

GAUGE_EVERY_S = 5.0


async def reap(pool: Pool, topics: Topics, limit: int) -> int:
    """Settle the replies whose lease ran out; how many were settled."""
    async with pool.acquire() as conn, conn.transaction():
        expired = await store.take_expired_leases(conn, limit)
        now = datetime.now(UTC)
        for due in expired:
            outbound = due.outbound
            if resend_safe(outbound, due.claimed_at or now):
                await store.schedule(
                    conn,
                    outbound.message_id,
                    now,
                    {"code": "lease_expired", "detail": "resent", "at": now.isoformat()},
                    claimed=True,  # the expired lease is taken over, in this transaction
                )
                DISPATCH.labels(channel=outbound.channel, outcome="resent_after_lease").inc()
                log.warning("lease of %s ran out: resending it with its idempotency key", outbound.message_id)
            else:
                detail = "the dispatcher sending it stopped before the provider answered"
                await store.mark_unknown(conn, topics, outbound, detail, now)
                DISPATCH.labels(channel=outbound.channel, outcome="unknown").inc()
                log.warning("lease of %s ran out: outcome unknown", outbound.message_id)
    return len(expired)


async def run_sweeps(
    handler: OutboundHandler, pool: Pool, settings: DispatcherSettings, stopping: asyncio.Event
) -> None:
    """Reap and schedule until `stopping`; a failed sweep is logged and tried again next interval."""
    topics = Topics(settings.topic_prefix)
    counted_at = 0.0
    while not stopping.is_set():
        try:
            await reap(pool, topics, settings.scheduler_batch)
            async with pool.acquire() as conn:
                due = await store.take_due(conn, settings.scheduler_batch, handler.hand_off_s)
            if due:
                await handler.start(
                    [d.outbound for d in due], attempts={d.outbound.message_id: d.attempts for d in due}
                )
            if time.monotonic() - counted_at > GAUGE_EVERY_S:
                async with pool.acquire() as conn:
                    unknown, scheduled = await store.count_unsettled(conn)
                DISPATCH_UNKNOWN.set(unknown)
                DISPATCH_SCHEDULED.set(scheduled)
                counted_at = time.monotonic()
        except Exception:
            log.exception("dispatch sweep failed; trying again")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=settings.scheduler_interval_s)
