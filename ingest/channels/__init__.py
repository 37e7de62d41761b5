"""The registry of channels ingest accepts, by the name in `/webhooks/{channel}`."""

from ingest.channels.whatsapp import WhatsAppWebhook
from ingest.settings import IngestSettings
from ingest.webhook import ChannelWebhook


def build_channels(settings: IngestSettings) -> dict[str, ChannelWebhook]:
    """Every channel's webhook, each holding its own secrets."""
    return {
        "whatsapp": WhatsAppWebhook(app_secret=settings.meta_app_secret.get_secret_value().encode()),
    }
