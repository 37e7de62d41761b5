from datetime import UTC, datetime

from ingest.channels.webchat import WebchatWebhook
from ingest.webhook import WebhookRequest
from sandbox.webhooks.webchat import signed_webchat, webchat_message, webchat_receipt
from schemas.inbound import DeliveryStatus, InboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_built_messages_and_receipts_are_signed_and_read_as_they_describe():
    webhook = WebchatWebhook(b"key", (), tolerance_s=300)
    payload = {
        "messages": [webchat_message("site-1", "v-1", "m-1", "hi", sent_at=NOW)],
        "receipts": [webchat_receipt("site-1", "v-1", "r-1", "read", at=NOW)],
    }
    signed = signed_webchat(payload, "key")
    request = WebhookRequest(url="http://127.0.0.1/webhooks/webchat", headers=signed.headers, raw_body=signed.body)
    webhook.verify(request)
    message, receipt = webhook.parse(request, NOW)
    assert isinstance(message, InboundMessage)
    assert (message.sender_external_id, message.sender_name, message.text) == ("site-1:v-1", "Test Visitor", "hi")
    assert isinstance(receipt, DeliveryStatus)
    assert (receipt.provider_message_id, receipt.status) == ("site-1:r-1", "read")
