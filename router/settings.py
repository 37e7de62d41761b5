"""The router's configuration."""

from pydantic import SecretStr

from services.settings import CommonSettings


class RouterSettings(CommonSettings):
    """Where the agent/admin API listens, its admin token, and the consumer group."""

    port: int = 8081
    admin_token: SecretStr
    consumer_group: str = "switchboard-router"
    # How often the queue is swept for capacity nobody claimed; assignment normally happens on events.
    queue_sweep_interval_s: float = 1.0
    database_pool_size: int = 10
