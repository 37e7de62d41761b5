from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.channels.meta_messaging import MetaMessagingWebhook
from ingest.errors import PayloadError, SignatureError
from ingest.meta import sign
from ingest.webhook import WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage

PAYLOADS = Path(__file__).parent / "payloads"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
messenger = MetaMessagingWebhook("messenger", app_secret=b"secret")
instagram = MetaMessagingWebhook("instagram", app_secret=b"secret")


def request(body: bytes, signature: str | None = None) -> WebhookRequest:
    headers = {} if signature is None else {"x-hub-signature-256": signature}
    return WebhookRequest(url="http://127.0.0.1:8080/webhooks/messenger", headers=headers, raw_body=body)


def parse(webhook: MetaMessagingWebhook, name: str) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request((PAYLOADS / webhook.channel / name).read_bytes()), NOW)


def messages(events: list[InboundMessage | DeliveryStatus]) -> dict[str, InboundMessage]:
    return {e.provider_message_id: e for e in events if isinstance(e, InboundMessage)}


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, UTC)


# Messenger -------------------------------------------------------------------------------------


def test_a_messenger_text_becomes_one_inbound_message_for_the_page():
    [message] = parse(messenger, "text.json")
    assert isinstance(message, InboundMessage)
    assert message.channel == "messenger"
    assert message.account_external_id == "682498302938465"
    assert message.sender_external_id == "1254477777772919"
    assert message.provider_message_id == "mid.1457764197618:41d102a3e1ae206a38"
    assert message.sent_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)
    assert message.received_at == NOW
    assert (message.content_type, message.text, message.attachments) == ("text", "hello, world!", ())


def test_every_event_of_a_batched_messenger_webhook_is_its_own_event_and_echoes_are_ignored():
    events = parse(messenger, "batch.json")
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    receipts = [e for e in events if isinstance(e, DeliveryStatus)]
    assert [(m.account_external_id, m.sender_external_id, m.text) for m in inbound] == [
        ("682498302938465", "1254477777772919", "Where is my order?"),
        ("682498302938465", "1254477777772919", "hello, world!"),
        ("682498302938466", "2233445566778899", "Hi"),
    ]
    assert "m_ours_echoed" not in {e.provider_message_id for e in events}
    assert inbound[1].reply_to_provider_message_id == "m_ours_1"
    # One "delivered" per mid; the watermark-only delivery and the watermark read name no message.
    assert [(r.provider_message_id, r.status, r.recipient_external_id, r.occurred_at) for r in receipts] == [
        ("m_ours_1", "delivered", "1254477777772919", ms(1518479197000)),
        ("m_ours_2", "delivered", "1254477777772919", ms(1518479197000)),
    ]
    assert {r.account_external_id for r in receipts} == {"682498302938465"}
    assert len({e.event_id for e in events}) == len(events)


def test_messenger_attachments_are_normalised_to_kind_and_url():
    by_id = messages(parse(messenger, "attachments.json"))
    media = by_id["mid.$cAAJdkrCd2ORnva8ErFhjGm0X_Q_c"]
    assert media.content_type == "image"
    assert media.text is None
    assert [(a.kind, a.url) for a in media.attachments] == [
        ("image", "https://scontent.xx.fbcdn.net/v/t1.15752-9/broken-part.jpg"),
        ("document", "https://cdn.fbsbx.com/v/t59.2708-21/invoice-42.pdf"),
    ]
    sticker = by_id["m_sticker"]
    assert sticker.content_type == "sticker"
    assert [(a.kind, a.url) for a in sticker.attachments] == [
        ("sticker", "https://scontent.xx.fbcdn.net/v/t39.1997-6/thumbs-up.png")
    ]
    link = by_id["m_link"]
    assert (link.content_type, link.text) == ("fallback", "https://example.com/order/42")
    assert [(a.kind, a.url, a.caption) for a in link.attachments] == [
        ("fallback", "https://example.com/order/42", "Order 42")
    ]
    unsupported_share = by_id["m_unsupported_share"]
    assert [(a.kind, a.url) for a in unsupported_share.attachments] == [("fallback", None)]
    location = by_id["m_location"]
    assert [(a.kind, a.url) for a in location.attachments] == [("location", "geo:37.4847,-122.1473")]


def test_a_postback_is_a_message_and_one_without_a_mid_gets_a_stable_id():
    first = parse(messenger, "postback.json")
    again = parse(messenger, "postback.json")
    assert [(m.provider_message_id, m.content_type, m.text) for m in messages(first).values()] == [
        ("m_postback_with_mid", "postback", "Talk to a person"),
        ("postback:1254477777772919:1527459825000", "postback", "Get Started"),
    ]
    assert [e.provider_message_id for e in first] == [e.provider_message_id for e in again]


def test_standby_events_belong_to_the_app_that_owns_the_thread_and_are_ignored():
    assert parse(messenger, "standby.json") == []


# Instagram -------------------------------------------------------------------------------------


def test_an_instagram_text_becomes_one_inbound_message_for_the_professional_account():
    [message] = parse(instagram, "text.json")
    assert isinstance(message, InboundMessage)
    assert message.channel == "instagram"
    assert (message.account_external_id, message.sender_external_id) == ("17841405793187218", "6353574184717530")
    assert message.provider_message_id.startswith("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUl")
    assert message.sent_at == ms(1569262485349)
    assert (message.content_type, message.text) == ("text", "Is the blue one back in stock?")


def test_a_batched_instagram_webhook_keeps_messages_seen_receipts_and_postbacks():
    events = parse(instagram, "batch.json")
    assert [(type(e).__name__, e.account_external_id, e.provider_message_id) for e in events] == [
        ("InboundMessage", "17841405793187218", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE"),
        ("DeliveryStatus", "17841405793187218", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE_ours"),
        ("InboundMessage", "17841405793187218", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE_icebreaker"),
        ("InboundMessage", "17841405793187218", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE_gif"),
        ("InboundMessage", "17841405793187219", "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjI"),
    ]
    seen = events[1]
    assert isinstance(seen, DeliveryStatus)
    assert (seen.status, seen.recipient_external_id, seen.occurred_at) == (
        "read",
        "6353574184717530",
        ms(1569262486500),
    )
    by_id = messages(events)
    assert (by_id["aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE_icebreaker"].content_type) == "postback"
    assert by_id["aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE_gif"].content_type == "unsupported"


def test_instagram_attachments_shares_and_story_replies():
    by_id = messages(parse(instagram, "attachments.json"))
    assert [a.kind for a in by_id["ig_media"].attachments] == ["image", "video"]
    assert by_id["ig_media"].attachments[0].url == (
        "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17951&signature=abc"
    )
    assert by_id["ig_story_mention"].content_type == "story_mention"
    story_reply = by_id["ig_story_reply"]
    assert (story_reply.content_type, story_reply.text, story_reply.reply_to_provider_message_id) == (
        "text",
        "Love this!",
        None,
    )
    assert [(a.kind, a.url) for a in by_id["ig_share"].attachments] == [
        ("share", "https://www.instagram.com/p/C1a2b3c4d5e/")
    ]


def test_the_dashboards_test_events_in_changes_are_not_messages():
    assert parse(instagram, "dashboard_test.json") == []


# Both ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("webhook", "body", "where"),
    [
        (messenger, b"not json", "body"),
        (messenger, b'{"object":"instagram","entry":[]}', "object"),
        (instagram, b'{"object":"page","entry":[]}', "object"),
        (messenger, b'{"object":"whatsapp_business_account","entry":[]}', "object"),
        (messenger, b'{"object":"page"}', "entry"),
        (messenger, b'{"object":"page","entry":[{"messaging":[]}]}', "id"),
        (
            messenger,
            b'{"object":"page","entry":[{"id":"1","messaging":[{"recipient":{"id":"1"},"timestamp":1,'
            b'"message":{"mid":"m","text":"x"}}]}]}',
            "sender",
        ),
        (
            instagram,
            b'{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},'
            b'"timestamp":"yesterday","message":{"mid":"m","text":"x"}}]}]}',
            "timestamp",
        ),
        (
            instagram,
            b'{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},'
            b'"message":{"mid":"m","text":"x"}}]}]}',
            "timestamp",
        ),
        (
            messenger,
            b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},'
            b'"timestamp":1,"message":{"text":"no mid"}}]}]}',
            "mid",
        ),
        (
            messenger,
            b'{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"user_ref":"r"},"recipient":{"id":"1"},'
            b'"timestamp":1,"message":{"mid":"m","text":"x"}}]}]}',
            "sender.id",
        ),
    ],
    ids=[
        "not-json",
        "instagram-object-on-messenger",
        "page-object-on-instagram",
        "whatsapp-object",
        "no-entry",
        "no-entry-id",
        "no-sender",
        "timestamp-not-a-number",
        "message-without-timestamp",
        "message-without-mid",
        "message-from-a-user-ref",
    ],
)
def test_a_body_meta_would_not_send_is_a_payload_error(webhook, body, where):
    with pytest.raises(PayloadError, match=where):
        webhook.parse(request(body), NOW)


def test_events_nobody_answers_are_accepted_and_dropped():
    body = (
        b'{"object":"page","entry":[{"id":"1","messaging":['
        b'{"sender":{"user_ref":"r"},"recipient":{"id":"1"},"timestamp":1,"optin":{"ref":"x"}},'
        b'{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"reaction":{"mid":"m","action":"react"}}]}]}'
    )
    assert messenger.parse(request(body), NOW) == []


@pytest.mark.parametrize("webhook", [messenger, instagram], ids=["messenger", "instagram"])
def test_verify_accepts_metas_signature_and_refuses_others(webhook):
    body = (PAYLOADS / webhook.channel / "text.json").read_bytes()
    webhook.verify(request(body, sign(b"secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body, sign(b"not-the-secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body + b" ", sign(b"secret", body)))
    with pytest.raises(SignatureError):
        webhook.verify(request(body))
