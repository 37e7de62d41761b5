"""Our own outage is told apart from a record that cannot be processed."""

import asyncpg
import pytest
from aiokafka import ConsumerRecord
from aiokafka.errors import CommitFailedError, KafkaConnectionError, NotLeaderForPartitionError
from pydantic import BaseModel

from services.failures import UnprocessableRecord, is_transient


class Event(BaseModel):
    text: str


def validation_error() -> Exception:
    try:
        Event.model_validate({"text": 1})
    except ValueError as error:
        return error
    raise AssertionError("expected a validation error")


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.InterfaceError("pool is closed"),
        asyncpg.InternalClientError("cannot switch to state 15; another operation (2) is in progress"),
        ConnectionRefusedError(111, "Connect call failed"),
        ConnectionResetError(104, "Connection reset by peer"),
        TimeoutError(),
        KafkaConnectionError("Unable to bootstrap"),
        NotLeaderForPartitionError(),
        ExceptionGroup("two outages", [OSError("a"), TimeoutError()]),
    ],
    ids=lambda error: type(error).__name__,
)
def test_an_outage_is_transient(error):
    assert is_transient(error)


def test_an_outage_a_library_wrapped_is_transient():
    wrapped = RuntimeError("lookup failed")
    wrapped.__cause__ = ConnectionResetError(104, "reset")  # what `raise ... from outage` records
    assert is_transient(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CharacterNotInRepertoireError('invalid byte sequence for encoding "UTF8": 0x00'),
        asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence"),
        asyncpg.StringDataRightTruncationError("value too long for type character varying(64)"),
        asyncpg.UniqueViolationError("duplicate key value violates unique constraint"),
        validation_error(),
        KeyError("bug"),
        CommitFailedError("rebalanced"),
        ExceptionGroup("an outage and a bad record", [OSError("a"), ValueError("b")]),
        UnprocessableRecord(ConsumerRecord("t", 0, 0, 0, 0, b"k", b"v", None, 1, 1, []), "undecodable"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_anything_else_is_the_records_fault(error):
    assert not is_transient(error)
