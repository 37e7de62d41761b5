"""The router's configuration."""

from typing import ClassVar

from pydantic import Field, SecretStr

from router.presence import PresencePolicy
from router.queueing import RoutingPolicy
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
    # The API's request bodies (JSON everywhere) are refused above this before they are read
    # (router/request_limits.py): 64 KiB holds the longest reply, template or CRM record many times over.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # How long a router process trusts its cached token -> agent lookup: a revoked agent token stops working
    # on every process within this bound (0: no cache, one indexed lookup per call).
    token_cache_ttl_s: float = Field(default=5.0, ge=0)
    # Presence (router/presence.py): an agent whose client sent no heartbeat for this long is marked
    # offline by the sweep (0: never, for clients that do not send heartbeats yet), and keeps their
    # conversations this long in case they come back.
    heartbeat_timeout_s: float = Field(default=60.0, ge=0)
    offline_grace_s: float = Field(default=30.0, ge=0)
    # Routing (router/queueing.py): one priority level per this many seconds waited, so nobody starves;
    # after this long without a matching agent, any free agent may take a conversation.
    routing_ageing_s_per_level: float = 60.0
    routing_widen_after_s: float = 30.0
    # The languages the team supports: detection (router/language.py) chooses among these.
    languages: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "ko", "ja", "zh", "ar", "he", "ru", "tr")

    # Automation (router/automation.py): the commerce endpoint the bot reads orders from (required in
    # production; the sandbox's in development, see `development_defaults`),
    # how long a lookup may take (the bot answers within 0.5 s of the webhook), and how often every router
    # re-reads the intent rules and the kill switch.
    orders_api_base: str = ""
    order_lookup_timeout_s: float = 0.3
    # A bot conversation whose customer's last message has no answer after this long goes to the queue
    # (the bot's process or PostgreSQL failed between claiming it and answering; router/assigner.py sweep).
    bot_unanswered_after_s: float = Field(default=30.0, gt=0)
    automation_refresh_s: float = 0.5

    # Secure defaults (SWITCHBOARD_ENV, services/settings.py).
    development_defaults: ClassVar[dict[str, str]] = {"orders_api_base": "http://127.0.0.1:8090/commerce"}
    production_required: ClassVar[tuple[str, ...]] = ("admin_token", "orders_api_base")

    @property
    def routing_policy(self) -> RoutingPolicy:
        return RoutingPolicy(self.routing_ageing_s_per_level, self.routing_widen_after_s)

    @property
    def presence_policy(self) -> PresencePolicy:
        return PresencePolicy.of_seconds(self.heartbeat_timeout_s, self.offline_grace_s)

    @property
    def serves_api(self) -> bool:
        return "api" in self.roles.split(",")

    @property
    def consumes(self) -> bool:
        return "consumer" in self.roles.split(",")
