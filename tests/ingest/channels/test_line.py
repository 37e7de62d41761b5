from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from ingest.channels.line import LineWebhook, sign
from ingest.errors import PayloadError, SignatureError
from ingest.webhook import WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

PAYLOADS = Path(__file__).parent / "payloads" / "line"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOT = "U8e742f61d673b39c7fff3cecb7536ef0"
OWN_SECRET_BOT = "U0000000000000000000000000000own"
ACCOUNTS = (
    ChannelAccount(channel="line", external_id=BOT, name="shared-secret bot"),
    ChannelAccount(
        channel="line", external_id=OWN_SECRET_BOT, name="own-secret bot", webhook_secret=SecretStr("own-secret")
    ),
    # Another channel's account with the same id must not lend LINE its secret.
    ChannelAccount(channel="webchat", external_id=BOT, name="site", webhook_secret=SecretStr("webchat-secret")),
)
webhook = LineWebhook(channel_secret="channel-secret", accounts=ACCOUNTS)


def request(body: bytes, signature: str | None = None) -> WebhookRequest:
    headers = {} if signature is None else {"x-line-signature": signature}
    return WebhookRequest(url="http://127.0.0.1:8080/webhooks/line", headers=headers, raw_body=body)


def parse(name: str) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request((PAYLOADS / name).read_bytes()), NOW)


def messages(name: str) -> list[InboundMessage]:
    events = parse(name)
    assert all(isinstance(e, InboundMessage) for e in events)
    return [e for e in events if isinstance(e, InboundMessage)]


def test_a_text_message_event_becomes_one_inbound_message_with_its_reply_context():
    [message] = messages("text.json")
    assert message.channel == "line"
    assert message.account_external_id == BOT
    assert message.sender_external_id == "U4af4980629c8a1f7f5e8e2d4d7a2b1c3"
    assert message.provider_message_id == "468789577898262530"
    assert message.sent_at == datetime(2023, 8, 17, 5, 54, 26, 727000, tzinfo=UTC)
    assert message.received_at == NOW
    assert (message.content_type, message.text) == ("text", "Chicken, please.")
    assert message.reply_to_provider_message_id == "468789532432007169"
    assert message.channel_data == {
        "reply_token": "38ef843bde154d9b91c21320ffd17a0f",
        "quote_token": "q3Plxr4AgKd3mVMXVnfxQTp1hWTE2hNQZ8qzMUKSD-S1",
    }


def test_the_consoles_verify_ping_is_accepted_with_no_events():
    assert parse("verify.json") == []


def test_every_message_event_of_a_batch_is_its_own_event_and_other_event_types_are_dropped():
    batch = messages("batch.json")
    assert [m.provider_message_id for m in batch] == [
        "325708001",
        "354718705033693861",
        "325708002",
        "325708003",
        "325708004",
        "325708005",
        "325708006",
        "325708007",
        "325708008",
        "325708009",
    ]
    assert len({m.event_id for m in batch}) == len(batch)
    assert {m.account_external_id for m in batch} == {BOT}


def test_media_stickers_and_locations_are_normalised_to_attachments():
    by_id = {m.provider_message_id: m for m in messages("batch.json")}
    image = by_id["354718705033693861"]
    assert image.content_type == "image"
    assert [(a.kind, a.provider_media_id, a.url) for a in image.attachments] == [("image", "354718705033693861", None)]
    video = by_id["325708002"]
    assert [(a.kind, a.provider_media_id, a.url) for a in video.attachments] == [
        ("video", "325708002", "https://example.com/original.mp4")
    ]
    assert by_id["325708003"].attachments[0].kind == "audio"
    document = by_id["325708004"]
    assert (document.content_type, document.attachments[0].kind, document.attachments[0].filename) == (
        "document",
        "document",
        "invoice-42.pdf",
    )
    sticker = by_id["325708005"]
    assert (sticker.content_type, sticker.attachments[0].kind, sticker.attachments[0].provider_media_id) == (
        "sticker",
        "sticker",
        "1988",
    )
    location = by_id["325708006"]
    assert location.text == "my location, 1-3 Kioicho, Chiyoda-ku, Tokyo"
    assert location.attachments[0].url == "geo:35.67966,139.73669"
    assert (by_id["325708009"].content_type, by_id["325708009"].text) == ("unsupported", None)


def test_group_and_room_messages_are_answered_in_their_chat():
    by_id = {m.provider_message_id: m for m in messages("batch.json")}
    group = by_id["325708007"]
    assert group.sender_external_id == "U91eeaf62d901234567890123456789ab"
    assert group.channel_data["to"] == "Ca56f94637cc4347f90a25382909b24b9"
    room = by_id["325708002"]  # the member did not share a userId: the room is the sender
    assert room.sender_external_id == "Ra8dbf4673c4c812cd491258042226c99"
    assert room.channel_data["to"] == "Ra8dbf4673c4c812cd491258042226c99"
    assert "to" not in by_id["325708001"].channel_data


def test_a_standby_message_has_no_reply_token():
    standby = {m.provider_message_id: m for m in messages("batch.json")}["325708008"]
    assert standby.channel_data == {"quote_token": "qT6"}


def test_a_redelivered_event_is_the_same_message():
    original = orjson.loads((PAYLOADS / "text.json").read_bytes())
    original["events"][0]["deliveryContext"]["isRedelivery"] = True
    [again] = webhook.parse(request(orjson.dumps(original)), NOW)
    [first] = messages("text.json")
    assert isinstance(again, InboundMessage)
    assert again.provider_message_id == first.provider_message_id
    assert again.channel_data == first.channel_data


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"events":[]}', "destination"),
        (b'{"destination":"U1"}', "events"),
        (
            b'{"destination":"U1","events":[{"type":"message","timestamp":1,"source":{"type":"user","userId":"U2"}}]}',
            "message",
        ),
        (
            b'{"destination":"U1","events":[{"type":"message","timestamp":"noon","source":{"type":"user","userId":"U2"},'
            b'"message":{"id":"1","type":"text","text":"x"}}]}',
            "timestamp",
        ),
        (
            b'{"destination":"U1","events":[{"type":"message","timestamp":1,"source":{"type":"user"},'
            b'"message":{"id":"1","type":"text","text":"x"}}]}',
            "source has no userId",
        ),
    ],
    ids=["not-json", "not-an-object", "no-destination", "no-events", "no-message", "bad-timestamp", "no-sender"],
)
def test_a_body_line_would_not_send_is_a_payload_error(body, where):
    with pytest.raises(PayloadError, match=where):
        webhook.parse(request(body), NOW)


def test_the_signature_is_base64_hmac_sha256_of_the_raw_body_with_the_channel_secret():
    body = (PAYLOADS / "text.json").read_bytes()
    webhook.verify(request(body, sign(b"channel-secret", body)))
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify(request(body, sign(b"not-the-secret", body)))
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify(request(body + b" ", sign(b"channel-secret", body)))
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(body))


def test_a_bot_with_its_own_secret_is_verified_with_it_and_only_it():
    body = orjson.dumps({"destination": OWN_SECRET_BOT, "events": []})
    webhook.verify(request(body, sign(b"own-secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body, sign(b"channel-secret", body)))


def test_a_body_that_is_not_json_is_checked_against_the_channel_secret_before_it_is_refused():
    webhook.verify(request(b"garbage", sign(b"channel-secret", b"garbage")))
    with pytest.raises(SignatureError):
        webhook.verify(request(b"garbage", sign(b"own-secret", b"garbage")))


def test_without_any_secret_every_delivery_is_refused():
    unconfigured = LineWebhook(channel_secret="", accounts=())
    body = (PAYLOADS / "verify.json").read_bytes()
    with pytest.raises(SignatureError, match="no LINE channel secret"):
        unconfigured.verify(request(body, sign(b"", body)))
