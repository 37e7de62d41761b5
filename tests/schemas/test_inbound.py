from datetime import UTC, datetime
from uuid import uuid4

import orjson
import pytest
from pydantic import ValidationError

from schemas.inbound import MAX_ID_BYTES, MAX_TEXT_CHARS, Attachment, DeliveryStatus, InboundMessage, storable
from schemas.wire import decode_inbound, encode

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def message(**fields) -> InboundMessage:
    base = {
        "event_id": uuid4(),
        "channel": "webchat",
        "account_external_id": "site-1",
        "sender_external_id": "site-1:v1",
        "provider_message_id": "site-1:m1",
        "sent_at": NOW,
        "received_at": NOW,
        "content_type": "text",
        "text": "hello",
    }
    return InboundMessage(**{**base, **fields})


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("hello\u0000world", "helloworld"),
        ("\u0000", ""),
        ("a\ud800b", "a\ufffdb"),  # a lone high surrogate
        ("\udc00", "\ufffd"),  # a lone low surrogate
        ("\ud83d\ude00", "\U0001f600"),  # a pair split in two code points is the character it encodes
        ("tab\tbell\x07 del\x7f esc\x1b", "tab\tbell\x07 del\x7f esc\x1b"),  # storable: kept as written
        ("zero\u200bwidth \u202eright-to-left\ufeff", "zero\u200bwidth \u202eright-to-left\ufeff"),
        ("e\u0301 \U0001f3f3\ufe0f\u200d\U0001f308", "e\u0301 \U0001f3f3\ufe0f\u200d\U0001f308"),
    ],
    ids=["nul", "only-nul", "high", "low", "split-pair", "controls", "invisibles", "combining-zwj"],
)
def test_text_is_kept_as_written_but_for_what_postgresql_and_utf8_cannot_hold(written, kept):
    assert storable(written) == kept
    assert message(text=written).text == kept


def test_every_string_of_an_event_is_cleaned_ids_and_channel_data_included():
    cleaned = message(
        sender_external_id="v\u00001",
        provider_message_id="m\ud8001",
        sender_name="Ana\u0000",
        channel_data={"subject\u0000": "Re: \u0000order"},
        attachments=(Attachment(kind="image", url="https://x.test/\u0000a.png", filename="a\udcff.png"),),
    )
    assert (cleaned.sender_external_id, cleaned.provider_message_id, cleaned.sender_name) == ("v1", "m\ufffd1", "Ana")
    assert cleaned.channel_data == {"subject": "Re: order"}
    assert (cleaned.attachments[0].url, cleaned.attachments[0].filename) == ("https://x.test/a.png", "a\ufffd.png")
    # What is cleaned can be encoded for Kafka: orjson refuses a lone surrogate outright.
    assert decode_inbound(encode(cleaned)) == cleaned
    assert b"\\u0000" not in encode(cleaned)


def test_a_record_with_a_nul_is_cleaned_when_the_router_decodes_it():
    raw = orjson.dumps({**orjson.loads(encode(message())), "text": "a\u0000b"})
    assert b"\\u0000" in raw
    assert decode_inbound(raw).text == "ab"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fields",
    [
        {"provider_message_id": "m" * (MAX_ID_BYTES + 1)},
        {"sender_external_id": "\u00e9" * (MAX_ID_BYTES // 2 + 1)},  # short in characters, long in bytes
        {"text": "x" * (MAX_TEXT_CHARS + 1)},
        {"sender_name": "n" * 100_000},
        {"channel_data": {f"k{n}": "v" for n in range(33)}},
        {"attachments": tuple(Attachment(kind="image") for _ in range(101))},
        {"sent_at": datetime(9999, 12, 31, tzinfo=UTC)},
        {"sent_at": datetime(1969, 12, 31, 23, 59, tzinfo=UTC)},
        {"received_at": datetime(2200, 1, 1, tzinfo=UTC)},
    ],
    ids=[
        "long-id",
        "long-id-in-bytes",
        "long-text",
        "long-name",
        "channel-data",
        "attachments",
        "year-9999",
        "before-1970",
        "year-2200",
    ],
)
def test_an_event_outside_the_bounds_is_refused_not_truncated(fields):
    with pytest.raises(ValidationError):
        message(**fields)


def test_a_receipt_is_bounded_and_cleaned_too():
    receipt = DeliveryStatus(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id="1",
        recipient_external_id="2\u0000",
        provider_message_id="wamid.1",
        status="read",
        occurred_at=NOW,
        received_at=NOW,
    )
    assert receipt.recipient_external_id == "2"
    with pytest.raises(ValidationError):
        DeliveryStatus(**{**receipt.model_dump(), "occurred_at": datetime(1, 1, 1, tzinfo=UTC)})
