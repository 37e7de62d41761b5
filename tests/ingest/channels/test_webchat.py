from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from ingest.channels.webchat import WebchatWebhook
from ingest.errors import PayloadError, SignatureError
from ingest.webhook import WebhookRequest
from sandbox.webhooks.webchat import signed_webchat
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount
from services.webchat_signature import sign

PAYLOADS = Path(__file__).parent / "payloads" / "webchat"
NOW = datetime(2026, 11, 23, 12, 0, 30, tzinfo=UTC)
CHANNEL_KEY = "channel-wide-key"
ACCOUNTS = (
    ChannelAccount(channel="webchat", external_id="shop-1", name="Shop"),
    ChannelAccount(channel="webchat", external_id="shop-2", name="Shop 2", webhook_secret=SecretStr("shop-2-key")),
)
webhook = WebchatWebhook(CHANNEL_KEY.encode(), ACCOUNTS, tolerance_s=300, clock=NOW.timestamp)


def request(body: bytes, headers: dict[str, str] | None = None) -> WebhookRequest:
    return WebhookRequest(
        url="http://127.0.0.1:8080/webhooks/webchat",
        headers={"content-type": "application/json", **(headers or {})},
        raw_body=body,
    )


def parse(name: str) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request((PAYLOADS / name).read_bytes()), NOW)


def test_a_visitor_message_is_kept_under_its_site():
    [message] = parse("message.json")
    assert isinstance(message, InboundMessage)
    assert (message.channel, message.account_external_id) == ("webchat", "shop-1")
    assert (message.sender_external_id, message.sender_name) == ("shop-1:v-8c1f", "Ana")
    assert message.provider_message_id == "shop-1:m-1001"
    assert message.sent_at == datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert (message.content_type, message.text, message.attachments) == ("text", "Where is my order?", ())


def test_attachments_keep_their_kind_url_and_type():
    [message] = parse("attachments.json")
    assert isinstance(message, InboundMessage)
    assert (message.content_type, message.text) == ("image", None)
    assert message.sent_at == datetime(2026, 11, 23, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert [(a.kind, a.url, a.mime_type, a.filename) for a in message.attachments] == [
        ("image", "https://shop.example/u/1.png", "image/png", "1.png"),
        ("document", "https://shop.example/u/invoice-42.pdf", None, None),
    ]


def test_every_message_and_receipt_of_a_batch_becomes_its_own_event():
    events = parse("batch.json")
    messages = [e for e in events if isinstance(e, InboundMessage)]
    receipts = [e for e in events if isinstance(e, DeliveryStatus)]
    assert [(m.sender_external_id, m.provider_message_id, m.text) for m in messages] == [
        ("shop-1:v-8c1f", "shop-1:m-1003", "Hello?"),
        ("shop-1:v-77aa", "shop-1:m-1004", "Hi"),
    ]
    assert [(r.provider_message_id, r.status, r.recipient_external_id) for r in receipts] == [
        ("shop-1:3f2b8e4c-1d6a-4b7e-9c0f-5a6b7c8d9e0f", "delivered", "shop-1:v-8c1f"),
        ("shop-1:3f2b8e4c-1d6a-4b7e-9c0f-5a6b7c8d9e0f", "read", "shop-1:v-8c1f"),
    ]
    assert len({e.event_id for e in events}) == 4


def message(**changes: object) -> dict[str, object]:
    body: dict[str, object] = orjson.loads((PAYLOADS / "message.json").read_bytes())
    return {**body, **changes}


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "not JSON"),
        (b"[]", "dictionary"),
        (orjson.dumps(message(site_id="")), "site_id"),
        (orjson.dumps(message(sent_at="2026-11-23T12:00:00")), "sent_at"),
        (orjson.dumps(message(text=" ")), "no attachments"),
        (orjson.dumps(message(colour="blue")), "colour"),
        (orjson.dumps(message(attachments=[{"kind": "image", "url": "javascript:alert(1)"}])), "url"),
        (orjson.dumps(message(attachments=[{"kind": "sticker", "url": "https://x.example/s"}])), "kind"),
        (orjson.dumps({"messages": [message(), message(site_id="shop-2")]}), "one site"),
        (orjson.dumps({"messages": []}), "at least one"),
        (orjson.dumps({"receipts": [{"site_id": "shop-1", "message_id": "m", "status": "seen"}]}), "receipts"),
    ],
    ids=[
        "not-json",
        "not-object",
        "empty-site",
        "naive-time",
        "says-nothing",
        "unknown-field",
        "bad-url",
        "bad-kind",
        "two-sites",
        "empty-batch",
        "bad-receipt",
    ],
)
def test_a_body_the_api_does_not_define_is_a_payload_error(body, where):
    with pytest.raises(PayloadError, match=where):
        webhook.parse(request(body), NOW)


def test_verify_accepts_the_channel_key_for_a_site_without_its_own():
    signed = signed_webchat(message(), CHANNEL_KEY, timestamp=NOW.timestamp())
    webhook.verify(request(signed.body, signed.headers))


def test_a_site_with_its_own_key_is_verified_with_it_and_only_with_it():
    own = signed_webchat(message(site_id="shop-2"), "shop-2-key", timestamp=NOW.timestamp())
    webhook.verify(request(own.body, own.headers))
    channel_wide = signed_webchat(message(site_id="shop-2"), CHANNEL_KEY, timestamp=NOW.timestamp())
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify(request(channel_wide.body, channel_wide.headers))
    batch = signed_webchat({"messages": [message(site_id="shop-2")]}, "shop-2-key", timestamp=NOW.timestamp())
    webhook.verify(request(batch.body, batch.headers))


def test_verify_refuses_a_wrong_missing_stale_or_moved_signature():
    body = orjson.dumps(message())
    ts = int(NOW.timestamp())
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify(request(body, signed_webchat(message(), "wrong", timestamp=ts).headers))
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(body))
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(body, {"x-switchboard-signature": sign(CHANNEL_KEY.encode(), ts, body)}))
    stale = ts - 301
    with pytest.raises(SignatureError, match="clock"):
        webhook.verify(
            request(
                body,
                {
                    "x-switchboard-timestamp": str(stale),
                    "x-switchboard-signature": sign(CHANNEL_KEY.encode(), stale, body),
                },
            )
        )
    # The timestamp is signed with the body: a fresh timestamp on an old signature does not pass.
    with pytest.raises(SignatureError, match="does not match"):
        webhook.verify(
            request(
                body,
                {
                    "x-switchboard-timestamp": str(ts),
                    "x-switchboard-signature": sign(CHANNEL_KEY.encode(), stale, body),
                },
            )
        )


def test_no_key_at_all_refuses_everything():
    keyless = WebchatWebhook(b"", ACCOUNTS, tolerance_s=300, clock=NOW.timestamp)
    signed = signed_webchat(message(), "", timestamp=NOW.timestamp())
    with pytest.raises(SignatureError, match="no webchat signing key"):
        keyless.verify(request(signed.body, signed.headers))
