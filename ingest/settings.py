"""Ingest's configuration."""

from pydantic import SecretStr

from services.settings import CommonSettings


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
    # A client that declared a body and stops sending it would otherwise hold its connection for ever.
    body_read_timeout_s: float = 10.0
    publish_timeout_s: float = 5.0
    # Mailgun's replay ledger lives in PostgreSQL (SWITCHBOARD_DATABASE_URL); past this, the webhook gets 503.
    replay_ledger_timeout_s: float = 2.0
