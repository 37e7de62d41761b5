import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import orjson
import pytest
from pydantic import SecretStr

from ingest.channels.mailgun import MailgunWebhook
from ingest.errors import PayloadError, SignatureError
from ingest.mailgun_signature import sign
from ingest.webhook import WebhookRequest
from sandbox.webhooks.mailgun import mailgun_email, signed_mailgun_event, signed_mailgun_form
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

PAYLOADS = Path(__file__).parent / "payloads" / "mailgun"
KEY = "test-mailgun-signing-key"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data; boundary=mailgun-test-boundary"
ACCOUNTS = (
    ChannelAccount(channel="mailgun", external_id="support@mg.example.com", name="Support"),
    ChannelAccount(channel="webchat", external_id="site-1", name="Site", webhook_secret=SecretStr("x")),
)


class Ledger:
    """A ledger held in a dict, as one process would see PostgreSQL's."""

    def __init__(self) -> None:
        self.tokens: dict[str, float] = {}

    async def first_use(self, token: str, expires_at: float) -> bool:
        if token in self.tokens:
            return False
        self.tokens[token] = expires_at
        return True


def webhook(now: float = 1770920772, ledger: Ledger | None = None) -> MailgunWebhook:
    return MailgunWebhook(KEY.encode(), ACCOUNTS, max_age_s=300, ledger=ledger or Ledger(), clock=lambda: now)


def request(body: bytes, content_type: str = FORM) -> WebhookRequest:
    return WebhookRequest(
        url="http://127.0.0.1:8080/webhooks/mailgun", headers={"content-type": content_type}, raw_body=body
    )


def golden(name: str, content_type: str = FORM) -> WebhookRequest:
    return request((PAYLOADS / name).read_bytes(), content_type)


def parse(req: WebhookRequest) -> list[InboundMessage | DeliveryStatus]:
    return webhook().parse(req, NOW)


def one_email(req: WebhookRequest) -> InboundMessage:
    [message] = parse(req)
    assert isinstance(message, InboundMessage)
    return message


def one_receipt(req: WebhookRequest) -> DeliveryStatus:
    [receipt] = parse(req)
    assert isinstance(receipt, DeliveryStatus)
    return receipt


def form_with(**changes: str | None) -> bytes:
    fields = dict(parse_qsl((PAYLOADS / "forward.txt").read_text(), keep_blank_values=True))
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return urlencode(fields).encode()


def test_a_route_forward_becomes_one_threaded_email_message():
    message = one_email(golden("forward.txt"))
    assert message.channel == "mailgun"
    assert message.account_external_id == "support@mg.example.com"  # the configured spelling
    assert (message.sender_external_id, message.sender_name) == ("bob@ex.com", "Bob")
    assert message.provider_message_id == "<abc@ex.com>"
    assert message.sent_at == datetime.fromtimestamp(1770920772, UTC)
    assert (message.content_type, message.text) == ("text", "Thanks, that helps.")
    assert message.reply_to_provider_message_id == "<x1@mg.example.com>"
    assert message.channel_data == {
        "subject": "Re: Order 42",
        "message_id": "<abc@ex.com>",
        "references": "<x0@mg.example.com> <x1@mg.example.com>",
    }


def test_attachments_are_described_by_kind_name_and_type_without_their_bytes():
    message = one_email(golden("forward_attachments.multipart", MULTIPART))
    assert message.sender_external_id == "ana.lopez@example.org"  # the From header, not the list's bounce address
    assert message.sender_name == "Ana Lopez"
    assert message.text == "The part arrived broken, photos attached."
    assert [(a.kind, a.filename, a.mime_type, a.url, a.provider_media_id) for a in message.attachments] == [
        ("image", "photo 1.jpg", "image/jpeg", None, None),
        ("document", "invoice-42.pdf", "application/pdf", None, None),
    ]
    assert message.channel_data == {
        "subject": "Broken part",
        "message_id": "<CAF=ana.1@mail.example.org>",
        "references": "",
    }


def test_text_falls_back_from_stripped_text_to_the_body_then_the_subject():
    assert one_email(request(form_with(stripped_text="", body_plain="Just the body\r\n"))).text == "Just the body"
    assert one_email(request(form_with(stripped_text=None, body_plain=""))).text == "Re: Order 42"


def test_references_fall_back_to_in_reply_to_and_message_id_to_a_hash_of_the_token():
    headers = [["From", "Bob <bob@ex.com>"], ["In-Reply-To", "<x1@mg.example.com>"]]
    message = one_email(request(form_with(message_headers=orjson.dumps(headers).decode())))
    assert message.channel_data["references"] == "<x1@mg.example.com>"
    assert message.channel_data["message_id"] == ""
    assert message.provider_message_id.startswith("mailgun-token:")
    again = one_email(request(form_with(message_headers=orjson.dumps(headers).decode())))
    assert again.provider_message_id == message.provider_message_id  # the same POST names the same email


def test_the_envelope_sender_is_used_when_the_from_header_has_no_address():
    assert one_email(request(form_with(**{"from": "undisclosed"}))).sender_external_id == "bob@ex.com"


def test_an_email_from_our_own_mailbox_is_an_echo_and_is_dropped():
    assert parse(request(form_with(**{"from": "Support <SUPPORT@mg.example.com>"}))) == []


def test_delivered_opened_and_permanently_failed_events_are_receipts_for_our_reply():
    ours = "<7c8d1a2e-5b7f-4c1a-9d8e-2f3a4b5c6d7e@mg.example.com>"
    delivered = one_receipt(golden("event_delivered.json", "application/json"))
    assert (delivered.provider_message_id, delivered.status) == (ours, "delivered")
    assert (delivered.account_external_id, delivered.recipient_external_id) == ("support@mg.example.com", "bob@ex.com")
    assert delivered.occurred_at == datetime.fromtimestamp(1770920800.123456, UTC)
    opened = one_receipt(golden("event_opened.json", "application/json"))
    assert (opened.provider_message_id, opened.status) == (ours, "read")
    failed = one_receipt(golden("event_failed_permanent.json", "application/json"))
    assert failed.status == "failed"
    [error] = failed.errors
    assert (error.code, error.title) == ("550", "bounce")
    assert error.detail is not None
    assert "does not exist" in error.detail


def test_a_temporary_failure_and_events_about_no_reply_are_dropped():
    assert parse(golden("event_failed_temporary.json", "application/json")) == []
    clicked = signed_mailgun_event({"event": "clicked", "timestamp": 1770920800.0, "message": {}}, KEY)
    assert parse(request(clicked.body, "application/json")) == []


@pytest.mark.parametrize(
    ("body", "content_type", "where"),
    [
        (form_with(recipient=None), FORM, "recipient"),
        (form_with(**{"from": "nobody", "sender": ""}), FORM, "sender address"),
        (form_with(message_headers="not json"), FORM, "message-headers"),
        (form_with(message_headers='{"Message-Id": "<a@b>"}'), FORM, "message-headers"),
        (b"--nope\r\n", "multipart/form-data", "multipart"),
        (b'{"signature": {}}', "application/json", "event-data"),
        (b'{"signature": {}, "event-data": {"event": "delivered"}}', "application/json", "timestamp"),
    ],
    ids=["no-recipient", "no-sender", "headers-not-json", "headers-not-pairs", "bad-multipart", "no-event", "no-ts"],
)
def test_a_body_mailgun_would_not_send_is_a_payload_error(body, content_type, where):
    with pytest.raises(PayloadError, match=where):
        parse(request(body, content_type))


async def test_a_token_is_admitted_once_and_the_ledger_keeps_it_until_the_timestamp_is_stale():
    ledger = Ledger()
    hook = webhook(now=1770920772 + 10, ledger=ledger)
    hook.verify(golden("forward.txt"))
    await hook.admit(golden("forward.txt"))
    with pytest.raises(SignatureError, match="already used"):
        await webhook(now=1770920772 + 20, ledger=ledger).admit(golden("forward.txt"))
    [(token, expires_at)] = ledger.tokens.items()
    assert (len(token), expires_at) == (50, 1770920772 + 300)


async def test_admit_checks_the_signature_itself_before_claiming_a_token():
    ledger = Ledger()
    tampered = form_with(token="f" * 50)
    with pytest.raises(SignatureError, match="does not match"):
        await webhook(ledger=ledger).admit(request(tampered))
    assert ledger.tokens == {}


@pytest.mark.parametrize("timestamp", ["nan", "1e400", "-1", "1770920772.5", "9" * 40])
def test_a_signed_timestamp_that_is_not_whole_unix_seconds_is_refused(timestamp):
    # Signed with the right key: only the shape of the timestamp is wrong ("nan" passed the freshness test).
    fields = mailgun_email("support@mg.example.com", "bob@ex.com", "hi", message_id="<m@ex.com>")
    token = "t" * 50
    body = urlencode(
        {**fields, "timestamp": timestamp, "token": token, "signature": sign(KEY.encode(), timestamp, token)}
    )
    with pytest.raises(SignatureError, match="not Unix seconds"):
        webhook().verify(request(body.encode()))


def test_verify_accepts_mailguns_signature_only_while_fresh():
    hook = webhook(now=1770920772 + 10)
    hook.verify(golden("forward.txt"))
    with pytest.raises(SignatureError, match="clock"):
        webhook(now=1770920772 + 301).verify(golden("forward.txt"))
    with pytest.raises(SignatureError, match="clock"):
        webhook(now=1770920772 - 301).verify(golden("forward.txt"))
    webhook(now=1770920801).verify(golden("event_delivered.json", "application/json"))
    webhook(now=1770921000).verify(golden("forward_attachments.multipart", MULTIPART))


def test_verify_refuses_a_wrong_or_missing_signature():
    fields = mailgun_email("support@mg.example.com", "bob@ex.com", "hi", message_id="<m@ex.com>")
    forged = signed_mailgun_form(fields, "not-the-key", timestamp=1770920772)
    with pytest.raises(SignatureError, match="does not match"):
        webhook().verify(request(forged.body))
    with pytest.raises(SignatureError, match="missing"):
        webhook().verify(request(form_with(signature=None)))
    with pytest.raises(SignatureError):
        webhook().verify(request(b"{}", "application/json"))
    with pytest.raises(SignatureError):
        webhook().verify(request(b"hello", "text/plain"))
    tampered = form_with(token="f" * 50)  # the signature covers the token
    with pytest.raises(SignatureError, match="does not match"):
        webhook().verify(request(tampered))


def test_an_empty_signing_key_refuses_everything():
    fields = mailgun_email("support@mg.example.com", "bob@ex.com", "hi", message_id="<m@ex.com>")
    signed = signed_mailgun_form(fields, "", timestamp=1770920772)
    with pytest.raises(SignatureError, match="no Mailgun signing key"):
        MailgunWebhook(b"", ACCOUNTS, max_age_s=300, ledger=Ledger(), clock=lambda: 1770920772).verify(
            request(signed.body)
        )


def test_the_signature_is_hex_hmac_sha256_of_timestamp_then_token():
    # Mailgun's documented example timestamp and token.
    timestamp, token = "1770920772", "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
    expected = hmac.new(KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    assert sign(KEY.encode(), timestamp, token) == expected
