"""Claims asked for together are taken together: one statement for every claim of one event-loop turn.

A batch from Kafka starts its conversations' sends at once (dispatcher/consumer.py `start`), so their claims
come in the same turn of the loop; one UPDATE takes them all (store.claim_all) instead of one statement and
one commit each. Nothing waits for company: the batch is sent on the loop's next turn, whatever its size.

A reply asked for twice in one batch (the scheduler and a replayed record at the same moment) is claimed
once: the second ask is answered "gone", as a second claim after the first would be.
Errors: a failed statement fails every claim of its batch with the same exception (each caller handles it
as it handled its own claim's failure).
"""

import asyncio
from uuid import UUID

from dispatcher import store
from services.postgres import Pool


class Claims:
    """Coalesces the claims of one loop turn into one `store.claim_all` statement."""

    def __init__(self, pool: Pool, lease_s: float) -> None:
        self._pool = pool
        self._lease_s = lease_s
        self._waiting: dict[UUID, asyncio.Future[store.Claim]] = {}
        self._batches: set[asyncio.Task[None]] = set()

    async def claim(self, message_id: UUID) -> store.Claim:
        """The reply's claim (store.claim_all says what each outcome means)."""
        if message_id in self._waiting:
            return "gone", None  # asked for already in this batch: that ask takes it
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._send_batch)
        answer: asyncio.Future[store.Claim] = loop.create_future()
        self._waiting[message_id] = answer
        return await answer

    def _send_batch(self) -> None:
        batch, self._waiting = self._waiting, {}
        task = asyncio.create_task(self._claim(batch), name="dispatcher-claims")
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _claim(self, batch: dict[UUID, asyncio.Future[store.Claim]]) -> None:
        try:
            async with self._pool.acquire() as conn:
                outcomes = await store.claim_all(conn, list(batch), self._lease_s)
        except asyncio.CancelledError:
            for answer in batch.values():
                answer.cancel()
            raise
        except Exception as error:  # each caller meets its claim's failure
            for answer in batch.values():
                if not answer.done():
                    answer.set_exception(error)
            return
        for message_id, answer in batch.items():
            if not answer.done():  # a caller cancelled meanwhile: the reply stays claimed; its lease settles it
                answer.set_result(outcomes[message_id])
