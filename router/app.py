"""The router process: the agent/admin API, with the inbound consumer and the queue sweep beside it."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from router.api import RouterState, routes
from router.assigner import Assigner
from router.automation import Automation
from router.automation_api import routes as automation_routes
from router.consumer import InboundHandler
from router.contacts_api import routes as contact_routes
from router.errors import ApiError
from router.handover_api import routes as handover_routes
from router.live import LiveEvents, follow_assignments, make_follower
from router.outbox import OutboxRelay
from router.quick_replies_api import routes as quick_reply_routes
from router.settings import RouterSettings
from router.store.accounts import ensure_account
from services.consuming import consume, stop_background
from services.health import health_routes, tasks_running
from services.kafka import Topics, ensure_topics, make_consumer, make_producer, wait_for_kafka
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes
from services.postgres import Pool, create_pool, migrate

SHUTDOWN_DEADLINE_S = 10.0


def create_app(settings: RouterSettings) -> FastAPI:
    """The router app; its clients and background tasks live for the app's lifespan."""
    topics = Topics(settings.topic_prefix)
    dsn = settings.database_url.get_secret_value()
    background: list[asyncio.Task[None]] = []

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
            assigner = Assigner(pool, producer, topics, settings.routing_policy)
            live = LiveEvents()
            # Every process, either role, runs a relay; one at a time publishes (router/outbox.py).
            background.append(asyncio.create_task(OutboxRelay(dsn, producer).run_until(stopping), name="outbox-relay"))
            app.state.router = RouterState(
                pool, producer, assigner, topics, settings.admin_token.get_secret_value(), live
            )
            if settings.serves_api:
                follower = make_follower(settings.kafka_bootstrap, client_id="switchboard-router-live")
                background.append(
                    asyncio.create_task(
                        follow_assignments(follower, topics.assignments, live, stopping), name="live-events"
                    )
                )
            if settings.consumes:
                automation = Automation(pool, topics, settings.orders_api_base, settings.order_lookup_timeout_s)
                closing.append(automation.close)
                await automation.refresh()
                background.append(
                    asyncio.create_task(
                        automation.refresh_until(stopping, settings.automation_refresh_s), name="automation-settings"
                    )
                )
                handler = InboundHandler(pool, assigner, settings.accounts, settings.languages, automation)
                consumer = make_consumer(
                    settings.kafka_bootstrap, group_id=settings.consumer_group, client_id="switchboard-router"
                )
                background.extend(
                    [
                        asyncio.create_task(
                            consume(
                                consumer, topics.inbound, settings.consumer_group, handler.handle_partition, stopping
                            ),
                            name="inbound-consumer",
                        ),
                        asyncio.create_task(
                            assigner.sweep_until(stopping, settings.queue_sweep_interval_s, settings.presence_policy),
                            name="queue-sweep",
                        ),
                    ]
                )
            yield
        finally:
            stopping.set()
            await stop_background(background, SHUTDOWN_DEADLINE_S)
            for close in closing:
                await close()
            await producer.stop()
            await pool.close()

    app = FastAPI(title="Switchboard router", telemetry=FASTAPI_TELEMETRY_OFF, lifespan=lifespan)
    if settings.serves_api:
        app.include_router(routes)
        app.include_router(contact_routes)
        app.include_router(quick_reply_routes)
        app.include_router(handover_routes)
        app.include_router(automation_routes)
    app.include_router(metrics_routes)

    async def database_answers() -> object:
        state: RouterState = app.state.router
        return await state.pool.fetchval("SELECT 1")

    async def kafka_answers() -> object:
        state: RouterState = app.state.router
        return await state.producer.client.fetch_all_metadata()

    app.include_router(
        health_routes({"postgres": database_answers, "kafka": kafka_answers, "background": tasks_running(background)})
    )

    @app.exception_handler(ApiError)
    async def refuse(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse({"error": error.code, "detail": error.detail}, status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        # jsonable_encoder: a model validator's error carries the ValueError itself, which JSON cannot hold.
        return JSONResponse({"error": "invalid_request", "detail": jsonable_encoder(error.errors())}, status_code=422)

    return app


async def _record_configured_accounts(pool: Pool, settings: RouterSettings) -> None:
    async with pool.acquire() as conn:
        for account in settings.accounts:
            await ensure_account(conn, account)
