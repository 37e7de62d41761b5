"""Claims asked for together are taken together: one `store.claim_all` for every claim of one event-loop turn.

A reply asked for twice in one batch (the scheduler and a replayed record at the same moment) is claimed
once: the second ask is answered "gone", as a second claim after the first would be. A caller cancelled
meanwhile leaves its reply claimed; its lease settles it. Errors: as dispatcher/per_turn.py.
"""

from uuid import UUID

from dispatcher import store
from dispatcher.per_turn import OneStatementPerTurn
from services.postgres import Connection, Pool


class Claims(OneStatementPerTurn[UUID, store.Claim]):
    """Coalesces the claims of one loop turn into one `store.claim_all` statement."""

    def __init__(self, pool: Pool, lease_s: float) -> None:
        super().__init__(pool, "dispatcher-claims")
        self._lease_s = lease_s

    async def claim(self, message_id: UUID) -> store.Claim:
        """The reply's claim (store.claim_all says what each outcome means)."""
        if self.asked(message_id):
            return "gone", None  # asked for already in this batch: that ask takes it
        return await self.ask(message_id)

    async def run(self, conn: Connection, keys: list[UUID]) -> dict[UUID, store.Claim]:
        return await store.claim_all(conn, keys, self._lease_s)
