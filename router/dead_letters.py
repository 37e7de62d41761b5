"""What a dead-letter record says: the reason, and the record to publish again if an admin re-drives it. Pure.

Two kinds of record reach the dead-letter topics:
- a record a consumer could not process (services/consuming.py): its original key and value, with the
  reason in `switchboard-error*` headers, re-driven to the topic it came from;
- a reply the dispatcher gave up on (`switchboard-error: send_failed`): a `schemas.outbound.DeadLetter`,
  re-driven as its `OutboundMessage` to the outbound topic once the reply is pending again.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from pydantic import ValidationError

from schemas.outbound import DeadLetter
from schemas.wire import decode, encode
from services.kafka import Topics

SEND_FAILED = "send_failed"
DETAIL_LIMIT = 2_000  # characters of an error text worth keeping


@dataclass(frozen=True)
class DeadLetterRecord:
    """One record as read from a dead-letter topic."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, bytes]
    timestamp_ms: int


@dataclass(frozen=True)
class KeptDeadLetter:
    """What the keeper stores of a dead-letter record."""

    kind: Literal["inbound", "outbound"]
    reason: str
    detail: str
    attempts: int | None
    message_id: UUID | None
    conversation_id: UUID | None
    target_topic: str
    record_key: bytes | None
    record_value: bytes
    failed_at: datetime
    source: DeadLetterRecord


def read_dead_letter(record: DeadLetterRecord, topics: Topics) -> KeptDeadLetter:
    """Sort a dead-letter record into what it means; never raises, whatever the record holds."""
    kind: Literal["inbound", "outbound"] = "inbound" if record.topic == topics.inbound_dead_letter else "outbound"
    headers = {name: _text(value) for name, value in record.headers.items()}
    failed_at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
    if headers.get("switchboard-error") == SEND_FAILED or "switchboard-error" not in headers:
        given_up = _given_up_reply(record.value)
        if given_up is not None:
            return KeptDeadLetter(
                kind="outbound",
                reason=_clean(given_up.reason),
                detail=_clean(given_up.detail),
                attempts=given_up.attempts,
                message_id=given_up.message.message_id,
                conversation_id=given_up.message.conversation_id,
                target_topic=topics.outbound,
                record_key=str(given_up.message.conversation_id).encode(),
                record_value=encode(given_up.message),
                failed_at=given_up.failed_at,
                source=record,
            )
    default_target = topics.inbound if kind == "inbound" else topics.outbound
    return KeptDeadLetter(
        kind=kind,
        reason=_clean(headers.get("switchboard-error") or "unlabelled"),
        detail=_clean(headers.get("switchboard-error-detail", "")),
        attempts=_int(headers.get("switchboard-attempts")),
        message_id=None,
        conversation_id=None,
        # Only this stack's own topics: a header must not point a re-drive anywhere else.
        target_topic=_own_topic(headers.get("switchboard-source-topic"), topics) or default_target,
        record_key=record.key,
        record_value=record.value,
        failed_at=failed_at,
        source=record,
    )


def _given_up_reply(value: bytes) -> DeadLetter | None:
    try:
        return decode(DeadLetter, value)
    except (ValidationError, ValueError):
        return None


def _own_topic(name: str | None, topics: Topics) -> str | None:
    return name if name in (topics.inbound, topics.outbound) else None


def _text(value: bytes | None) -> str:
    return (value or b"").decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    # PostgreSQL's text cannot hold NUL, and a dead letter's own detail must not make it a poison record.
    return text.replace("\x00", "\ufffd")[:DETAIL_LIMIT]


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
