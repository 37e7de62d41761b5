"""The dispatcher's configuration."""

from services.settings import CommonSettings


class DispatcherSettings(CommonSettings):
    """Provider API base URLs (the sandbox locally, the real APIs in production) and retry policy."""

    port: int = 8082
    consumer_group: str = "switchboard-dispatcher"
    whatsapp_api_base: str = "https://graph.facebook.com/v21.0"
    send_timeout_s: float = 10.0
    max_attempts: int = 5
    max_concurrent_sends: int = 32  # conversations sent to at once; one conversation's replies stay in order
    retry_initial_s: float = 0.2
    retry_max_s: float = 10.0
