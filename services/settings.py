"""Configuration shared by every process; each process extends `CommonSettings` with its own fields.

Settings are read from `SWITCHBOARD_*` environment variables once, at start-up, and fail fast.
"""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.accounts import ChannelAccount


class CommonSettings(BaseSettings):
    """What every Switchboard process needs: where Kafka and PostgreSQL are, and how to log."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", frozen=True)

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Lets several stacks (a dev stack and a test session) share one broker without reading each other.
    topic_prefix: str = "switchboard"
    database_url: SecretStr = SecretStr("postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard")
    log_level: str = "INFO"
    # The consume loop (services/consuming.py): how many times a failing batch, then each of its records, is
    # retried before a record is dead-lettered (our own outage is retried for as long as it lasts), the backoff
    # between tries, and how long a failing Kafka client may take to recover before the process exits.
    consumer_record_retries: int = Field(default=3, ge=0)
    consumer_retry_initial_s: float = Field(default=0.2, gt=0)
    consumer_retry_max_s: float = Field(default=5.0, gt=0)
    consumer_recover_within_s: float = Field(default=120.0, gt=0)
    accounts: tuple[ChannelAccount, ...] = Field(default=())
    host: str = "127.0.0.1"
