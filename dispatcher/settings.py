"""The dispatcher's configuration."""

from pydantic import SecretStr

from services.settings import CommonSettings


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
    webchat_api_base: str = "http://127.0.0.1:8090/webchat"  # the site's backend that serves its widget
    # Signs replies to a site's backend, for sites without their own key (their account's webhook_secret).
    webchat_signing_key: SecretStr = SecretStr("")
    # Email replies leave by SMTP (a local sink in development and tests).
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = False
    send_timeout_s: float = 10.0
    max_attempts: int = 5
    max_concurrent_sends: int = 32  # conversations sent to at once; one conversation's replies stay in order
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
