"""Ingest's configuration."""

from typing import ClassVar

from pydantic import SecretStr

from services.settings import CommonSettings, env_name


class IngestSettings(CommonSettings):
    """Webhook secrets of every provider and how long to wait for Kafka before answering 503."""

    port: int = 8080
    meta_app_secret: SecretStr
    meta_verify_token: SecretStr
    # Channel-wide webhook secrets; an account's own `webhook_secret` overrides its channel's. An empty
    # secret refuses every webhook of that channel (401) rather than accepting unsigned ones.
    twilio_auth_token: SecretStr = SecretStr("")
    line_channel_secret: SecretStr = SecretStr("")
    telegram_secret_token: SecretStr = SecretStr("")
    mailgun_signing_key: SecretStr = SecretStr("")
    webchat_signing_key: SecretStr = SecretStr("")
    # Mailgun and webchat sign a timestamp: one further than this from our clock is refused as a replay.
    webhook_timestamp_tolerance_s: float = 300.0
    # Twilio signs the URL it called. Behind a proxy or tunnel that is not the URL ingest sees: set the
    # public base (https://hooks.example.com) and ingest checks against that.
    public_base_url: str | None = None
    max_body_bytes: int = 1024 * 1024
    publish_timeout_s: float = 5.0

    # Secure defaults (SWITCHBOARD_ENV, services/settings.py): each channel-wide webhook secret, and the
    # channels an empty one refuses (401), said in the start-up log.
    channel_secrets: ClassVar[dict[str, str]] = {
        "meta_app_secret": "whatsapp, messenger and instagram",
        "twilio_auth_token": "twilio",
        "line_channel_secret": "line",
        "telegram_secret_token": "telegram",
        "mailgun_signing_key": "mailgun",
        "webchat_signing_key": "webchat",
    }

    def start_up_warnings(self) -> list[str]:
        """An empty channel secret refuses that channel's webhooks, save accounts with a secret of their own."""
        warnings = super().start_up_warnings()
        for field, channels in self.channel_secrets.items():
            if not getattr(self, field).get_secret_value():
                warnings.append(
                    f"{env_name(field)} is empty: {channels} webhooks are refused (401)"
                    " except on accounts with their own webhook_secret"
                )
        if not self.meta_verify_token.get_secret_value():
            warnings.append("SWITCHBOARD_META_VERIFY_TOKEN is empty: Meta's subscription handshake is refused")
        return warnings
