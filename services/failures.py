"""How a consumer tells our own outage from a record that cannot be processed.

Exception raised by a partition handler
├── transient: our outage (PostgreSQL or Kafka unreachable, restarting, out of connections)
│              -> retried for as long as it takes, never dead-lettered
└── anything else: the records themselves, or a bug (a DataError, a ValidationError)
    │          -> retried a bounded number of times, then dead-lettered
    └── UnprocessableRecord: a handler's verdict on one record it knows is bad
               -> dead-lettered at once
"""

import asyncpg
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

# SQLSTATE classes 08 (connection), 53 (insufficient resources: too many connections) and 57 (operator
# intervention: shutting down, starting up), asyncpg's own "the connection is gone", and its "cannot switch
# to state N; another operation is in progress" when the server ends a connection mid-operation (a restart).
DATABASE_OUTAGES = (
    asyncpg.PostgresConnectionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)
_KAFKA_OUTAGES = (KafkaConnectionError, KafkaTimeoutError)


class UnprocessableRecord(Exception):
    """Raised by a handler for a record that can never be processed (e.g. undecodable): no retries."""

    def __init__(self, record: ConsumerRecord[bytes, bytes], detail: str, reason: str = "undecodable") -> None:
        super().__init__(detail)
        self.record = record
        self.reason = reason


def is_transient(error: BaseException) -> bool:
    """Whether an error means our own outage, which time heals, rather than a fault of the records."""
    if isinstance(error, BaseExceptionGroup):
        return all(is_transient(inner) for inner in error.exceptions)
    if isinstance(error, UnprocessableRecord):
        return False
    if isinstance(error, DATABASE_OUTAGES + _KAFKA_OUTAGES + (OSError, TimeoutError)):
        return True
    if isinstance(error, KafkaError) and error.retriable:  # leader moving, coordinator not available...
        return True
    # A library that wraps the outage (`raise ... from error`) keeps it as the cause.
    return error.__cause__ is not None and is_transient(error.__cause__)
