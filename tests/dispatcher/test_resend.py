from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from dispatcher.resend import resend_safe
from schemas.outbound import OutboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def reply(channel: str, wrote_ago_s: float, reply_token: str | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel=channel,
        account_external_id="acct",
        recipient_external_id="U1",
        text="hi",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW - timedelta(seconds=wrote_ago_s),
        reply_context={"reply_token": reply_token} if reply_token else {},
    )


def test_a_line_push_carries_its_retry_key_so_it_may_be_resent():
    assert resend_safe(reply("line", 120, reply_token="rt1"), NOW)  # the token was stale: it went by push
    assert resend_safe(reply("line", 5), NOW)  # no token at all: push


def test_a_line_reply_by_token_has_no_key_so_it_may_not():
    assert not resend_safe(reply("line", 5, reply_token="rt1"), NOW)


def test_web_chat_carries_an_idempotency_key():
    assert resend_safe(reply("webchat", 5), NOW)


@pytest.mark.parametrize("channel", ["whatsapp", "messenger", "instagram", "twilio", "telegram", "mailgun"])
def test_channels_without_a_key_are_never_resent_after_a_lost_answer(channel):
    assert not resend_safe(reply(channel, 5), NOW)
