"""The integration test session: real PostgreSQL and Kafka (started here when not running), a database
and topic prefix of its own, and Switchboard's four processes as subprocesses on free ports."""

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from loadtests.ports import free_port
from services.kafka import Topics
from services.postgres import migrate, register_codecs
from tests.integration.client import Switchboard
from tests.integration.services import ServiceProcess, run_script

ADMIN_TOKEN = "test-admin-token"
APP_SECRET = "test-meta-app-secret"
VERIFY_TOKEN = "test-meta-verify-token"
PHONE_NUMBER_ID = "106540352242922"
SECOND_PHONE_NUMBER_ID = "106540352242923"
TWILIO_AUTH_TOKEN = "test-twilio-auth-token"
LINE_CHANNEL_SECRET = "test-line-channel-secret"
TELEGRAM_SECRET_TOKEN = "test-telegram-secret-token"
MAILGUN_SIGNING_KEY = "test-mailgun-signing-key"
WEBCHAT_SIGNING_KEY = "test-webchat-signing-key"
# One account per channel (two on WhatsApp), with the provider's kind of id for each.
ACCOUNTS = [
    {
        "channel": "whatsapp",
        "external_id": PHONE_NUMBER_ID,
        "name": "Test WhatsApp",
        "access_token": "test-whatsapp-token",
    },
    {
        "channel": "whatsapp",
        "external_id": SECOND_PHONE_NUMBER_ID,
        "name": "Test WhatsApp (sales)",
        "access_token": "test-whatsapp-sales-token",
        "skill": "sales",  # conversations on this number go to agents with the sales skill
    },
    {"channel": "messenger", "external_id": "108888888888881", "name": "Test Page", "access_token": "test-page-token"},
    {
        "channel": "instagram",
        "external_id": "17841400000000001",
        "name": "Test Instagram",
        "access_token": "test-instagram-token",
    },
    {
        "channel": "twilio",
        "external_id": "+15550100001",
        "name": "Test SMS number",
        "api_user": "AC00000000000000000000000000000001",
        "access_token": TWILIO_AUTH_TOKEN,
    },
    {
        "channel": "line",
        "external_id": "U0000000000000000000000000000test",
        "name": "Test LINE bot",
        "access_token": "test-line-channel-access-token",
    },
    {
        "channel": "telegram",
        "external_id": "7000000001",
        "name": "Test Telegram bot",
        "access_token": "7000000001:test-telegram-bot-token",
    },
    {"channel": "mailgun", "external_id": "support@switchboard.test", "name": "Test support mailbox"},
    {"channel": "webchat", "external_id": "site-test", "name": "Test site chat"},
]
KAFKA = os.environ.get("SWITCHBOARD_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
SERVER_DSN = "postgresql://switchboard:switchboard@127.0.0.1:5432/switchboard"


@dataclass
class Stack:
    ingest: ServiceProcess
    router: ServiceProcess
    dispatcher: ServiceProcess
    sandbox: ServiceProcess
    dsn: str
    topics: Topics
    env: dict[str, str]


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[None]:
    """PostgreSQL and Kafka, started for the session unless already running; stopped only if started here."""
    started = []
    for script in ("postgres.sh", "kafka.sh"):
        if run_script(script, "status") != 0:
            assert run_script(script, "start") == 0, f"{script} start failed"
            started.append(script)
    yield
    for script in reversed(started):
        run_script(script, "stop")


@pytest.fixture(scope="session")
def stack(infrastructure: None) -> Iterator[Stack]:
    suffix = secrets.token_hex(4)
    database = f"switchboard_test_{suffix}"
    dsn = SERVER_DSN.rsplit("/", 1)[0] + f"/{database}"
    topics = Topics(f"test-{suffix}")
    _run_sql(SERVER_DSN, f'CREATE DATABASE "{database}"')
    # The bot would answer most test customers ("Where is my order?") before an agent saw them: the
    # session starts with automation switched off, and the automation tests switch it on.
    migrate(dsn)
    _run_sql(dsn, "INSERT INTO automation_switches (scope, enabled) VALUES ('global', false)")
    sandbox_port = free_port()
    ingest_port = free_port()
    smtp_port = free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")},
        "SWITCHBOARD_ENV": "development",  # the sandbox and the development secrets (CONTRACT.md)
        "SWITCHBOARD_KAFKA_BOOTSTRAP": KAFKA,
        "SWITCHBOARD_DATABASE_URL": dsn,
        "SWITCHBOARD_TOPIC_PREFIX": topics.prefix,
        "SWITCHBOARD_ADMIN_TOKEN": ADMIN_TOKEN,
        "SWITCHBOARD_META_APP_SECRET": APP_SECRET,
        "SWITCHBOARD_META_VERIFY_TOKEN": VERIFY_TOKEN,
        "SWITCHBOARD_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
        "SWITCHBOARD_LINE_CHANNEL_SECRET": LINE_CHANNEL_SECRET,
        "SWITCHBOARD_TELEGRAM_SECRET_TOKEN": TELEGRAM_SECRET_TOKEN,
        "SWITCHBOARD_MAILGUN_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "SWITCHBOARD_WEBCHAT_SIGNING_KEY": WEBCHAT_SIGNING_KEY,
        "SWITCHBOARD_WHATSAPP_API_BASE": f"{sandbox_url}/v21.0",
        "SWITCHBOARD_MESSENGER_API_BASE": f"{sandbox_url}/v21.0",
        "SWITCHBOARD_INSTAGRAM_API_BASE": f"{sandbox_url}/v21.0",
        "SWITCHBOARD_TWILIO_API_BASE": sandbox_url,
        "SWITCHBOARD_LINE_API_BASE": sandbox_url,
        "SWITCHBOARD_TELEGRAM_API_BASE": sandbox_url,
        "SWITCHBOARD_WEBCHAT_API_BASE": f"{sandbox_url}/webchat",
        "SWITCHBOARD_ORDERS_API_BASE": f"{sandbox_url}/commerce",
        "SWITCHBOARD_SMTP_HOST": "127.0.0.1",
        "SWITCHBOARD_SMTP_PORT": str(smtp_port),
        "SWITCHBOARD_ACCOUNTS": orjson.dumps(ACCOUNTS).decode(),
        # Fast retries keep the failure tests short; the policy itself is what is under test.
        "SWITCHBOARD_RETRY_INITIAL_S": "0.05",
        # Widening to any agent after 2 s instead of 30 keeps the routing tests short.
        "SWITCHBOARD_ROUTING_WIDEN_AFTER_S": "2",
        "SWITCHBOARD_RETRY_MAX_S": "0.2",
        "SWITCHBOARD_MAX_ATTEMPTS": "4",
    }
    processes = [
        ServiceProcess(
            "sandbox",
            sandbox_port,
            {
                **env,
                "SWITCHBOARD_SANDBOX_PORT": str(sandbox_port),
                "SWITCHBOARD_SANDBOX_SMTP_PORT": str(smtp_port),
                "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{ingest_port}",
            },
        ),
        ServiceProcess("router", port := free_port(), {**env, "SWITCHBOARD_PORT": str(port)}, name="router-1"),
        ServiceProcess("ingest", ingest_port, {**env, "SWITCHBOARD_PORT": str(ingest_port)}),
        ServiceProcess("dispatcher", port := free_port(), {**env, "SWITCHBOARD_PORT": str(port)}),
    ]
    try:
        for process in processes:
            process.start()
            process.wait_ready()
        sandbox, router, ingest, dispatcher = processes
        yield Stack(ingest, router, dispatcher, sandbox, dsn, topics, env)
    finally:
        for process in reversed(processes):
            process.stop()
        _run_sql(SERVER_DSN, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _delete_topics(topics)


def _run_sql(dsn: str, statement: str) -> None:
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def _delete_topics(topics: Topics) -> None:
    import asyncio

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            await admin.delete_topics(list(topics.partitions()))
        finally:
            await admin.close()

    asyncio.run(run())


@pytest_asyncio.fixture
async def db(stack: Stack) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the session's database, emptied of everything but accounts before each test."""
    conn = await asyncpg.connect(stack.dsn)
    await register_codecs(conn)
    # A router still finishing the last test's work may hold a row the TRUNCATE's lock waits for, while it
    # waits for a table the TRUNCATE holds: PostgreSQL aborts one of the two, so the reset is tried again.
    for attempt in range(5):
        try:
            await conn.execute(
                "TRUNCATE agents, contacts, contact_identities, conversations, messages, delivery_receipts CASCADE"
            )
            break
        except asyncpg.DeadlockDetectedError:
            if attempt == 4:
                raise
    # Admin settings a test stored (the hostile suite accepts some) must not change the next test's routing:
    # one stored intent rule replaces the shipped ones, a schedule sends away messages. DELETE, not TRUNCATE:
    # it takes no table lock a router's transaction could deadlock with.
    await conn.execute(
        """DELETE FROM intent_rules;
           DELETE FROM account_schedules;
           DELETE FROM automation_switches WHERE scope <> 'global';
           UPDATE automation_switches SET enabled = false WHERE scope = 'global'"""
    )
    try:
        yield conn
    finally:
        await conn.close()


@pytest_asyncio.fixture
async def switchboard(stack: Stack, db: asyncpg.Connection) -> AsyncIterator[Switchboard]:
    async with httpx.AsyncClient(timeout=10) as http:
        client = Switchboard(
            http, stack.ingest.url, stack.router.url, stack.sandbox.url, ADMIN_TOKEN, APP_SECRET, PHONE_NUMBER_ID
        )
        await client.reset_sandbox()
        yield client


@pytest.fixture
def second_router(stack: Stack) -> Iterator[ServiceProcess]:
    """Another router process (both roles) sharing the session's stack: the partitions split between them."""
    port = free_port()
    router = ServiceProcess("router", port, {**stack.env, "SWITCHBOARD_PORT": str(port)}, name="router-2")
    router.start()
    try:
        router.wait_ready()
        yield router
    finally:
        router.stop()


class CountingPool:
    """A real pool that counts the connections taken from it: one per statement batch (the dispatcher's
    per-turn statements, dispatcher/per_turn.py)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.acquired = 0

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[Any]:
        self.acquired += 1
        async with self.pool.acquire() as conn:
            yield conn


@pytest_asyncio.fixture
async def counting_pool(stack: Stack) -> AsyncIterator[CountingPool]:
    real = await asyncpg.create_pool(stack.dsn, min_size=1, max_size=2)
    try:
        yield CountingPool(real)
    finally:
        await real.close()
