"""Ingest's HTTP app: one webhook endpoint per channel, answering once Kafka has the events."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from ingest import meta
from ingest.channels import build_channels
from ingest.errors import PayloadTooLarge, UnknownChannel, WebhookError
from ingest.publisher import publish
from ingest.settings import IngestSettings
from ingest.webhook import WebhookRequest
from services.health import health_routes
from services.kafka import Topics, ensure_topics, make_producer, wait_for_kafka
from services.metrics import FASTAPI_TELEMETRY_OFF, INGEST_MESSAGES, WEBHOOK_SECONDS, metrics_routes

META_CHANNELS = ("whatsapp", "messenger", "instagram")


def create_app(settings: IngestSettings) -> FastAPI:
    """The ingest app; its Kafka producer lives for the app's lifespan."""
    topics = Topics(settings.topic_prefix)
    channels = build_channels(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=60)
        await ensure_topics(settings.kafka_bootstrap, topics)
        producer = make_producer(settings.kafka_bootstrap, client_id="switchboard-ingest")
        await producer.start()
        app.state.producer = producer
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(title="Switchboard ingest", telemetry=FASTAPI_TELEMETRY_OFF, lifespan=lifespan)
    app.include_router(metrics_routes)

    async def kafka_answers() -> object:
        return await app.state.producer.client.fetch_all_metadata()

    app.include_router(health_routes({"kafka": kafka_answers}))

    @app.exception_handler(WebhookError)
    async def refuse(request: Request, error: WebhookError) -> JSONResponse:
        channel = request.path_params.get("channel", "unknown")
        INGEST_MESSAGES.labels(channel=channel, outcome=error.code).inc()
        return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status)

    @app.get("/webhooks/{channel}")
    async def subscription_handshake(channel: str, request: Request) -> Response:
        if channel not in META_CHANNELS or channel not in channels:
            raise UnknownChannel(f"{channel} has no subscription handshake")
        challenge = meta.answer_handshake(dict(request.query_params), settings.meta_verify_token.get_secret_value())
        if challenge is None:
            return JSONResponse(
                {"error": "verification_failed", "detail": "hub.mode or hub.verify_token is wrong"},
                status_code=403,
            )
        return PlainTextResponse(challenge)

    @app.post("/webhooks/{channel}")
    async def receive(channel: str, request: Request) -> Response:
        started = time.perf_counter()
        webhook = channels.get(channel)
        if webhook is None:
            raise UnknownChannel(f"no channel named {channel!r}")
        raw_body = await _read_limited(request, settings.max_body_bytes)
        webhook_request = WebhookRequest(
            url=str(request.url), headers={k.lower(): v for k, v in request.headers.items()}, raw_body=raw_body
        )
        webhook.verify(webhook_request)
        events = webhook.parse(webhook_request, received_at=datetime.now(UTC))
        await publish(request.app.state.producer, topics.inbound, events, settings.publish_timeout_s)
        INGEST_MESSAGES.labels(channel=channel, outcome="accepted").inc(len(events))
        WEBHOOK_SECONDS.labels(channel=channel).observe(time.perf_counter() - started)
        return webhook.acknowledge(len(events))

    return app


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes is above the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body is above the {limit}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
