"""The dispatcher's configuration."""

from typing import ClassVar

from pydantic import SecretStr

from services.settings import CommonSettings, is_loopback_host

SANDBOX_SMTP_PORT = 2525  # sandbox/providers/smtp.py's default


class DispatcherSettings(CommonSettings):
    """Provider API base URLs (the sandbox locally, the real APIs in production) and retry policy."""

    port: int = 8082
    consumer_group: str = "switchboard-dispatcher"
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    messenger_api_base: str = "https://graph.facebook.com/v21.0"
    instagram_api_base: str = "https://graph.instagram.com/v21.0"
    twilio_api_base: str = "https://api.twilio.com"
    line_api_base: str = "https://api.line.me"
    telegram_api_base: str = "https://api.telegram.org"
    webchat_api_base: str = ""  # the site's backend that serves its widget (required in production)
    # Signs replies to a site's backend, for sites without their own key (their account's webhook_secret).
    webchat_signing_key: SecretStr = SecretStr("")
    # Email replies leave by SMTP (required in production; the sandbox's sink in development and tests).
    smtp_host: str = ""
    smtp_port: int = 2525
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    send_timeout_s: float = 10.0
    max_attempts: int = 5
    max_concurrent_sends: int = 32  # conversations sent to at once; one conversation's replies stay in order
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0

    # Secure defaults (SWITCHBOARD_ENV, services/settings.py): the sandbox's web-chat backend and SMTP sink
    # in development only.
    development_defaults: ClassVar[dict[str, str]] = {
        "webchat_api_base": "http://127.0.0.1:8090/webchat",
        "smtp_host": "127.0.0.1",
    }
    production_required: ClassVar[tuple[str, ...]] = ("webchat_api_base", "smtp_host")

    def production_refusals(self) -> list[str]:
        """Also refuses the sandbox's SMTP sink; a local MTA on loopback (25, 465, 587) is fine."""
        refusals = super().production_refusals()
        if is_loopback_host(self.smtp_host) and self.smtp_port == SANDBOX_SMTP_PORT:
            refusals.append(
                f"SWITCHBOARD_SMTP_HOST/SWITCHBOARD_SMTP_PORT point at the sandbox's SMTP sink"
                f" ({self.smtp_host}:{self.smtp_port})"
            )
        return refusals
