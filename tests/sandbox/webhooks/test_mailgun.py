from datetime import UTC, datetime

from ingest.channels.mailgun import MailgunWebhook
from ingest.webhook import WebhookRequest
from sandbox.webhooks.mailgun import (
    mailgun_email,
    mailgun_event,
    signed_mailgun_event,
    signed_mailgun_form,
    signed_mailgun_multipart,
)
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNTS = (ChannelAccount(channel="mailgun", external_id="support@switchboard.test", name="Support"),)


def accept(body: bytes, headers: dict[str, str]) -> list[InboundMessage | DeliveryStatus]:
    """What ingest makes of a built webhook, after checking its signature as it would."""
    webhook = MailgunWebhook(b"key", ACCOUNTS, max_age_s=300)
    request = WebhookRequest(url="http://127.0.0.1/webhooks/mailgun", headers=headers, raw_body=body)
    webhook.verify(request)
    return webhook.parse(request, NOW)


def test_a_built_forward_is_signed_and_reads_as_the_email_it_describes():
    fields = mailgun_email(
        "support@switchboard.test",
        "bob@ex.com",
        "Where is my order?",
        message_id="<q1@ex.com>",
        in_reply_to="<r0@switchboard.test>",
        references="<q0@ex.com> <r0@switchboard.test>",
    )
    signed = signed_mailgun_form(fields, "key")
    [message] = accept(signed.body, signed.headers)
    assert isinstance(message, InboundMessage)
    assert (message.sender_external_id, message.sender_name, message.text) == (
        "bob@ex.com",
        "Test Customer",
        "Where is my order?",
    )
    assert message.channel_data == {
        "subject": "Order 42",
        "message_id": "<q1@ex.com>",
        "references": "<q0@ex.com> <r0@switchboard.test>",
    }


def test_a_built_multipart_forward_carries_its_files():
    fields = mailgun_email("support@switchboard.test", "bob@ex.com", "photos", message_id="<q2@ex.com>")
    signed = signed_mailgun_multipart(fields, [("a.png", "image/png", b"\x89PNG")], "key")
    [message] = accept(signed.body, signed.headers)
    assert isinstance(message, InboundMessage)
    assert [(a.kind, a.filename) for a in message.attachments] == [("image", "a.png")]


def test_a_built_event_is_a_receipt_for_the_message_it_names():
    event = mailgun_event("failed", "<r1@switchboard.test>", "bob@ex.com", sender="support@switchboard.test")
    signed = signed_mailgun_event(event, "key")
    [receipt] = accept(signed.body, signed.headers)
    assert isinstance(receipt, DeliveryStatus)
    assert (receipt.provider_message_id, receipt.status) == ("<r1@switchboard.test>", "failed")
