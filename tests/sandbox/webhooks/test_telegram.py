"""The sandbox's Telegram updates are what ingest accepts: the secret token in its header, parsed as sent."""

from datetime import UTC, datetime

import pytest

from ingest.channels.telegram import TelegramWebhook
from ingest.errors import SignatureError
from ingest.webhook import WebhookRequest
from sandbox.webhooks.telegram import signed_telegram, telegram_text
from schemas.inbound import InboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
webhook = TelegramWebhook(
    secret_token="secret", accounts=(ChannelAccount(channel="telegram", external_id="7000000001", name="bot"),)
)


def request(signed) -> WebhookRequest:
    return WebhookRequest(url="http://127.0.0.1/webhooks/telegram", headers=signed.headers, raw_body=signed.body)


def test_an_update_with_the_secret_token_verifies_and_parses_as_built():
    signed = signed_telegram(telegram_text(111, 42, "hello", date=1763899200), "secret")
    webhook.verify(request(signed))
    [message] = webhook.parse(request(signed), NOW)
    assert isinstance(message, InboundMessage)
    assert (message.account_external_id, message.sender_external_id, message.provider_message_id) == (
        "7000000001",
        "111",
        "111:42",
    )
    assert (message.text, message.sender_name) == ("hello", "Test Customer")
    assert message.sent_at == datetime.fromtimestamp(1763899200, UTC)


def test_a_group_message_is_answered_in_the_group():
    [message] = webhook.parse(request(signed_telegram(telegram_text(111, 7, "hi", chat_id=-100), "secret")), NOW)
    assert isinstance(message, InboundMessage)
    assert message.channel_data == {"chat_id": "-100"}


def test_another_secret_does_not_verify():
    with pytest.raises(SignatureError):
        webhook.verify(request(signed_telegram(telegram_text(111, 1, "x"), "not-the-secret")))
