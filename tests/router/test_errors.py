"""Which exceptions are our own outage (a 503 naming PostgreSQL or Kafka) and which are not."""

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError

from router.errors import DatabaseUnavailable, KafkaUnavailable, NotFound, outage_of


def test_postgresql_going_away_is_database_unavailable():
    for error in (
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    ):
        outage = outage_of(error)
        assert isinstance(outage, DatabaseUnavailable), error
        assert (outage.status, outage.code) == (503, "database_unavailable")


def test_kafka_not_answering_is_kafka_unavailable():
    for error in (KafkaTimeoutError(), KafkaConnectionError()):
        outage = outage_of(error)
        assert isinstance(outage, KafkaUnavailable)
        assert (outage.status, outage.code) == (503, "kafka_unavailable")


def test_other_errors_are_not_an_outage():
    assert outage_of(ValueError("bug")) is None
    assert outage_of(asyncpg.UniqueViolationError("duplicate")) is None
    assert outage_of(NotFound("x")) is None
