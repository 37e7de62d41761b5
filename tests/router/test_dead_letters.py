"""What a dead-letter record means: a reply given up on, or a record a consumer could not process."""

from datetime import UTC, datetime
from uuid import uuid4

import orjson

from router.dead_letters import DeadLetterRecord, read_dead_letter
from schemas.outbound import DeadLetter, OutboundMessage
from schemas.wire import encode
from services.kafka import Topics

TOPICS = Topics("t")
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def record(topic: str, value: bytes, headers: dict[str, bytes] | None = None, key: bytes | None = b"k"):
    return DeadLetterRecord(
        topic=topic, partition=0, offset=7, key=key, value=value, headers=headers or {}, timestamp_ms=1_700_000_000_000
    )


def reply() -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="whatsapp",
        account_external_id="106540352242922",
        recipient_external_id="972501234567",
        text="On it.",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW,
    )


def test_a_reply_given_up_on_is_re_driven_as_its_outbound_message():
    message = reply()
    letter = DeadLetter(message=message, reason="retries_exhausted", detail="HTTP 500", attempts=4, failed_at=NOW)

    kept = read_dead_letter(
        record(TOPICS.outbound_dead_letter, encode(letter), {"switchboard-error": b"send_failed"}), TOPICS
    )

    assert (kept.kind, kept.reason, kept.detail, kept.attempts) == ("outbound", "retries_exhausted", "HTTP 500", 4)
    assert (kept.message_id, kept.conversation_id) == (message.message_id, message.conversation_id)
    assert kept.target_topic == "t.outbound.v1"
    assert kept.record_key == str(message.conversation_id).encode()
    assert orjson.loads(kept.record_value)["message_id"] == str(message.message_id)
    assert kept.failed_at == NOW


def test_an_older_dispatchers_dead_letter_without_headers_is_read_the_same_way():
    letter = DeadLetter(message=reply(), reason="rejected", detail="bad number", attempts=1, failed_at=NOW)

    kept = read_dead_letter(record(TOPICS.outbound_dead_letter, encode(letter)), TOPICS)

    assert (kept.kind, kept.reason, kept.target_topic) == ("outbound", "rejected", "t.outbound.v1")


def test_an_unprocessable_inbound_record_keeps_its_bytes_and_the_reason_from_its_headers():
    headers = {
        "switchboard-error": b"unprocessable",
        "switchboard-error-detail": b"CharacterNotInRepertoireError: unsupported Unicode escape \x00 sequence",
        "switchboard-source-topic": b"t.inbound.v1",
        "switchboard-source-partition": b"3",
        "switchboard-source-offset": b"41",
        "switchboard-attempts": b"3",
    }

    kept = read_dead_letter(record(TOPICS.inbound_dead_letter, b'{"text": "a\\u0000b"}', headers, key=b"c"), TOPICS)

    assert (kept.kind, kept.reason, kept.attempts, kept.message_id) == ("inbound", "unprocessable", 3, None)
    assert "\x00" not in kept.detail, "PostgreSQL text cannot hold NUL"
    assert (kept.target_topic, kept.record_key, kept.record_value) == ("t.inbound.v1", b"c", b'{"text": "a\\u0000b"}')
    assert (kept.source.partition, kept.source.offset) == (0, 7)


def test_a_header_cannot_point_a_re_drive_at_another_stacks_topic():
    headers = {"switchboard-error": b"undecodable", "switchboard-source-topic": b"production.inbound.v1"}

    kept = read_dead_letter(record(TOPICS.inbound_dead_letter, b"\xff\xfe", headers), TOPICS)

    assert kept.target_topic == "t.inbound.v1"


def test_garbage_on_the_outbound_dead_letter_topic_is_kept_as_an_unlabelled_outbound_record():
    kept = read_dead_letter(record(TOPICS.outbound_dead_letter, b"\x00\x01 not json", {}, key=None), TOPICS)

    assert (kept.kind, kept.reason, kept.target_topic, kept.record_key) == (
        "outbound",
        "unlabelled",
        "t.outbound.v1",
        None,
    )


def test_bad_header_values_do_not_fail_the_keeper():
    headers = {"switchboard-error": b"\xff\xfeunprocessable", "switchboard-attempts": b"three"}

    kept = read_dead_letter(record(TOPICS.inbound_dead_letter, b"x", headers), TOPICS)

    assert kept.attempts is None
    assert kept.reason.endswith("unprocessable")
