"""The sandbox's Messenger and Instagram webhooks are what ingest accepts, signed as Meta signs them."""

from datetime import UTC, datetime

from ingest.channels.meta_messaging import MetaMessagingWebhook
from ingest.webhook import WebhookRequest
from sandbox.webhooks import signed_meta
from sandbox.webhooks.meta_messaging import (
    instagram_seen,
    messaging_echo,
    messaging_text,
    messenger_delivery,
    messenger_read,
)
from schemas.inbound import DeliveryStatus, InboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def through_ingest(channel, payload):
    signed = signed_meta(payload, "secret")
    webhook = MetaMessagingWebhook(channel, app_secret=b"secret")
    request = WebhookRequest(url="http://127.0.0.1/webhooks/" + channel, headers=signed.headers, raw_body=signed.body)
    webhook.verify(request)
    return webhook.parse(request, NOW)


def test_a_messenger_text_arrives_as_the_customers_message():
    [message] = through_ingest("messenger", messaging_text("messenger", "1088", "psid-1", "m_1", "hi", timestamp_ms=1))
    assert isinstance(message, InboundMessage)
    assert (message.account_external_id, message.sender_external_id, message.text) == ("1088", "psid-1", "hi")


def test_an_instagram_text_and_seen_receipt_arrive():
    [message] = through_ingest("instagram", messaging_text("instagram", "1784", "igsid-1", "aWdf_1", "hi"))
    assert (message.channel, message.provider_message_id) == ("instagram", "aWdf_1")
    [seen] = through_ingest("instagram", instagram_seen("1784", "igsid-1", "aWdf_ours"))
    assert isinstance(seen, DeliveryStatus)
    assert (seen.status, seen.provider_message_id, seen.recipient_external_id) == ("read", "aWdf_ours", "igsid-1")


def test_messenger_receipts_and_echoes():
    delivered = through_ingest("messenger", messenger_delivery("1088", "psid-1", ["m_a", "m_b"]))
    assert [(r.provider_message_id, r.status) for r in delivered] == [("m_a", "delivered"), ("m_b", "delivered")]
    assert through_ingest("messenger", messenger_read("1088", "psid-1")) == []
    assert through_ingest("messenger", messaging_echo("messenger", "1088", "psid-1", "m_a", "ours")) == []
