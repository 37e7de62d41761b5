"""The load harness's channel mix: weights, and the patterns that find a run's messages on every channel."""

import random
import re
from collections import Counter
from datetime import UTC, datetime

import pytest

from ingest.channels import build_channels
from ingest.settings import IngestSettings
from ingest.webhook import WebhookRequest
from loadtests.channel_mix import (
    DEFAULT_MIX,
    LOAD_CUSTOMER_ID,
    Customer,
    Webhooks,
    customer_id_patterns,
    customer_marker,
    format_mix,
    message_marker,
    parse_mix,
    pick_channel,
    provider_id_patterns,
)
from sandbox.webhooks.compose import Accounts, Secrets
from schemas.inbound import InboundMessage
from services.accounts import ChannelAccount

INGEST = "http://127.0.0.1:8080"
ACCOUNTS = (
    ChannelAccount(channel="whatsapp", external_id="106540352242922", name="wa"),
    ChannelAccount(channel="messenger", external_id="108888888888881", name="page"),
    ChannelAccount(channel="instagram", external_id="17841400000000001", name="ig"),
    ChannelAccount(channel="twilio", external_id="+15550100001", name="sms"),
    ChannelAccount(channel="line", external_id="U00000000000000000000000000000dev", name="line"),
    ChannelAccount(channel="telegram", external_id="7000000001", name="bot"),
    ChannelAccount(channel="mailgun", external_id="support@switchboard.test", name="mail"),
    ChannelAccount(channel="webchat", external_id="site-dev", name="site"),
)


def like(pattern: str, value: str) -> bool:
    """SQL LIKE, for the patterns the report queries with."""
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def ingest_parses(channel: str, customer: Customer, key: str) -> InboundMessage:
    """Post the harness's webhook through ingest's own verify and parse, as the running stack would."""
    secrets = Secrets()
    settings = IngestSettings(
        meta_app_secret=secrets.meta_app_secret,
        meta_verify_token="t",
        twilio_auth_token=secrets.twilio_auth_token,
        line_channel_secret=secrets.line_channel_secret,
        telegram_secret_token=secrets.telegram_secret_token,
        mailgun_signing_key=secrets.mailgun_signing_key,
        webchat_signing_key=secrets.webchat_signing_key,
        accounts=ACCOUNTS,
    )
    delivery = Webhooks(INGEST, secrets, Accounts()).message(customer, key, "Where is my order?")
    webhook = build_channels(settings)[channel]
    request = WebhookRequest(
        url=INGEST + delivery.path,
        headers={k.lower(): v for k, v in delivery.webhook.headers.items()},
        raw_body=delivery.webhook.body,
    )
    webhook.verify(request)
    [event] = webhook.parse(request, received_at=datetime.now(UTC))
    assert isinstance(event, InboundMessage)
    return event


@pytest.mark.parametrize("channel", sorted(DEFAULT_MIX))
def test_every_channels_load_webhook_is_accepted_and_found_by_the_reports_patterns(channel: str):
    run_id = "31337"
    customer = Customer(channel, f"{customer_marker(run_id)}000042")
    message = ingest_parses(channel, customer, f"{message_marker(run_id)}1x7")

    assert message.channel == channel
    assert any(
        like(p, message.provider_message_id)
        for p in provider_id_patterns(message_marker(run_id), customer_marker(run_id))
    )
    assert any(like(p, message.sender_external_id) for p in customer_id_patterns(customer_marker(run_id)))
    assert re.match(LOAD_CUSTOMER_ID, message.sender_external_id)


def test_another_runs_messages_are_not_counted():
    customer = Customer("whatsapp", f"{customer_marker('11111')}000001")
    message = ingest_parses("whatsapp", customer, f"{message_marker('11111')}1x1")
    patterns = provider_id_patterns(message_marker("22222"), customer_marker("22222"))
    assert not any(like(p, message.provider_message_id) for p in patterns)


def test_a_mix_is_parsed_and_printed_back():
    assert parse_mix("whatsapp=3,line=1") == {"whatsapp": 3.0, "line": 1.0}
    assert parse_mix(format_mix(DEFAULT_MIX)) == dict(DEFAULT_MIX)


@pytest.mark.parametrize("text", ["", "fax=1", "whatsapp=0"])
def test_a_mix_without_a_known_weighted_channel_is_refused(text: str):
    with pytest.raises(ValueError, match="channel"):
        parse_mix(text)


def test_channels_are_picked_in_proportion_to_their_weights():
    rng = random.Random(7)
    picks = Counter(pick_channel({"whatsapp": 3, "line": 1}, rng) for _ in range(4000))
    assert set(picks) == {"whatsapp", "line"}
    assert 2.6 < picks["whatsapp"] / picks["line"] < 3.4
