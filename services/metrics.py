"""The Prometheus metrics of the contract, defined once so every process exports the same names."""

from fastapi import APIRouter, Response
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

INGEST_MESSAGES = Counter(
    "switchboard_ingest_messages_total",
    "Webhook events seen by ingest, by channel and outcome (accepted, bad_signature, bad_payload, ...).",
    ["channel", "outcome"],
)
WEBHOOK_SECONDS = Histogram(
    "switchboard_webhook_seconds",
    "Time ingest took to answer a webhook, Kafka acknowledgement included.",
    ["channel"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ASSIGNMENT_LATENCY = Histogram(
    "switchboard_assignment_latency_seconds",
    "Webhook received -> conversation first assigned; path says whether it waited in the queue.",
    ["path"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300),
)
ROUTED_MESSAGES = Counter(
    "switchboard_router_messages_total",
    "Inbound events the router handled, by kind and outcome (stored, duplicate, ...).",
    ["kind", "outcome"],
)
QUEUE_DEPTH = Gauge("switchboard_queue_depth", "Conversations waiting for an agent.")
AGENTS = Gauge("switchboard_agents", "Agents by presence status.", ["status"])
DISPATCH = Counter(
    "switchboard_dispatch_total",
    "Outbound messages by channel and outcome (sent, retried, failed, dead_lettered, skipped).",
    ["channel", "outcome"],
)
DISPATCH_LATENCY = Histogram(
    "switchboard_dispatch_latency_seconds",
    "Reply stored -> provider accepted it.",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30),
)
CONSUMER_LAG = Gauge(
    "switchboard_consumer_lag",
    "Records between the group's committed offset and the partition's end, per partition this process owns.",
    ["group", "topic", "partition"],
)

CONSUMER_PARTITIONS = Gauge(
    "switchboard_consumer_partitions",
    "Partitions this process owns after the last rebalance, per consumer group.",
    ["group", "topic"],
)

# Switchboard exports Prometheus metrics; FastAPI's built-in OpenTelemetry hooks otherwise look for a
# tracer provider on every request (about 6% of the router API's CPU under load, by py-spy).
FASTAPI_TELEMETRY_OFF: TelemetryConfig = {"tracing": False, "metrics": False}

metrics_routes = APIRouter()


@metrics_routes.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    """Prometheus exposition of this process's metrics."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


AUTOMATION_ENABLED = Gauge(
    "switchboard_automation_enabled",
    "Whether automated messages are on in this router process (scope: global), as last read",
    ["scope"],
)
AUTOMATION_SCHEDULES = Gauge(
    "switchboard_automation_schedules", "Accounts with business hours, as this router process last read them"
)

# issue 10: dead letters kept for admins
DEAD_LETTERS_KEPT = Counter(
    "switchboard_dead_letters_kept_total",
    "Dead-letter records the router read and kept for listing and re-driving, by kind (inbound, outbound) and reason.",
    ["kind", "reason"],
)

# issue 10: poison records
DEAD_LETTERED = Counter(
    "switchboard_dead_lettered_total",
    "Records a consumer could not process and set aside on a dead-letter topic, by source topic and reason.",
    ["topic", "reason"],
)
CONSUMER_RETRIES = Counter(
    "switchboard_consumer_retries_total",
    "Batches or records handled again after their handler failed, by consumer group and kind "
    "(transient: our own outage, retried until it ends; record: a fault of the records, retried a few times).",
    ["group", "kind"],
)
CONSUMER_RESTARTS = Counter(
    "switchboard_consumer_restarts_total",
    "Times a consume loop re-created its Kafka consumer after the client failed (fetch, commit).",
    ["group"],
)

# Issue 10, dispatch (leases, scheduled retries, circuits): dispatcher/consumer.py, dispatcher/scheduler.py.
DISPATCH_UNKNOWN = Gauge(
    "switchboard_dispatch_unknown_replies",
    "Replies whose send outcome is unknown (the provider may or may not have them), as last counted.",
)
DISPATCH_SCHEDULED = Gauge(
    "switchboard_dispatch_scheduled_replies", "Replies waiting for a scheduled retry, as last counted."
)
DISPATCH_CIRCUITS_OPEN = Gauge(
    "switchboard_dispatch_circuits_open", "Channel accounts whose circuit is open or half-open in this dispatcher."
)

# issue 10: outbox
OUTBOX_WAITING = Gauge(
    "switchboard_outbox_waiting",
    "Outbox rows not yet published to Kafka, as the publishing relay last read them (0 on stand-by processes).",
)
OUTBOX_OLDEST_AGE = Gauge(
    "switchboard_outbox_oldest_age_seconds",
    "Age of the oldest outbox row not yet published, as the publishing relay last read it (0 when none).",
)
OUTBOX_PUBLISHED = Counter(
    "switchboard_outbox_published_total", "Outbox rows this process published to Kafka and deleted."
)
OUTBOX_RELAY_LEADER = Gauge(
    "switchboard_outbox_relay_leader", "1 while this process's relay holds the outbox lock and publishes, else 0."
)

BOT_UNANSWERED = Counter(
    "switchboard_bot_unanswered_handovers_total",
    "Bot conversations handed to the queue because the customer's last message got no answer in time "
    "(the bot's process or PostgreSQL failed between claiming and answering)",
)
