"""Statements asked for together are run together: one statement for everything asked in one event-loop turn.

A batch from Kafka starts its conversations' sends at once (dispatcher/consumer.py `start`), so their claims
come in the same turn of the loop, and the provider's answers to them come back close together; one
statement for each turn's asks (dispatcher/claims.py, dispatcher/sent_records.py) replaces one statement and
one commit each. Nothing waits for company: the batch runs on the loop's next turn, whatever its size.

Errors: a failed statement fails every ask of its batch with the same exception (each caller handles it as
it handled its own statement's failure). A caller cancelled while its batch runs leaves the statement's
effect in place (the batch is not undone for one caller).
"""

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Hashable
from typing import Generic, TypeVar

from services.postgres import Connection, Pool

Key = TypeVar("Key", bound=Hashable)
Answer = TypeVar("Answer")


class OneStatementPerTurn(ABC, Generic[Key, Answer]):
    """Coalesces the asks of one loop turn into one `run` call on one pooled connection."""

    def __init__(self, pool: Pool, name: str) -> None:
        self._pool = pool
        self._name = name
        self._waiting: dict[Key, asyncio.Future[Answer]] = {}
        self._batches: set[asyncio.Task[None]] = set()

    @abstractmethod
    async def run(self, conn: Connection, keys: list[Key]) -> dict[Key, Answer]:
        """The one statement (or a few) for a turn's keys; an answer for each."""

    def asked(self, key: Key) -> bool:
        """Whether `key` was asked for already in the turn being gathered."""
        return key in self._waiting

    async def ask(self, key: Key) -> Answer:
        """`key`'s answer, from the statement that runs for this turn's asks; a key asked twice in one turn is
        run once, and both asks get its answer (Claims answers a second ask itself: see `asked`)."""
        if key in self._waiting:
            return await self._waiting[key]
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._send_batch)
        answer: asyncio.Future[Answer] = loop.create_future()
        self._waiting[key] = answer
        return await answer

    def _send_batch(self) -> None:
        batch, self._waiting = self._waiting, {}
        task = asyncio.create_task(self._run(batch), name=self._name)
        self._batches.add(task)
        task.add_done_callback(self._batches.discard)

    async def _run(self, batch: dict[Key, asyncio.Future[Answer]]) -> None:
        try:
            async with self._pool.acquire() as conn:
                answers = await self.run(conn, list(batch))
        except asyncio.CancelledError:
            for answer in batch.values():
                answer.cancel()
            raise
        except Exception as error:  # each caller meets its statement's failure
            for answer in batch.values():
                if not answer.done():
                    answer.set_exception(error)
            return
        for key, answer in batch.items():
            if not answer.done():
                answer.set_result(answers[key])
