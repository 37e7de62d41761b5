"""The registry of channels ingest accepts, by the name in `/webhooks/{channel}`."""

from ingest.channels.line import LineWebhook
from ingest.channels.mailgun import MailgunWebhook
from ingest.channels.meta_messaging import MetaMessagingWebhook
from ingest.channels.telegram import TelegramWebhook
from ingest.channels.twilio import TwilioWebhook
from ingest.channels.webchat import WebchatWebhook
from ingest.channels.whatsapp import WhatsAppWebhook
from ingest.mailgun_ledger import PostgresTokenLedger
from ingest.mailgun_signature import TokenLedger
from ingest.settings import IngestSettings
from ingest.webhook import ChannelWebhook


def build_channels(settings: IngestSettings, ledger: TokenLedger | None = None) -> dict[str, ChannelWebhook]:
    """Every channel's webhook, each holding its own secrets; Mailgun's tokens go to `ledger`.

    Without a ledger, Mailgun's is PostgreSQL's, to be started by the caller (`PostgresTokenLedger.start`).
    """
    if ledger is None:
        ledger = PostgresTokenLedger(settings.database_url.get_secret_value(), settings.replay_ledger_timeout_s)
    return {
        "whatsapp": WhatsAppWebhook(app_secret=settings.meta_app_secret.get_secret_value().encode()),
        "line": LineWebhook(settings.line_channel_secret.get_secret_value(), settings.accounts),
        "telegram": TelegramWebhook(settings.telegram_secret_token.get_secret_value(), settings.accounts),
        "messenger": MetaMessagingWebhook("messenger", app_secret=settings.meta_app_secret.get_secret_value().encode()),
        "instagram": MetaMessagingWebhook("instagram", app_secret=settings.meta_app_secret.get_secret_value().encode()),
        "twilio": TwilioWebhook(
            settings.twilio_auth_token.get_secret_value(), settings.accounts, settings.public_base_url
        ),
        "mailgun": MailgunWebhook(
            settings.mailgun_signing_key.get_secret_value().encode(),
            settings.accounts,
            max_age_s=settings.webhook_timestamp_tolerance_s,
            ledger=ledger,
        ),
        "webchat": WebchatWebhook(
            settings.webchat_signing_key.get_secret_value().encode(),
            settings.accounts,
            tolerance_s=settings.webhook_timestamp_tolerance_s,
        ),
    }
