"""The sandbox's LINE deliveries are what ingest accepts: signed with the channel secret, parsed as sent."""

from datetime import UTC, datetime

import pytest

from ingest.channels.line import LineWebhook
from ingest.errors import SignatureError
from ingest.webhook import WebhookRequest
from sandbox.webhooks.line import line_envelope, line_text, signed_line
from schemas.inbound import InboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
webhook = LineWebhook(channel_secret="secret", accounts=())


def request(signed) -> WebhookRequest:
    return WebhookRequest(url="http://127.0.0.1/webhooks/line", headers=signed.headers, raw_body=signed.body)


def test_a_signed_text_delivery_verifies_and_parses_as_built():
    payload = line_text("Ubot", "Ucustomer", "5001", "hello", reply_token="rt-1", timestamp_ms=1763899200000)
    signed = signed_line(payload, "secret")
    webhook.verify(request(signed))
    [message] = webhook.parse(request(signed), NOW)
    assert isinstance(message, InboundMessage)
    assert (message.account_external_id, message.sender_external_id, message.provider_message_id) == (
        "Ubot",
        "Ucustomer",
        "5001",
    )
    assert message.text == "hello"
    assert message.channel_data["reply_token"] == "rt-1"
    assert message.sent_at == datetime.fromtimestamp(1763899200, UTC)


def test_another_secret_does_not_verify():
    with pytest.raises(SignatureError):
        webhook.verify(request(signed_line(line_envelope("Ubot", []), "not-the-secret")))
