"""Ingest's configuration."""

from pydantic import SecretStr

from services.settings import CommonSettings


class IngestSettings(CommonSettings):
    """Webhook secrets of every provider and how long to wait for Kafka before answering 503."""

    port: int = 8080
    meta_app_secret: SecretStr
    meta_verify_token: SecretStr
    max_body_bytes: int = 1024 * 1024
    publish_timeout_s: float = 5.0
