"""services/settings.py and each process's settings: what production refuses, what development takes."""

import logging
import os
from pathlib import Path
from typing import Any

import pytest
from honcho.environ import parse as parse_env

from dispatcher.settings import DispatcherSettings
from ingest.settings import IngestSettings
from router.settings import RouterSettings
from services.settings import CommonSettings, UnsafeSettingsError

DEV_ENV = parse_env((Path(__file__).resolve().parents[2] / "deploy" / "local" / "dev.env").read_text())
DATABASE = "postgresql://switchboard:n0t-the-dev-one@db.internal:5432/switchboard"
# What a production deployment sets: real-looking secrets, real hosts.
ROUTER: dict[str, Any] = {
    "admin_token": "3c9f0b6e1d7a",
    "orders_api_base": "https://orders.shop.example",
    "database_url": DATABASE,
}
DISPATCHER: dict[str, Any] = {
    "webchat_api_base": "https://shop.example/chat",
    "smtp_host": "smtp.mailgun.org",
    "smtp_port": 587,
}
INGEST: dict[str, Any] = {
    "meta_app_secret": "9d1e4c",
    "meta_verify_token": "b7a2f0",
    "twilio_auth_token": "5e8c1a",
    "line_channel_secret": "0f3b9d",
    "telegram_secret_token": "c4a7e2",
    "mailgun_signing_key": "1b6d8f",
    "webchat_signing_key": "7e2c5a",
    "database_url": DATABASE,
}


@pytest.fixture(autouse=True)
def no_switchboard_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SWITCHBOARD_"):
            monkeypatch.delenv(name)


def refusals(settings: type[CommonSettings], **values: Any) -> list[str]:
    with pytest.raises(UnsafeSettingsError) as refused:
        settings(env="production", **values)
    return refused.value.refusals


def use_dev_env(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    """The environment `make run` gives each process (deploy/local/dev.env), with SWITCHBOARD_ENV=`env`."""
    for name, value in DEV_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SWITCHBOARD_ENV", env)


def refused_by_environment(settings: type[CommonSettings]) -> list[str]:
    with pytest.raises(UnsafeSettingsError) as refused:
        settings()
    return refused.value.refusals


def test_production_settings_start() -> None:
    assert RouterSettings(env="production", **ROUTER).orders_api_base == "https://orders.shop.example"
    assert DispatcherSettings(env="production", database_url=DATABASE, **DISPATCHER).smtp_host == "smtp.mailgun.org"
    assert IngestSettings(env="production", **INGEST).meta_app_secret.get_secret_value() == "9d1e4c"


def test_an_unset_env_is_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ADMIN_TOKEN", "dev-admin-token")
    with pytest.raises(UnsafeSettingsError):
        RouterSettings(orders_api_base="https://orders.shop.example", database_url=DATABASE)
    monkeypatch.setenv("SWITCHBOARD_ENV", "staging")
    with pytest.raises(UnsafeSettingsError):
        RouterSettings(orders_api_base="https://orders.shop.example", database_url=DATABASE)


def test_every_secret_and_sandbox_url_of_dev_env_is_refused_in_production_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_dev_env(monkeypatch, "production")
    router = refused_by_environment(RouterSettings)
    ingest = refused_by_environment(IngestSettings)
    dispatcher = refused_by_environment(DispatcherSettings)
    named = " ".join(router + ingest + dispatcher)
    for variable in (
        "SWITCHBOARD_ADMIN_TOKEN",
        "SWITCHBOARD_ORDERS_API_BASE",
        "SWITCHBOARD_META_APP_SECRET",
        "SWITCHBOARD_META_VERIFY_TOKEN",
        "SWITCHBOARD_TWILIO_AUTH_TOKEN",
        "SWITCHBOARD_LINE_CHANNEL_SECRET",
        "SWITCHBOARD_TELEGRAM_SECRET_TOKEN",
        "SWITCHBOARD_MAILGUN_SIGNING_KEY",
        "SWITCHBOARD_WEBCHAT_SIGNING_KEY",
        "SWITCHBOARD_DATABASE_URL",
        *(
            f"SWITCHBOARD_{api}_API_BASE"
            for api in ("WHATSAPP", "MESSENGER", "INSTAGRAM", "TWILIO", "LINE", "TELEGRAM")
        ),
        "SWITCHBOARD_WEBCHAT_API_BASE",
        "SWITCHBOARD_SMTP_HOST/SWITCHBOARD_SMTP_PORT",
    ):
        assert variable in named, variable
    # Each development account's token too (the mailbox and the site have none).
    assert sum("SWITCHBOARD_ACCOUNTS[" in refusal for refusal in dispatcher) == 7


def test_the_refusal_names_variables_but_never_prints_a_secret() -> None:
    with pytest.raises(UnsafeSettingsError) as refused:
        IngestSettings(env="production", **{**INGEST, "meta_app_secret": "dev-meta-app-secret"})
    assert "SWITCHBOARD_META_APP_SECRET" in str(refused.value)
    assert "dev-meta-app-secret" not in str(refused.value)
    assert refused.value.refusals == [
        "SWITCHBOARD_META_APP_SECRET is a development secret (deploy/local/dev.env or the tests)"
    ]


@pytest.mark.parametrize("secret", ["test-admin-token", "dev-admin-token", "7000000001:dev-telegram-bot-token"])
def test_development_and_test_secrets_are_refused(secret: str) -> None:
    assert refusals(RouterSettings, **{**ROUTER, "admin_token": secret}) == [
        "SWITCHBOARD_ADMIN_TOKEN is a development secret (deploy/local/dev.env or the tests)"
    ]


def test_a_database_named_dev_is_not_a_development_secret() -> None:
    dsn = "postgresql://switchboard:n0t-the-dev-one@db.internal:5432/dev-switchboard"
    assert RouterSettings(env="production", **{**ROUTER, "database_url": dsn}).admin_token


def test_a_development_account_token_is_refused() -> None:
    account = {"channel": "telegram", "external_id": "7000000001", "name": "bot", "access_token": "7000000001:dev-x"}
    assert refusals(RouterSettings, **ROUTER, accounts=[account]) == [
        "SWITCHBOARD_ACCOUNTS[0] (telegram 7000000001): access_token is a development secret"
    ]


def test_settings_with_a_sandbox_default_are_required_in_production() -> None:
    assert refusals(RouterSettings, admin_token="3c9f0b6e1d7a", database_url=DATABASE) == [
        "SWITCHBOARD_ORDERS_API_BASE is not set (required in production)"
    ]
    assert refusals(RouterSettings, **{**ROUTER, "admin_token": ""}) == [
        "SWITCHBOARD_ADMIN_TOKEN is not set (required in production)"
    ]
    assert refusals(DispatcherSettings, database_url=DATABASE) == [
        "SWITCHBOARD_WEBCHAT_API_BASE is not set (required in production)",
        "SWITCHBOARD_SMTP_HOST is not set (required in production)",
    ]


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8090/commerce", "http://localhost:9000", "http://[::1]:8090/x", "http://127.1.2.3/"]
)
def test_an_api_base_on_loopback_is_the_sandbox_and_refused(url: str) -> None:
    assert refusals(RouterSettings, **{**ROUTER, "orders_api_base": url}) == [
        f"SWITCHBOARD_ORDERS_API_BASE points at loopback ({url}), where only the sandbox answers"
    ]
    assert refusals(DispatcherSettings, database_url=DATABASE, **{**DISPATCHER, "line_api_base": url}) == [
        f"SWITCHBOARD_LINE_API_BASE points at loopback ({url}), where only the sandbox answers"
    ]


def test_the_sandbox_smtp_sink_is_refused_but_a_local_mta_is_not() -> None:
    sink = {**DISPATCHER, "smtp_host": "127.0.0.1", "smtp_port": 2525}
    assert refusals(DispatcherSettings, database_url=DATABASE, **sink) == [
        "SWITCHBOARD_SMTP_HOST/SWITCHBOARD_SMTP_PORT point at the sandbox's SMTP sink (127.0.0.1:2525)"
    ]
    local_mta = {**DISPATCHER, "smtp_host": "localhost", "smtp_port": 25}
    assert DispatcherSettings(env="production", database_url=DATABASE, **local_mta).smtp_port == 25


def test_development_takes_dev_env(monkeypatch: pytest.MonkeyPatch) -> None:
    use_dev_env(monkeypatch, "development")
    assert RouterSettings().admin_token.get_secret_value() == "dev-admin-token"
    assert IngestSettings().meta_app_secret.get_secret_value() == "dev-meta-app-secret"
    assert DispatcherSettings().webchat_api_base == DEV_ENV["SWITCHBOARD_WEBCHAT_API_BASE"]


def test_development_alone_defaults_to_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENV", "development")
    dispatcher = DispatcherSettings()
    assert RouterSettings(admin_token="x").orders_api_base == "http://127.0.0.1:8090/commerce"
    assert dispatcher.webchat_api_base == "http://127.0.0.1:8090/webchat"
    assert dispatcher.smtp_host == "127.0.0.1"


def test_an_empty_channel_secret_is_allowed_in_production_and_said_at_start_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="services.settings"):
        settings = IngestSettings(env="production", **{**INGEST, "line_channel_secret": "", "meta_app_secret": ""})
    assert settings.line_channel_secret.get_secret_value() == ""
    logged = [record.getMessage() for record in caplog.records]
    assert any(
        m.startswith("SWITCHBOARD_LINE_CHANNEL_SECRET is empty: line webhooks are refused (401)") for m in logged
    )
    assert any(m.startswith("SWITCHBOARD_META_APP_SECRET is empty: whatsapp, messenger and instagram") for m in logged)
    assert not any("TWILIO" in m for m in logged)
