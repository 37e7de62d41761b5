"""ingest/app.py's parse step: whatever a signed body makes a parser fail on is a 400, for every channel."""

import json
from urllib.parse import urlencode

import pytest

from ingest.app import parse_events
from ingest.channels import build_channels
from ingest.channels.telegram import SECRET_HEADER
from ingest.errors import PayloadError
from ingest.settings import IngestSettings
from ingest.webhook import WebhookRequest
from sandbox.webhooks import whatsapp_text
from sandbox.webhooks.line import line_text
from sandbox.webhooks.mailgun import mailgun_email, mailgun_event
from sandbox.webhooks.meta_messaging import messaging_text
from sandbox.webhooks.telegram import telegram_text
from sandbox.webhooks.twilio import twilio_text
from sandbox.webhooks.webchat import webchat_message
from services.accounts import ChannelAccount

HUGE = 10**30
LONG = "9" * 5000  # above any id bound, and a number of more digits than int() reads


class Ledger:
    async def first_use(self, token: str, expires_at: float) -> bool:
        return True


SETTINGS = IngestSettings(
    meta_app_secret="s",
    meta_verify_token="t",
    telegram_secret_token="tg",
    accounts=(ChannelAccount(channel="telegram", external_id="7000000001", name="Bot"),),
)
CHANNELS = build_channels(SETTINGS, Ledger())


def json_request(payload) -> WebhookRequest:
    headers = {"content-type": "application/json", SECRET_HEADER: "tg"}
    return WebhookRequest("http://127.0.0.1/webhooks/x", headers, json.dumps(payload).encode())


def form_request(fields) -> WebhookRequest:
    return WebhookRequest(
        "http://127.0.0.1/webhooks/x", {"content-type": "application/x-www-form-urlencoded"}, urlencode(fields).encode()
    )


def whatsapp(**message):
    payload = whatsapp_text("106540352242922", "972987654321", "wamid.1", "hi")
    payload["entry"][0]["changes"][0]["value"]["messages"][0].update(message)
    return json_request(payload)


def messenger(timestamp=None, sender="PSID1"):
    payload = messaging_text("messenger", "108888888888881", sender, "m_1", "hi")
    if timestamp is not None:
        payload["entry"][0]["messaging"][0]["timestamp"] = timestamp
    return json_request(payload)


def line(timestamp=None, user="U" + "0" * 32):
    return json_request(line_text("U" + "1" * 32, user, "1", "hi", timestamp_ms=timestamp))


def telegram(date=None, text="hi"):
    return json_request(telegram_text(111, 42, text, date=date))


def mailgun_form(**fields):
    email = mailgun_email("support@mg.example.com", "bob@ex.com", "hi", message_id="<m@ex.com>")
    return form_request({**email, "timestamp": "1770920772", **fields})


CASES = [
    ("whatsapp", whatsapp(timestamp=str(HUGE)), "timestamp"),
    ("whatsapp", whatsapp(timestamp="-99999999999999"), "timestamp"),
    ("whatsapp", whatsapp(timestamp=LONG), "timestamp"),
    ("whatsapp", whatsapp(id=LONG), "provider_message_id"),
    ("whatsapp", whatsapp(**{"from": "1" * 3000}), "sender_external_id"),
    ("messenger", messenger(timestamp=HUGE), "timestamp"),
    ("messenger", messenger(timestamp=-5), "sent_at"),
    ("messenger", messenger(sender=LONG), "sender_external_id"),
    ("instagram", json_request({**json.loads(messenger(timestamp=HUGE).raw_body), "object": "instagram"}), "time"),
    ("line", line(timestamp=HUGE), "timestamp"),
    ("line", line(timestamp=-(10**15)), "timestamp"),
    ("line", line(user=LONG), "sender_external_id"),
    ("telegram", telegram(date=HUGE), "message.date"),
    ("telegram", telegram(date=10**11), "sent_at"),
    ("telegram", telegram(text="x" * 300_000), "text"),
    ("twilio", form_request(twilio_text("+15550100001", "+15550100002", "SM" + "1" * 3000, "hi")), "provider_message"),
    ("mailgun", mailgun_form(timestamp=str(HUGE)), "timestamp"),
    ("mailgun", mailgun_form(timestamp=LONG), "timestamp"),
    ("mailgun", mailgun_form(**{"stripped-text": "x" * 300_000}), "text"),
    (
        "mailgun",
        json_request(
            {"signature": {}, "event-data": mailgun_event("delivered", "m@x", "a@b", sender="s@x", timestamp=1e30)}
        ),
        "event-data.timestamp",
    ),
    ("webchat", json_request(webchat_message("site-1", "v1", "m1", "x" * 300_000)), "text"),
    (
        "webchat",
        json_request({**webchat_message("site-1", "v1", "m1", "hi"), "sent_at": "0001-01-01T00:00:00+01:00"}),
        "sent_at",
    ),
]


@pytest.mark.parametrize(("channel", "request_", "where"), CASES, ids=[f"{c}-{n}" for n, (c, _, _) in enumerate(CASES)])
def test_an_overflowing_time_or_an_over_long_field_is_a_payload_error(channel, request_, where):
    with pytest.raises(PayloadError, match=where):
        parse_events(CHANNELS[channel], request_)


def test_text_with_a_nul_is_accepted_on_every_channel_without_the_nul():
    bodies = {
        "whatsapp": whatsapp(text={"body": "hello\u0000world"}),
        "messenger": json_request(messaging_text("messenger", "1", "PSID1", "m_1", "hello\u0000world")),
        "instagram": json_request(messaging_text("instagram", "1", "IGSID1", "m_1", "hello\u0000world")),
        "line": json_request(line_text("U" + "1" * 32, "U" + "0" * 32, "1", "hello\u0000world")),
        "telegram": telegram(text="hello\u0000world"),
        "twilio": form_request(twilio_text("+15550100001", "+15550100002", "SM1", "hello\u0000world")),
        "mailgun": mailgun_form(**{"stripped-text": "hello\u0000world"}),
        "webchat": json_request(webchat_message("site-1", "v1", "m1", "hello\u0000world")),
    }
    assert set(bodies) == set(CHANNELS)
    for channel, body in bodies.items():
        [event] = parse_events(CHANNELS[channel], body)
        assert event.text == "helloworld", channel  # type: ignore[union-attr]
