"""The dispatcher process: the outbound consumer and the retry/lease sweeps, with health and metrics over HTTP."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from dispatcher.channels import build_senders
from dispatcher.consumer import OutboundHandler
from dispatcher.provider_client import make_provider_client
from dispatcher.scheduler import run_sweeps
from dispatcher.settings import DispatcherSettings
from services.consuming import ConsumePolicy, consume, stop_background
from services.dead_lettering import DeadLetters
from services.health import Liveness, health_routes, tasks_running
from services.kafka import Topics, ensure_topics, make_consumer, make_producer, wait_for_kafka
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes
from services.postgres import create_pool

SHUTDOWN_DEADLINE_S = 15.0


def create_app(settings: DispatcherSettings) -> FastAPI:
    """The dispatcher app; its consumer runs for the app's lifespan."""
    topics = Topics(settings.topic_prefix)
    background: list[asyncio.Task[None]] = []
    liveness = Liveness()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await wait_for_kafka(settings.kafka_bootstrap, timeout_s=60)
        await ensure_topics(settings.kafka_bootstrap, topics)
        pool = await create_pool(settings.database_url.get_secret_value(), max_size=settings.database_pool_size)
        producer = make_producer(settings.kafka_bootstrap, client_id="switchboard-dispatcher")
        client = make_provider_client(settings)
        stopping = asyncio.Event()
        handler: OutboundHandler | None = None
        app.state.pool = pool
        try:
            await producer.start()
            background.append(
                liveness.watch(asyncio.create_task(producer.until_broken(stopping), name="kafka-producer"))
            )
            handler = OutboundHandler(settings, pool, client, producer, build_senders(settings))
            background.append(
                liveness.watch(
                    asyncio.create_task(
                        consume(
                            lambda: make_consumer(
                                settings.kafka_bootstrap,
                                group_id=settings.consumer_group,
                                client_id="switchboard-dispatcher",
                            ),
                            topics.outbound,
                            settings.consumer_group,
                            handler.handle_partition,
                            stopping,
                            DeadLetters(producer, topics.outbound_dead_letter),
                            ConsumePolicy.of(settings),
                        ),
                        name="outbound-consumer",
                    )
                )
            )
            background.append(asyncio.create_task(run_sweeps(handler, pool, settings, stopping), name="sweeps"))
            yield
        finally:
            stopping.set()
            await stop_background(background, SHUTDOWN_DEADLINE_S)
            if handler is not None:
                await handler.drain(SHUTDOWN_DEADLINE_S)
            await client.aclose()
            await producer.stop()
            await pool.close()

    app = FastAPI(title="Switchboard dispatcher", telemetry=FASTAPI_TELEMETRY_OFF, lifespan=lifespan)
    app.state.liveness = liveness
    app.include_router(metrics_routes)

    async def database_answers() -> object:
        return await app.state.pool.fetchval("SELECT 1")

    app.include_router(
        health_routes({"postgres": database_answers, "consumer": tasks_running(background)}, liveness=liveness)
    )
    return app
