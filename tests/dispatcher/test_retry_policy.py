import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from dispatcher.retry_policy import backoff_s, next_attempt_at, parse_retry_after, reply_deadline, wait_s
from schemas.outbound import OutboundMessage

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def reply(channel: str = "whatsapp", *, wrote_ago: timedelta | None = timedelta(hours=1), **fields) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel=channel,
        account_external_id="acct",
        recipient_external_id="cust",
        text="hi",
        author=fields.pop("author", "agent"),
        created_at=NOW,
        customer_last_message_at=None if wrote_ago is None else NOW - wrote_ago,
        **fields,
    )


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 5 ", 5.0),
        ("Mon, 23 Nov 2026 12:00:30 GMT", 30.0),  # RFC 9110's IMF-fixdate
        ("Mon, 23 Nov 2026 11:59:00 GMT", 0.0),  # a date already past: no wait, never negative
        (None, None),
        ("", None),
        ("soon", None),
        ("-3", None),
        ("1.5", None),  # delta-seconds is a non-negative integer
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(value, seconds):
    assert parse_retry_after(value, NOW) == seconds


def test_the_providers_wait_wins_over_the_backoff():
    assert wait_s(0.4, None) == 0.4
    assert wait_s(0.4, 30.0) == 30.0
    assert wait_s(60.0, 3.0) == 3.0


def test_backoff_grows_to_its_cap_and_a_rate_limit_backs_off_longer_than_a_5xx():
    rng = random.Random(7)
    for attempt in range(1, 12):
        for _ in range(50):
            wait = backoff_s(attempt, 1.0, 60.0, rate_limited=False, rng=rng)
            assert 0.5 <= wait <= min(60.0, 2 ** (attempt - 1))
    throttled = [backoff_s(1, 1.0, 60.0, rate_limited=True, rng=rng) for _ in range(200)]
    failing = [backoff_s(1, 1.0, 60.0, rate_limited=False, rng=rng) for _ in range(200)]
    assert min(throttled) > max(failing)


def test_whatsapp_replies_are_retried_until_24_hours_after_the_customers_last_message():
    assert reply_deadline(reply(wrote_ago=timedelta(hours=1)), timedelta(hours=24)) == NOW + timedelta(hours=23)
    assert reply_deadline(reply(wrote_ago=None), timedelta(hours=24)) == NOW  # never wrote: nothing may go


def test_messenger_gives_an_agent_7_days_and_a_bot_24_hours():
    wrote = timedelta(hours=2)
    assert reply_deadline(reply("messenger", wrote_ago=wrote), timedelta(hours=24)) == NOW + timedelta(days=7) - wrote
    bot = reply("instagram", wrote_ago=wrote, author="bot")
    assert reply_deadline(bot, timedelta(hours=24)) == NOW + timedelta(hours=22)


def test_twilio_is_windowed_only_for_whatsapp_senders():
    sms = reply("twilio", wrote_ago=timedelta(days=3))
    assert reply_deadline(sms, timedelta(hours=24)) == NOW + timedelta(hours=24)
    via_whatsapp = reply("twilio", wrote_ago=timedelta(hours=4), reply_context={"variant": "whatsapp"})
    assert reply_deadline(via_whatsapp, timedelta(hours=24)) == NOW + timedelta(hours=20)


@pytest.mark.parametrize("channel", ["telegram", "line", "mailgun", "webchat"])
def test_channels_without_a_window_are_retried_for_the_maximum_reply_age(channel):
    assert reply_deadline(reply(channel, wrote_ago=timedelta(days=30)), timedelta(hours=6)) == NOW + timedelta(hours=6)


def test_a_retry_after_the_deadline_gives_up():
    deadline = NOW + timedelta(seconds=10)
    assert next_attempt_at(NOW, 5, deadline) == NOW + timedelta(seconds=5)
    assert next_attempt_at(NOW, 10, deadline) == deadline
    assert next_attempt_at(NOW, 11, deadline) is None
