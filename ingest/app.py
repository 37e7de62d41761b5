"""Ingest's HTTP app: one webhook endpoint per channel, answering once Kafka has the events."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from ingest import meta
from ingest.channels import build_channels
from ingest.errors import BodyIncomplete, BodyTimeout, PayloadError, PayloadTooLarge, UnknownChannel, WebhookError
from ingest.mailgun_ledger import PostgresTokenLedger
from ingest.publisher import publish
from ingest.settings import IngestSettings
from ingest.webhook import ChannelWebhook, ReplayGuarded, WebhookRequest
from schemas.inbound import DeliveryStatus, InboundMessage
from services.consuming import stop_background
from services.health import Liveness, health_routes
from services.kafka import Topics, ensure_topics, make_producer, wait_for_kafka
from services.metrics import FASTAPI_TELEMETRY_OFF, INGEST_MESSAGES, WEBHOOK_SECONDS, metrics_routes

META_CHANNELS = ("whatsapp", "messenger", "instagram")
# The label of everything posted to a path that names no channel: a label from the path would let anyone
# mint a new Prometheus series per request.
UNKNOWN_CHANNEL = "unknown"


def create_app(settings: IngestSettings) -> FastAPI:
    """The ingest app; its Kafka producer and Mailgun's replay ledger live for the app's lifespan."""
    topics = Topics(settings.topic_prefix)
    ledger = PostgresTokenLedger(settings.database_url.get_secret_value(), settings.replay_ledger_timeout_s)
    channels = build_channels(settings, ledger)
    liveness = Liveness()
    # Decided once: a runtime-checkable Protocol's isinstance walks its members, 3% of ingest's CPU per request.
    replay_guarded = {name: webhook for name, webhook in channels.items() if isinstance(webhook, ReplayGuarded)}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=60)
        await ensure_topics(settings.kafka_bootstrap, topics)
        producer = make_producer(settings.kafka_bootstrap, client_id="switchboard-ingest")
        await producer.start()
        app.state.producer = producer
        stopping = asyncio.Event()
        # A producer broken for good refuses some partitions' records for ever: exit and be restarted.
        watched = liveness.watch(asyncio.create_task(producer.until_broken(stopping), name="kafka-producer"))
        try:
            await ledger.start()
            yield
        finally:
            stopping.set()
            await stop_background([watched], deadline_s=2.0)
            await ledger.close()
            await producer.stop()

    app = FastAPI(title="Switchboard ingest", telemetry=FASTAPI_TELEMETRY_OFF, lifespan=lifespan)
    app.state.liveness = liveness
    app.include_router(metrics_routes)

    async def kafka_answers() -> object:
        return await app.state.producer.client.fetch_all_metadata()

    app.include_router(health_routes({"kafka": kafka_answers}, liveness=liveness))

    @app.exception_handler(WebhookError)
    async def refuse(request: Request, error: WebhookError) -> JSONResponse:
        channel = request.path_params.get("channel")
        label = channel if channel in channels else UNKNOWN_CHANNEL
        INGEST_MESSAGES.labels(channel=label, outcome=error.code).inc()
        return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status)

    @app.exception_handler(HTTPException)
    async def no_route(_: Request, error: HTTPException) -> Response:
        # Unknown paths and methods answer like every other refusal, with a machine-readable code.
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "bad_request")
        return JSONResponse(
            {"error": code, "detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    @app.get("/webhooks/{channel}")
    async def subscription_handshake(channel: str, request: Request) -> Response:
        if channel not in META_CHANNELS or channel not in channels:
            raise UnknownChannel(f"{channel[:64]!r} has no subscription handshake")
        challenge = meta.answer_handshake(dict(request.query_params), settings.meta_verify_token.get_secret_value())
        if challenge is None:
            return JSONResponse(
                {"error": "verification_failed", "detail": "hub.mode or hub.verify_token is wrong"},
                status_code=403,
            )
        return PlainTextResponse(challenge)

    async def receive(request: Request) -> Response:
        started = time.perf_counter()
        channel: str = request.path_params["channel"]
        webhook = channels.get(channel)
        if webhook is None:
            raise UnknownChannel(f"no channel named {channel[:64]!r}")
        raw_body = await _read_limited(request, settings.max_body_bytes, settings.body_read_timeout_s)
        webhook_request = WebhookRequest(
            url=str(request.url), headers={k.lower(): v for k, v in request.headers.items()}, raw_body=raw_body
        )
        webhook.verify(webhook_request)
        events = parse_events(webhook, webhook_request)
        guarded = replay_guarded.get(channel)
        if guarded is not None:
            await guarded.admit(webhook_request)
        await publish(request.app.state.producer, topics.inbound, events, settings.publish_timeout_s)
        INGEST_MESSAGES.labels(channel=channel, outcome="accepted").inc(len(events))
        WEBHOOK_SECONDS.labels(channel=channel).observe(time.perf_counter() - started)
        return webhook.acknowledge(len(events))

    # A plain Starlette route: the webhook reads its raw body itself, so FastAPI's per-request dependency
    # solving and parameter validation did nothing for it but cost 12% of ingest's CPU (py-spy, under load).
    app.add_route("/webhooks/{channel}", receive, methods=["POST"])
    return app


def parse_events(webhook: ChannelWebhook, request: WebhookRequest) -> list[InboundMessage | DeliveryStatus]:
    """The channel's events, or `PayloadError`: whatever a signed body makes the parsers fail on is the body's
    fault (a field the schema bounds, a number no datetime holds, nesting deeper than the stack)."""
    try:
        return webhook.parse(request, received_at=datetime.now(UTC))
    except ValidationError as error:
        raise PayloadError.invalid(error) from error
    except (ValueError, OverflowError, RecursionError) as error:
        raise PayloadError(f"body cannot be read: {type(error).__name__}") from error


async def _read_limited(request: Request, limit: int, timeout_s: float) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared[:20]} bytes is above the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"body is above the {limit}-byte limit")
                chunks.append(chunk)
    except TimeoutError as error:
        raise BodyTimeout(f"the body did not arrive within {timeout_s:.0f}s ({size} bytes came)") from error
    except ClientDisconnect as error:
        raise BodyIncomplete(f"the client left after {size} bytes of the body") from error
    return b"".join(chunks)
