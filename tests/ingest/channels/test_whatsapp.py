from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.channels.whatsapp import WhatsAppWebhook
from ingest.errors import PayloadError, SignatureError
from ingest.meta import sign
from ingest.webhook import WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage

PAYLOADS = Path(__file__).parent / "payloads" / "whatsapp"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
webhook = WhatsAppWebhook(app_secret=b"secret")


def request(body: bytes, signature: str | None = None) -> WebhookRequest:
    headers = {} if signature is None else {"x-hub-signature-256": signature}
    return WebhookRequest(url="http://127.0.0.1:8080/webhooks/whatsapp", headers=headers, raw_body=body)


def parse(name: str) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request((PAYLOADS / name).read_bytes()), NOW)


def test_a_text_message_becomes_one_inbound_message():
    [message] = parse("text.json")
    assert isinstance(message, InboundMessage)
    assert message.channel == "whatsapp"
    assert message.account_external_id == "106540352242922"
    assert message.sender_external_id == "972987654321"
    assert message.sender_name == "Test Name"
    assert message.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERTQ5OEJBQTg0RTZBRjVBMAA="
    assert message.sent_at == datetime.fromtimestamp(1697043223, UTC)
    assert message.received_at == NOW
    assert (message.content_type, message.text) == ("text", "Body Text")


def test_every_message_and_status_of_a_batched_webhook_becomes_its_own_event():
    events = parse("batch.json")
    messages = [e for e in events if isinstance(e, InboundMessage)]
    statuses = [e for e in events if isinstance(e, DeliveryStatus)]
    assert [(m.sender_external_id, m.sender_name, m.text) for m in messages] == [
        ("16505551234", "Ana", "Where is my order?"),
        ("447700900123", "Bo", "Hi"),
    ]
    assert messages[1].reply_to_provider_message_id == "wamid.OURS1"
    assert [(s.account_external_id, s.provider_message_id, s.status, s.recipient_external_id) for s in statuses] == [
        ("106540352242922", "wamid.OURS1", "delivered", "447700900123"),
        ("106540352242922", "wamid.OURS2", "read", "16505551234"),
        ("206540352242922", "wamid.OURS3", "sent", "4915112345678"),
    ]
    assert len({e.event_id for e in events}) == len(events)


def test_media_location_interactive_reaction_and_unsupported_messages_are_normalised():
    by_id = {e.provider_message_id: e for e in parse("media.json") if isinstance(e, InboundMessage)}
    image = by_id["wamid.IMG"]
    assert (image.content_type, image.text) == ("image", "the broken part")
    assert [(a.kind, a.provider_media_id, a.mime_type) for a in image.attachments] == [
        ("image", "1479537139650973", "image/jpeg")
    ]
    document = by_id["wamid.DOC"].attachments[0]
    assert (document.kind, document.filename, document.mime_type) == ("document", "invoice-42.pdf", "application/pdf")
    location = by_id["wamid.LOC"]
    assert location.text == "Main St shop, 1 Main St"
    assert location.attachments[0].url == "geo:37.4847,-122.1473"
    assert (by_id["wamid.BTN"].content_type, by_id["wamid.BTN"].text) == ("interactive", "Yes, please")
    assert (by_id["wamid.RCT"].content_type, by_id["wamid.RCT"].text) == ("reaction", "👍")
    assert (by_id["wamid.UNS"].content_type, by_id["wamid.UNS"].text) == ("unsupported", None)


def test_a_failed_status_carries_the_providers_error_and_untracked_statuses_are_dropped():
    [status] = parse("status_failed.json")
    assert isinstance(status, DeliveryStatus)
    assert status.status == "failed"
    [error] = status.errors
    assert error.code == "131047"
    assert error.detail is not None
    assert "24 hours" in error.detail


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b'{"object":"page","entry":[]}', "object"),
        (b'{"object":"whatsapp_business_account"}', "entry"),
        (
            b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
            b'"value":{"messaging_product":"whatsapp","metadata":{}}}]}]}',
            "phone_number_id",
        ),
        (
            b'{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",'
            b'"value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},'
            b'"messages":[{"from":"1","id":"w","timestamp":"yesterday","type":"text","text":{"body":"x"}}]}}]}]}',
            "Unix seconds",
        ),
    ],
    ids=["not-json", "wrong-object", "no-entry", "no-phone-number-id", "bad-timestamp"],
)
def test_a_body_whatsapp_would_not_send_is_a_payload_error(body, where):
    with pytest.raises(PayloadError, match=where):
        webhook.parse(request(body), NOW)


def test_verify_accepts_metas_signature_and_refuses_others():
    body = (PAYLOADS / "text.json").read_bytes()
    webhook.verify(request(body, sign(b"secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body, sign(b"not-the-secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body))
