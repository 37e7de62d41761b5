"""What the providers accepted, recorded together: one `store.mark_sent_all` for every send of one loop turn.

The sends a Kafka batch started are answered close together, and each used to record its outcome with a
statement and a commit of its own: under `make loadtest RATE=500` the dispatcher's most frequent statement.
Errors: as dispatcher/per_turn.py (each caller retries its own record, dispatcher/consumer.py `_sent`).
"""

from dispatcher import store
from dispatcher.per_turn import OneStatementPerTurn
from schemas.delivery import OutboundStatus
from services.postgres import Connection, Pool


class SentRecords(OneStatementPerTurn[store.Sent, OutboundStatus]):
    """Coalesces the sent records of one loop turn into one statement."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool, "dispatcher-sent-records")

    async def record(self, sent: store.Sent) -> OutboundStatus:
        """Record the reply as sent (with any receipt that came first); its status now."""
        return await self.ask(sent)

    async def run(self, conn: Connection, keys: list[store.Sent]) -> dict[store.Sent, OutboundStatus]:
        return await store.mark_sent_all(conn, keys)
