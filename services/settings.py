"""Configuration shared by every process; each process extends `CommonSettings` with its own fields.

Settings are read from `SWITCHBOARD_*` environment variables once, at start-up, and fail fast.

`SWITCHBOARD_ENV` is `development` for `make run` and the tests; anything else, unset included, is
production. A production process refuses to start (`UnsafeSettingsError`, naming each offending variable)
with a public development or test secret, an API base on loopback (where only the sandbox lives), the
sandbox's SMTP sink, or a required setting left unset; the sandbox defaults of a few settings exist in
development only. The check raises outside pydantic's validation on purpose: a `ValidationError` would
print the raw input, secrets included.
"""

import ipaddress
import logging
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.accounts import ChannelAccount

log = logging.getLogger(__name__)

DEVELOPMENT = "development"
ENV_PREFIX = "SWITCHBOARD_"
# The secrets of deploy/local/dev.env ("dev-admin-token", "7000000001:dev-telegram-bot-token") and of the
# tests ("test-admin-token") are public: they can never guard a production process.
PUBLIC_SECRET = re.compile(r"^(?:\d+:)?(?:dev|test)-")
DEVELOPMENT_DATABASE_PASSWORD = "switchboard"


class UnsafeSettingsError(ValueError):
    """A production process was given settings only development may use; one line per variable."""

    def __init__(self, env: str, refusals: list[str]) -> None:
        self.refusals = refusals
        lines = "\n".join(f"  - {refusal}" for refusal in refusals)
        super().__init__(
            f"SWITCHBOARD_ENV={env!r} is production (only 'development' is not), and production refuses:\n{lines}"
        )


def env_name(field: str) -> str:
    """The environment variable that sets a settings field."""
    return f"{ENV_PREFIX}{field.upper()}"


def is_public_secret(value: str) -> bool:
    """True for a development or test secret, which anyone can read in this repository."""
    return bool(PUBLIC_SECRET.search(value))


def is_loopback_host(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1: in production, nothing a process calls lives there."""
    if not host:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """True when the URL's host is loopback (where the sandbox answers)."""
    try:
        return is_loopback_host(urlsplit(url).hostname)
    except ValueError:
        return False


class CommonSettings(BaseSettings):
    """What every Switchboard process needs: where Kafka and PostgreSQL are, and how to log."""

    model_config = SettingsConfigDict(env_prefix="SWITCHBOARD_", extra="ignore", frozen=True)

    # What a process may take as a given in development only: the sandbox's addresses. In production
    # these fields are required (`production_required`), so nothing points at the sandbox silently.
    development_defaults: ClassVar[dict[str, str]] = {}
    production_required: ClassVar[tuple[str, ...]] = ()

    kafka_bootstrap: str = "127.0.0.1:9092"
    # Lets several stacks (a dev stack and a test session) share one broker without reading each other.
    topic_prefix: str = "switchboard"
    database_url: SecretStr = SecretStr("postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard")
    log_level: str = "INFO"
    accounts: tuple[ChannelAccount, ...] = Field(default=())
    host: str = "127.0.0.1"
    env: str = "production"

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        if not self.is_development and (refusals := self.production_refusals()):
            raise UnsafeSettingsError(self.env, refusals)
        for warning in self.start_up_warnings():
            log.warning("%s", warning)

    @model_validator(mode="before")
    @classmethod
    def _development_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("env") == DEVELOPMENT:
            return {**cls.development_defaults, **data}
        return data

    @property
    def is_development(self) -> bool:
        return self.env == DEVELOPMENT

    def production_refusals(self) -> list[str]:
        """Everything in these settings a production process must refuse, each naming its variable."""
        refusals = []
        for field in self.production_required:
            value = getattr(self, field)
            if not (value.get_secret_value() if isinstance(value, SecretStr) else value):
                refusals.append(f"{env_name(field)} is not set (required in production)")
        for field in type(self).model_fields:
            value = getattr(self, field)
            if isinstance(value, SecretStr) and is_public_secret(value.get_secret_value()):
                refusals.append(f"{env_name(field)} is a development secret (deploy/local/dev.env or the tests)")
            elif field.endswith("_api_base") and isinstance(value, str) and is_loopback_url(value):
                refusals.append(f"{env_name(field)} points at loopback ({value}), where only the sandbox answers")
        database = urlsplit(self.database_url.get_secret_value())
        if database.password == DEVELOPMENT_DATABASE_PASSWORD:
            refusals.append("SWITCHBOARD_DATABASE_URL has the development password")
        for index, account in enumerate(self.accounts):
            for name, secret in (("access_token", account.access_token), ("webhook_secret", account.webhook_secret)):
                if is_public_secret(secret.get_secret_value()):
                    refusals.append(
                        f"SWITCHBOARD_ACCOUNTS[{index}] ({account.channel} {account.external_id}): "
                        f"{name} is a development secret"
                    )
        return refusals

    def start_up_warnings(self) -> list[str]:
        """What the process logs at start-up about its settings (an empty channel secret, say)."""
        return []
