"""The router's configuration."""

from pydantic import SecretStr

from services.settings import CommonSettings


class RouterSettings(CommonSettings):
    """Where the agent/admin API listens, its admin token, and the consumer group."""

    port: int = 8081
    admin_token: SecretStr
    # What this process does: "api" (the agent/admin API), "consumer" (inbound topic and queue sweep), or
    # both. Separate processes let the two use separate cores; every role serves health and metrics.
    roles: str = "api,consumer"
    consumer_group: str = "switchboard-router"
    # How often the queue is swept for capacity nobody claimed; assignment normally happens on events.
    queue_sweep_interval_s: float = 1.0
    database_pool_size: int = 10

    @property
    def serves_api(self) -> bool:
        return "api" in self.roles.split(",")

    @property
    def consumes(self) -> bool:
        return "consumer" in self.roles.split(",")
