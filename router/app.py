"""The router process: the agent/admin API, with the inbound consumer and the queue sweep beside it."""

import asyncio
import functools
import logging
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import asyncpg
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from router.api import RouterState, routes
from router.assigner import Assigner
from router.automation import Automation
from router.automation_api import routes as automation_routes
from router.consumer import InboundHandler
from router.contacts_api import routes as contact_routes
from router.dead_letter_keeper import DeadLetterKeeper
from router.dead_letters_api import routes as dead_letter_routes
from router.errors import OUTAGES, RETRY_AFTER_S, ApiError, DatabaseUnavailable, Unavailable, outage_of
from router.handover_api import routes as handover_routes
from router.live import LiveEvents, follow_assignments, make_follower
from router.outbox import OutboxBell, OutboxRelay
from router.quick_replies_api import routes as quick_reply_routes
from router.request_limits import RequestLimits
from router.settings import RouterSettings
from router.store.accounts import ensure_account
from services.consuming import ConsumePolicy, consume, stop_background
from services.dead_lettering import DeadLetters
from services.health import Liveness, health_routes, tasks_running
from services.kafka import Topics, ensure_topics, make_consumer, make_producer, wait_for_kafka
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes
from services.postgres import Pool, create_pool, migrate

SHUTDOWN_DEADLINE_S = 10.0
log = logging.getLogger(__name__)


def create_app(settings: RouterSettings) -> FastAPI:
    """The router app; its clients and background tasks live for the app's lifespan."""
    topics = Topics(settings.topic_prefix)
    dsn = settings.database_url.get_secret_value()
    background: list[asyncio.Task[None]] = []
    liveness = Liveness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(migrate, dsn)
        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=60)
        await ensure_topics(settings.kafka_bootstrap, topics)
        pool = await create_pool(dsn, max_size=settings.database_pool_size)
        producer = make_producer(settings.kafka_bootstrap, client_id="switchboard-router")
        stopping = asyncio.Event()
        closing: list[Callable[[], Awaitable[None]]] = []
        try:
            await _record_configured_accounts(pool, settings)
            await producer.start()
            background.append(asyncio.create_task(producer.until_broken(stopping), name="kafka-producer"))
            assigner = Assigner(pool, producer, topics, settings.routing_policy)
            live = LiveEvents()
            # Every process, either role, runs a relay; one at a time publishes (router/outbox.py).
            relay = OutboxRelay(dsn, producer)
            background.append(asyncio.create_task(relay.run_until(stopping), name="outbox-relay"))
            bell = OutboxBell(pool, relay)
            app.state.router = RouterState(
                pool,
                producer,
                assigner,
                topics,
                settings.admin_token.get_secret_value(),
                live,
                bell,
                token_cache_ttl_s=settings.token_cache_ttl_s,
            )
            if settings.serves_api:
                follower = make_follower(settings.kafka_bootstrap, client_id="switchboard-router-live")
                background.append(
                    asyncio.create_task(
                        follow_assignments(follower, topics.assignments, live, stopping), name="live-events"
                    )
                )
            if settings.consumes:
                automation = Automation(pool, topics, bell, settings.orders_api_base, settings.order_lookup_timeout_s)
                closing.append(automation.close)
                await automation.refresh()
                background.append(
                    asyncio.create_task(
                        automation.refresh_until(stopping, settings.automation_refresh_s), name="automation-settings"
                    )
                )
                handler = InboundHandler(pool, assigner, settings.accounts, settings.languages, automation)
                background.extend(
                    [
                        asyncio.create_task(
                            consume(
                                lambda: make_consumer(
                                    settings.kafka_bootstrap,
                                    group_id=settings.consumer_group,
                                    client_id="switchboard-router",
                                ),
                                topics.inbound,
                                settings.consumer_group,
                                handler.handle_partition,
                                stopping,
                                DeadLetters(producer, topics.inbound_dead_letter),
                                ConsumePolicy.of(settings),
                            ),
                            name="inbound-consumer",
                        ),
                        asyncio.create_task(
                            assigner.sweep_until(
                                stopping,
                                settings.queue_sweep_interval_s,
                                settings.presence_policy,
                                timedelta(seconds=settings.bot_unanswered_after_s),
                            ),
                            name="queue-sweep",
                        ),
                    ]
                )
                keeper = DeadLetterKeeper(pool, topics)
                for dead_letter_topic in (topics.inbound_dead_letter, topics.outbound_dead_letter):
                    group = f"{settings.consumer_group}-keeper-{dead_letter_topic}"  # one group per topic
                    background.append(
                        asyncio.create_task(
                            consume(
                                functools.partial(
                                    make_consumer,
                                    settings.kafka_bootstrap,
                                    group_id=group,
                                    client_id="switchboard-dead-letters",
                                    fetch_max_wait_ms=1_000,
                                    fetch_min_bytes=1,
                                ),
                                dead_letter_topic,
                                group,
                                keeper.handle_partition,
                                stopping,
                                # The keeper stores whatever it reads (router/dead_letter_keeper.py), so nothing
                                # it reads is sent back here; were it, it would be kept on its next read.
                                DeadLetters(producer, dead_letter_topic),
                                ConsumePolicy.of(settings),
                            ),
                            name=f"dead-letter-keeper {dead_letter_topic}",
                        )
                    )
            for task in background:
                liveness.watch(task)
            yield
        finally:
            stopping.set()
            await stop_background(background, SHUTDOWN_DEADLINE_S)
            for close in closing:
                await close()
            await producer.stop()
            await pool.close()

    app = FastAPI(title="Switchboard router", telemetry=FASTAPI_TELEMETRY_OFF, lifespan=lifespan)
    app.state.liveness = liveness
    if settings.serves_api:
        app.include_router(routes)
        app.include_router(contact_routes)
        app.include_router(quick_reply_routes)
        app.include_router(handover_routes)
        app.include_router(automation_routes)
        app.include_router(dead_letter_routes)
    app.include_router(metrics_routes)

    async def database_answers() -> object:
        state: RouterState = app.state.router
        return await state.pool.fetchval("SELECT 1")

    async def kafka_answers() -> object:
        state: RouterState = app.state.router
        return await state.producer.client.fetch_all_metadata()

    app.include_router(
        health_routes(
            {"postgres": database_answers, "kafka": kafka_answers, "background": tasks_running(background)},
            liveness=liveness,
        )
    )

    _answer_errors_as_json(app, settings)
    return app


def _answer_errors_as_json(app: FastAPI, settings: RouterSettings) -> None:
    """Every refusal is JSON `{"error", "detail"}` with its status; our own outage is a 503, never a 500."""
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)

    @app.exception_handler(ApiError)
    async def refuse(_: Request, error: ApiError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # jsonable_encoder: a model validator's error carries the ValueError itself, which JSON cannot hold.
        detail = jsonable_encoder(
            error.errors(), custom_encoder={bytes: _printable, str: _printable, float: _finite_or_text}
        )
        return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(error.status_code, "bad_request")
        return JSONResponse(
            {"error": code, "detail": error.detail}, status_code=error.status_code, headers=error.headers
        )

    async def unstorable(_: Request, error: Exception) -> JSONResponse:
        # A value PostgreSQL refused (out of range, untranslatable) or UTF-8 cannot encode: the input's fault.
        # The models refuse these first; this is the net under a field they missed.
        detail = _printable(str(error.args[0]) if error.args else type(error).__name__)
        return JSONResponse({"error": "invalid_request", "detail": detail}, status_code=422)

    app.add_exception_handler(asyncpg.DataError, unstorable)
    app.add_exception_handler(UnicodeError, unstorable)

    async def outage(request: Request, error: Exception) -> JSONResponse:
        unavailable = outage_of(error)
        if unavailable is None:
            log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
            return JSONResponse({"error": "internal_error", "detail": "see the router's log"}, status_code=500)
        log.warning("%s %s: %s (%r)", request.method, request.url.path, unavailable.code, error)
        if isinstance(unavailable, DatabaseUnavailable):
            # Connections that saw PostgreSQL go away are replaced on their next acquire, not reused.
            state: RouterState | None = getattr(request.app.state, "router", None)
            if state is not None:
                await state.pool.expire_connections()
        return _error_response(unavailable)

    for kind in (*OUTAGES, Exception):
        app.add_exception_handler(kind, outage)


_HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "body_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _error_response(error: ApiError) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_S)} if isinstance(error, Unavailable) else None
    return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status, headers=headers)


def _printable(value: str | bytes) -> str:
    """Echoed input made safe for JSON: lone surrogates and undecodable bytes escaped, not raised on."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return value.encode("utf-8", "backslashreplace").decode("utf-8")


def _finite_or_text(value: float) -> float | str:
    """An echoed NaN or infinity (which JSON cannot hold) as its name."""
    return value if math.isfinite(value) else str(value)


async def _record_configured_accounts(pool: Pool, settings: RouterSettings) -> None:
    async with pool.acquire() as conn:
        for account in settings.accounts:
            await ensure_account(conn, account)
