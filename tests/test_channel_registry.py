"""Every channel ingest accepts can be answered: it has a sender in the dispatcher, and vice versa."""

from typing import get_args

from dispatcher.channels import build_senders
from dispatcher.settings import DispatcherSettings
from ingest.channels import build_channels
from ingest.settings import IngestSettings
from ingest.webhook import ChannelWebhook
from schemas.inbound import Channel


def test_every_ingest_channel_has_a_dispatcher_sender_and_back():
    inbound = build_channels(IngestSettings(meta_app_secret="s", meta_verify_token="t"))
    outbound = build_senders(DispatcherSettings())
    assert set(inbound) == set(outbound)
    assert set(inbound) <= set(get_args(Channel))


def test_every_ingest_channel_implements_the_webhook_interface():
    for name, webhook in build_channels(IngestSettings(meta_app_secret="s", meta_verify_token="t")).items():
        assert isinstance(webhook, ChannelWebhook), f"{name} lacks part of the webhook interface"
