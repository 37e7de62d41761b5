"""Twilio webhooks: golden form posts (payloads/twilio/, the parameters of Twilio's incoming-message and
status-callback docs), their edge cases, and the signature over URL + parameters."""

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from pydantic import SecretStr

from ingest.channels.twilio import EMPTY_TWIML, TwilioWebhook
from ingest.errors import PayloadError, SignatureError
from ingest.twilio_signature import sign
from ingest.webhook import WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

PAYLOADS = Path(__file__).parent / "payloads" / "twilio"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
URL = "https://hooks.example.com/webhooks/twilio"
CHANNEL_TOKEN = "channel-auth-token"
ACCOUNTS = (
    ChannelAccount(channel="twilio", external_id="+15550100001", name="support", access_token=SecretStr("tok-1")),
    ChannelAccount(channel="twilio", external_id="+15550100002", name="sales"),  # signs with the channel token
    ChannelAccount(channel="whatsapp", external_id="+15550100003", name="not twilio", access_token=SecretStr("x")),
)
webhook = TwilioWebhook(CHANNEL_TOKEN, ACCOUNTS, public_base_url=None)


def request(body: bytes, signature: str | None = None, url: str = URL) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["x-twilio-signature"] = signature
    return WebhookRequest(url=url, headers=headers, raw_body=body)


def golden(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes().strip()


def parse(body: bytes) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request(body), NOW)


def signed(params: dict[str, str], token: str, url: str = URL) -> WebhookRequest:
    return request(urlencode(params).encode(), sign(token, url, params.items()), url)


def test_an_sms_becomes_one_inbound_message_from_the_bare_number():
    [message] = parse(golden("sms.txt"))
    assert isinstance(message, InboundMessage)
    assert message.channel == "twilio"
    assert message.account_external_id == "+15550100001"
    assert message.sender_external_id == "+14155550100"
    assert message.sender_name is None
    assert message.provider_message_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert (message.content_type, message.text) == ("text", "Where is my order #42? It's late & I'm worried")
    assert message.sent_at == message.received_at == NOW  # Twilio sends no timestamp
    assert message.channel_data == {"variant": "sms", "status_callback": URL}


def test_a_whatsapp_message_keeps_the_variant_in_channel_data_and_the_bare_number_as_ids():
    [message] = parse(golden("whatsapp.txt"))
    assert isinstance(message, InboundMessage)
    assert message.account_external_id == "+15550100001"
    assert message.sender_external_id == "+5511987654321"
    assert message.sender_name == "Ana Lima"
    assert message.text == "Olá! Meu pedido chegou quebrado"
    assert message.reply_to_provider_message_id == "SMe1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6"
    assert message.channel_data["variant"] == "whatsapp"


def test_every_media_of_an_mms_becomes_an_attachment_with_its_url_and_type():
    [message] = parse(golden("mms.txt"))
    assert isinstance(message, InboundMessage)
    assert (message.content_type, message.text) == ("image", "the broken part, and the invoice")
    assert [(a.kind, a.mime_type) for a in message.attachments] == [
        ("image", "image/jpeg"),
        ("document", "application/pdf"),
        ("video", "video/mp4"),
    ]
    assert all(a.url and a.url.startswith("https://api.twilio.com/2010-04-01/Accounts/") for a in message.attachments)
    assert message.attachments[1].url != message.attachments[0].url


def test_a_whatsapp_image_without_caption_and_a_location_are_normalised():
    [image] = parse(golden("whatsapp_image.txt"))
    assert isinstance(image, InboundMessage)
    assert (image.content_type, image.text, image.attachments[0].kind) == ("image", None, "image")
    [location] = parse(golden("whatsapp_location.txt"))
    assert isinstance(location, InboundMessage)
    assert (location.content_type, location.text) == ("location", "Main St shop, 1 Main St")
    assert location.attachments[0].url == "geo:37.4847,-122.1473"


def test_one_request_is_one_event_so_redeliveries_share_the_message_sid():
    # Twilio does not batch: each request is one message, and a retry repeats its MessageSid (the dedupe key).
    first, again = parse(golden("sms.txt")), parse(golden("sms.txt"))
    assert len(first) == len(again) == 1
    assert first[0].provider_message_id == again[0].provider_message_id
    assert first[0].event_id != again[0].event_id


def test_status_callbacks_become_delivery_statuses_for_our_account():
    [delivered] = parse(golden("status_delivered.txt"))
    assert isinstance(delivered, DeliveryStatus)
    assert (delivered.account_external_id, delivered.recipient_external_id) == ("+15550100001", "+14155550100")
    assert (delivered.provider_message_id, delivered.status) == ("SMa1b2c3d4e5f60718293a4b5c6d7e8f90", "delivered")
    assert delivered.errors == ()
    [read] = parse(golden("status_whatsapp_read.txt"))
    assert isinstance(read, DeliveryStatus)
    assert (read.status, read.account_external_id, read.recipient_external_id) == (
        "read",
        "+15550100001",
        "+5511987654321",
    )


def test_undelivered_is_a_failure_carrying_twilios_error_code():
    [status] = parse(golden("status_undelivered.txt"))
    assert isinstance(status, DeliveryStatus)
    assert status.status == "failed"
    assert [e.code for e in status.errors] == ["30003"]


@pytest.mark.parametrize("state", ["queued", "accepted", "scheduled", "sending", "canceled", "brand-new"])
def test_statuses_that_say_nothing_about_delivery_are_dropped(state):
    body = golden("status_sending.txt").replace(b"=sending", f"={state}".encode())
    assert parse(body) == []


def test_a_message_from_one_of_our_own_numbers_is_not_a_customers():
    body = golden("sms.txt").replace(b"From=%2B14155550100", b"From=%2B15550100002")
    assert parse(body) == []


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"", "MessageSid|From"),
        (b"not a form at all", "From"),
        (golden("sms.txt").replace(b"MessageSid=SM1f0e8ae6ade43cb3c0ce4525424e404f&", b""), "MessageSid"),
        (golden("sms.txt").replace(b"To=%2B15550100001&", b""), "To"),
        (golden("sms.txt").replace(b"NumMedia=0", b"NumMedia=two"), "NumMedia"),
        (golden("sms.txt").replace(b"NumMedia=0", b"NumMedia=1"), "MediaUrl0"),
        (golden("whatsapp_location.txt").replace(b"Latitude=37.4847", b"Latitude=north"), "Latitude"),
        (golden("status_delivered.txt").replace(b"MessageSid=SMa1b2c3d4e5f60718293a4b5c6d7e8f90&", b""), "Sid"),
        (b"Body=%FF%FE", "UTF-8"),
    ],
    ids=["empty", "not-a-form", "no-sid", "no-to", "bad-num-media", "missing-media", "bad-location", "status", "utf8"],
)
def test_a_body_twilio_would_not_send_is_a_payload_error(body, where):
    with pytest.raises(PayloadError, match=where):
        parse(body)


def test_the_acknowledgement_is_empty_twiml():
    response = webhook.acknowledge(1)
    assert bytes(response.body).decode() == EMPTY_TWIML == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert response.headers["content-type"].startswith("text/xml")


# Signature ---------------------------------------------------------------------------------------------


def test_the_accounts_own_token_signs_its_messages_and_the_channel_token_others():
    params = {"MessageSid": "SM1", "From": "+14155550100", "To": "+15550100001", "Body": "hi"}
    webhook.verify(signed(params, "tok-1"))
    with pytest.raises(SignatureError):
        webhook.verify(signed(params, CHANNEL_TOKEN))
    for to in ("+15550100002", "+19999999999"):  # a configured account without a token; an unknown number
        webhook.verify(signed({**params, "To": to}, CHANNEL_TOKEN))


def test_a_status_callback_is_checked_with_the_token_of_the_account_it_came_from():
    status = {"MessageSid": "SM1", "MessageStatus": "delivered", "From": "whatsapp:+15550100001", "To": "+1415"}
    webhook.verify(signed(status, "tok-1"))
    with pytest.raises(SignatureError):
        webhook.verify(signed(status, CHANNEL_TOKEN))


def test_a_golden_webhook_verifies_and_any_change_breaks_the_signature():
    body = golden("sms.txt")
    params = dict(parse_qsl(body.decode(), keep_blank_values=True))
    good = sign("tok-1", URL, params.items())
    webhook.verify(request(body, good))
    tampered = body.replace(b"Body=Where", b"Body=Refund")
    for bad in (
        request(tampered, good),
        request(body, good, url=URL + "?account=2"),
        request(body, good, url=URL.replace("https", "http")),
        request(body, sign("tok-2", URL, params.items())),
        request(body, "not-a-signature"),
    ):
        with pytest.raises(SignatureError, match="does not match"):
            webhook.verify(bad)


def test_a_missing_signature_or_unreadable_body_is_refused():
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(golden("sms.txt")))
    with pytest.raises(SignatureError):
        webhook.verify(request(b"Body=%FF", "c2lnbmF0dXJl"))


def test_no_token_anywhere_refuses_rather_than_accepting_unsigned_webhooks():
    unconfigured = TwilioWebhook("", (), public_base_url=None)
    params = {"MessageSid": "SM1", "From": "+14155550100", "To": "+15550100001"}
    with pytest.raises(SignatureError, match="no Twilio auth token"):
        unconfigured.verify(signed(params, ""))


def test_behind_a_proxy_the_public_url_is_the_one_checked_and_named_for_status_callbacks():
    proxied = TwilioWebhook(CHANNEL_TOKEN, ACCOUNTS, public_base_url="https://hooks.example.com/")
    params = {"MessageSid": "SM1", "From": "+14155550100", "To": "+15550100001", "Body": "hi"}
    public = "https://hooks.example.com/webhooks/twilio?tenant=a"
    seen = request(
        urlencode(params).encode(),
        sign("tok-1", public, params.items()),
        "http://10.0.0.5:8080/webhooks/twilio?tenant=a",
    )
    proxied.verify(seen)
    [message] = proxied.parse(seen, NOW)
    assert isinstance(message, InboundMessage)
    assert message.channel_data["status_callback"] == public
    with pytest.raises(SignatureError):
        webhook.verify(seen)
