from datetime import UTC, datetime
from uuid import uuid4

import pytest

from ingest.errors import PayloadError
from ingest.publisher import MAX_RECORD_BYTES, publish
from schemas.inbound import InboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Producer:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, key: bytes):
        self.sent.append(value)
        raise AssertionError("nothing is sent when one event is too large")


async def test_an_event_above_the_record_limit_is_a_payload_error_and_nothing_is_sent():
    # Control characters are escaped six-fold in JSON: 200,000 of them fit the schema but not a record.
    text = "\x01" * 200_000
    events = [
        InboundMessage(
            event_id=uuid4(),
            channel="twilio",
            account_external_id="+15550100001",
            sender_external_id=f"+1555010{n:04d}",
            provider_message_id=f"SM{n}",
            sent_at=NOW,
            received_at=NOW,
            content_type="text",
            text=text if n == 1 else "hi",
        )
        for n in range(2)
    ]
    producer = Producer()
    with pytest.raises(PayloadError, match=f"above the {MAX_RECORD_BYTES}-byte record limit"):
        await publish(producer, "inbound", events, timeout_s=1)  # type: ignore[arg-type]
    assert producer.sent == []
