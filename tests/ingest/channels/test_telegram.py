from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from pydantic import SecretStr

from ingest.channels.telegram import TelegramWebhook, identify_bot
from ingest.errors import PayloadError, SignatureError
from ingest.webhook import WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

PAYLOADS = Path(__file__).parent / "payloads" / "telegram"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SHOP_BOT = ChannelAccount(channel="telegram", external_id="7000000001", name="shop")
webhook = TelegramWebhook(secret_token="channel-secret", accounts=(SHOP_BOT,))


def request(body: bytes, secret: str | None = "channel-secret", query: str = "") -> WebhookRequest:
    headers = {} if secret is None else {"x-telegram-bot-api-secret-token": secret}
    url = "http://127.0.0.1:8080/webhooks/telegram" + (f"?{query}" if query else "")
    return WebhookRequest(url=url, headers=headers, raw_body=body)


def parse(name: str) -> list[InboundMessage | DeliveryStatus]:
    return webhook.parse(request((PAYLOADS / name).read_bytes()), NOW)


def parse_each(name: str) -> list[list[InboundMessage | DeliveryStatus]]:
    return [
        webhook.parse(request(orjson.dumps(update)), NOW) for update in orjson.loads((PAYLOADS / name).read_bytes())
    ]


def only(events: list[InboundMessage | DeliveryStatus]) -> InboundMessage:
    [event] = events
    assert isinstance(event, InboundMessage)
    return event


def test_a_text_message_becomes_one_inbound_message_answered_in_its_chat():
    message = only(parse("text.json"))
    assert message.channel == "telegram"
    assert message.account_external_id == "7000000001"
    assert message.sender_external_id == "111"
    assert message.sender_name == "John Doe"
    assert message.provider_message_id == "111:42"
    assert message.sent_at == datetime.fromtimestamp(1746268800, UTC)
    assert message.received_at == NOW
    assert (message.content_type, message.text) == ("text", "hi, my order #42 has not arrived")
    assert message.channel_data == {"chat_id": "111"}
    assert message.reply_to_provider_message_id is None


def test_a_photo_is_its_largest_size_with_the_caption():
    photo = only(parse("photo.json"))
    assert (photo.content_type, photo.text) == ("image", "the box arrived crushed")
    assert [(a.kind, a.provider_media_id) for a in photo.attachments] == [("image", "AgACAgIAAxkBAAMrZ-large")]


def test_documents_voice_animations_stickers_and_places_are_normalised():
    document, voice, location, animation, sticker, venue, dice = [only(events) for events in parse_each("media.json")]
    assert (document.content_type, document.text) == ("document", "my invoice")
    assert [(a.kind, a.provider_media_id, a.mime_type, a.filename) for a in document.attachments] == [
        ("document", "BQACAgIAAxkBAAMy-doc", "application/pdf", "invoice-42.pdf")
    ]
    assert [(a.kind, a.provider_media_id, a.mime_type) for a in voice.attachments] == [
        ("audio", "AwACAgIAAxkBAAMz-voice", "audio/ogg")
    ]
    assert (location.content_type, location.attachments[0].url) == ("location", "geo:52.520008,13.404954")
    assert (animation.content_type, animation.attachments[0].kind) == ("video", "video")
    assert (sticker.content_type, sticker.text, sticker.attachments[0].provider_media_id) == (
        "sticker",
        "👍",
        "CAACAgIAAxkBAAM1-sticker",
    )
    assert (venue.text, venue.attachments[0].url) == ("Eiffel Tower, Champ de Mars, Paris", "geo:48.8584,2.2945")
    assert (dice.content_type, dice.text, dice.provider_message_id) == ("unsupported", None, "111:56")


def test_an_edit_is_a_new_message_that_refers_to_the_original():
    edit = only(parse("edited.json"))
    assert edit.provider_message_id == "111:42:edited:1746268830"
    assert edit.reply_to_provider_message_id == "111:42"
    assert edit.sent_at == datetime.fromtimestamp(1746268830, UTC)
    assert edit.text == "hi, my order #43 has not arrived"


def test_a_group_message_is_answered_in_the_group_and_names_the_message_it_replies_to():
    message = only(parse("group_reply.json"))
    assert message.sender_external_id == "222"
    assert message.provider_message_id == "-1001234567890:7"
    assert message.reply_to_provider_message_id == "-1001234567890:6"
    assert message.channel_data == {"chat_id": "-1001234567890"}


def test_bots_channel_posts_senderless_messages_and_other_update_types_are_ignored():
    assert parse_each("ignored.json") == [[], [], [], [], []]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"not json", "body"),
        (b'[{"update_id": 1}]', "body"),
        (b'{"message": {}}', "update_id"),
        (b'{"update_id": 1, "message": {"message_id": 1, "date": 1, "text": "x"}}', "chat"),
        (
            b'{"update_id": 1, "message": {"message_id": 1, "date": "today", "chat": {"id": 1, "type": "private"}}}',
            "date",
        ),
    ],
    ids=["not-json", "a-list", "no-update-id", "no-chat", "bad-date"],
)
def test_a_body_telegram_would_not_send_is_a_payload_error(body, where):
    with pytest.raises(PayloadError, match=where):
        webhook.parse(request(body), NOW)


def test_the_secret_token_must_match_exactly():
    body = (PAYLOADS / "text.json").read_bytes()
    webhook.verify(request(body))
    for wrong in ("channel-secreT", "channel-secret ", "channel", "x"):
        with pytest.raises(SignatureError, match="does not match"):
            webhook.verify(request(body, secret=wrong))
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(body, secret=None))
    with pytest.raises(SignatureError, match="missing"):
        webhook.verify(request(body, secret=""))


OWN = ChannelAccount(channel="telegram", external_id="7000000009", name="vip", webhook_secret=SecretStr("vip-secret"))
SECOND = ChannelAccount(channel="telegram", external_id="7000000002", name="sales")


def test_a_bot_with_its_own_secret_is_identified_by_it():
    accounts = (SHOP_BOT, OWN)
    assert identify_bot("vip-secret", None, "channel-secret", accounts) == "7000000009"
    assert identify_bot("vip-secret", "7000000009", "channel-secret", accounts) == "7000000009"
    with pytest.raises(SignatureError, match="not bot 7000000001's"):
        identify_bot("vip-secret", "7000000001", "channel-secret", accounts)
    with pytest.raises(SignatureError, match="of its own"):
        identify_bot("channel-secret", "7000000009", "channel-secret", accounts)


def test_the_channel_secret_names_the_one_bot_that_shares_it_or_the_one_in_the_url():
    assert identify_bot("channel-secret", None, "channel-secret", (SHOP_BOT, OWN)) == "7000000001"
    assert identify_bot("channel-secret", "7000000002", "channel-secret", (SHOP_BOT, SECOND)) == "7000000002"
    with pytest.raises(PayloadError, match=r"\?bot=<bot id>"):
        identify_bot("channel-secret", None, "channel-secret", (SHOP_BOT, SECOND))


def test_the_bot_in_the_webhook_url_is_the_account_the_message_arrived_on():
    two_bots = TelegramWebhook(secret_token="channel-secret", accounts=(SHOP_BOT, SECOND))
    body = (PAYLOADS / "text.json").read_bytes()
    message = only(two_bots.parse(request(body, query="bot=7000000002"), NOW))
    assert message.account_external_id == "7000000002"


def test_without_a_channel_secret_only_bots_with_their_own_are_accepted():
    with pytest.raises(SignatureError):
        identify_bot("", None, "", (SHOP_BOT,))
    with pytest.raises(SignatureError):
        identify_bot("anything", None, "", (SHOP_BOT,))
    assert identify_bot("vip-secret", None, "", (SHOP_BOT, OWN)) == "7000000009"
