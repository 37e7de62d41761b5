"""Every channel of the contract is implemented on both sides: ingest receives it, the dispatcher answers it,
and the sandbox can produce its signed webhooks and play its send API."""

import inspect
from typing import get_args

from dispatcher.channels import build_senders
from dispatcher.settings import DispatcherSettings
from ingest.channels import build_channels
from ingest.settings import IngestSettings
from ingest.webhook import ChannelWebhook
from schemas.inbound import Channel

CONTRACT_CHANNELS = {"whatsapp", "messenger", "instagram", "twilio", "line", "telegram", "mailgun", "webchat"}


def test_the_schema_names_exactly_the_contracts_channels():
    assert set(get_args(Channel)) == CONTRACT_CHANNELS


def test_every_contract_channel_is_received_by_ingest_and_answered_by_the_dispatcher():
    inbound = build_channels(IngestSettings(meta_app_secret="s", meta_verify_token="t"))
    outbound = build_senders(DispatcherSettings())
    assert set(inbound) == CONTRACT_CHANNELS
    assert set(outbound) == CONTRACT_CHANNELS


def test_every_ingest_channel_implements_the_webhook_interface():
    for name, webhook in build_channels(IngestSettings(meta_app_secret="s", meta_verify_token="t")).items():
        assert isinstance(webhook, ChannelWebhook), f"{name} lacks part of the webhook interface"


def test_every_sender_takes_a_client_an_account_a_reply_and_the_time():
    for name, send in build_senders(DispatcherSettings()).items():
        assert inspect.iscoroutinefunction(send), f"{name}'s sender is not async"
        assert len(inspect.signature(send).parameters) == 4, f"{name}'s sender has the wrong shape"
