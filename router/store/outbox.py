"""The transactional outbox's write side: records that must reach Kafka if, and only if, their transaction commits.

Call `enqueue` on the connection of the transaction that makes the change the record announces; the relay
(router/outbox.py) publishes the rows in id order and deletes each once Kafka acknowledged it.
"""

from services.postgres import Connection


async def enqueue(conn: Connection, records: list[tuple[str, bytes, bytes]]) -> None:
    """Write (topic, key, value) records to the outbox, in this order, in the caller's transaction."""
    if records:
        await conn.execute(
            """INSERT INTO outbox (topic, key, value)
               SELECT r.topic, r.key, r.value
                 FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS r(topic, key, value, n)
                ORDER BY n""",
            [topic for topic, _, _ in records],
            [key for _, key, _ in records],
            [value for _, _, value in records],
        )
