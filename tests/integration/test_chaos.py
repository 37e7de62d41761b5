"""A short subset of `make chaos` (loadtests/chaos.py) in the test suite: a small bounded load, a fault
mid-run, recovery and settling, then the same zeros `make chaos` demands.

The scenarios run on a stack of their own (database, topics and the four processes), so a killed process
or a poison record cannot disturb the other tests; PostgreSQL and Kafka themselves are shared and are
never stopped here.
"""

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from loadtests.chaos import ChaosConfig, Scenario, run_scenario
from loadtests.faults import FaultError, PoisonRecords, ProviderFault, ServiceKill
from loadtests.ports import free_port
from loadtests.run import LoadConfig
from sandbox.webhooks.compose import Secrets
from services.kafka import Topics
from services.postgres import migrate
from tests.integration.conftest import ADMIN_TOKEN, SERVER_DSN, Stack
from tests.integration.services import ServiceProcess

pytestmark = pytest.mark.integration


@dataclass
class SessionControls:
    """The chaos harness's controls over a test stack: its processes are killed and started by their PIDs."""

    processes: dict[str, ServiceProcess]
    sandbox: str
    kafka_bootstrap: str
    topics: Topics
    killed: set[str] = field(default_factory=set)

    async def kill(self, service: str) -> None:
        process = self.processes[service].process
        assert process is not None
        process.kill()  # SIGKILL
        await asyncio.to_thread(process.wait, 10)
        self.killed.add(service)

    async def wait_restarted(self, service: str) -> None:
        # What a supervisor does: start the same command again and wait until it is ready.
        self.processes[service].start()
        await asyncio.to_thread(self.processes[service].wait_ready)

    async def signal_broker(self, signum: int) -> None:
        raise FaultError("the shared broker is never signalled in tests")

    async def start_broker(self) -> None:
        raise FaultError("the shared broker is never restarted in tests")

    async def stop_postgres(self, mode: str) -> None:
        raise FaultError("the shared PostgreSQL is never stopped in tests")

    async def start_postgres(self) -> None:
        raise FaultError("the shared PostgreSQL is never restarted in tests")

    async def start_consumer(self) -> None:
        raise FaultError("not part of the test subset")

    async def stop_consumer(self) -> None:
        raise FaultError("not part of the test subset")

    def consumer_urls(self) -> list[str]:
        return []


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def chaos_stack(stack: Stack) -> AsyncIterator[tuple[SessionControls, str]]:
    """A stack of its own beside the session's: same settings, its own database, topics and processes."""
    suffix = secrets.token_hex(4)
    database = f"switchboard_chaos_{suffix}"
    dsn = SERVER_DSN.rsplit("/", 1)[0] + f"/{database}"
    topics = Topics(f"test-chaos-{suffix}")
    server = await asyncpg.connect(SERVER_DSN)
    try:
        await server.execute(f'CREATE DATABASE "{database}"')
    finally:
        await server.close()
    await asyncio.to_thread(migrate, dsn)
    sandbox_port, ingest_port, smtp_port = free_port(), free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **stack.env,
        "SWITCHBOARD_DATABASE_URL": dsn,
        "SWITCHBOARD_TOPIC_PREFIX": topics.prefix,
        "SWITCHBOARD_SMTP_PORT": str(smtp_port),
        **{k: v.replace(stack.sandbox.url, sandbox_url) for k, v in stack.env.items() if k.endswith("_API_BASE")},
    }
    processes = {
        "sandbox": ServiceProcess(
            "sandbox",
            sandbox_port,
            {
                **env,
                "SWITCHBOARD_SANDBOX_PORT": str(sandbox_port),
                "SWITCHBOARD_SANDBOX_SMTP_PORT": str(smtp_port),
                "SWITCHBOARD_SANDBOX_INGEST_URL": f"http://127.0.0.1:{ingest_port}",
            },
            name="chaos-sandbox",
        ),
        "router": ServiceProcess("router", port := free_port(), {**env, "SWITCHBOARD_PORT": str(port)}, "chaos-router"),
        "ingest": ServiceProcess("ingest", ingest_port, {**env, "SWITCHBOARD_PORT": str(ingest_port)}, "chaos-ingest"),
        "dispatcher": ServiceProcess(
            "dispatcher", port := free_port(), {**env, "SWITCHBOARD_PORT": str(port)}, "chaos-dispatcher"
        ),
    }
    controls = SessionControls(processes, sandbox_url, env["SWITCHBOARD_KAFKA_BOOTSTRAP"], topics)
    try:
        for process in processes.values():
            process.start()
            await asyncio.to_thread(process.wait_ready)
        yield controls, dsn
    finally:
        for process in reversed(processes.values()):
            await asyncio.to_thread(process.stop)
        server = await asyncpg.connect(SERVER_DSN)
        try:
            await server.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        finally:
            await server.close()
        admin = AIOKafkaAdminClient(bootstrap_servers=env["SWITCHBOARD_KAFKA_BOOTSTRAP"])
        await admin.start()
        try:
            await admin.delete_topics(list(topics.partitions()))
        finally:
            await admin.close()


def _config(controls: SessionControls, dsn: str, env: dict[str, str], report_dir: Path) -> ChaosConfig:
    processes = controls.processes
    load = LoadConfig(
        rate=15,
        duration=10,
        shape="constant",
        agents=3,
        agent_think=0.2,
        ingest=processes["ingest"].url,
        router=processes["router"].url,
        dispatcher=processes["dispatcher"].url,
        sandbox=controls.sandbox,
        database_url=dsn,
        admin_token=ADMIN_TOKEN,
        secrets=Secrets.from_env(env),
        accounts_json=env["SWITCHBOARD_ACCOUNTS"],
        report_dir=report_dir,
        router_metrics=(processes["router"].url,),
        drain_timeout=30,
    )
    return ChaosConfig(
        load=load,
        ready_urls=tuple(p.url for p in processes.values()),
        consumer_urls=(processes["router"].url, processes["dispatcher"].url),
        warmup_s=3,
        after_s=5,
        recovery_timeout_s=45,
        lag_drained_at=5,
    )


SUBSET = [
    Scenario("kill-router", ServiceKill("kill -9 router (API and consumer)", service="router")),
    Scenario("kill-dispatcher", ServiceKill("kill -9 dispatcher", service="dispatcher")),
    Scenario("provider-503", ProviderFault("provider 503 storm (20 sends)", 3.0, status=503, count=20)),
    # Last: on a stack that cannot skip a poison record, everything after it on its partition waits.
    Scenario("poison", PoisonRecords("NUL text and non-records on every inbound/outbound partition")),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("scenario", SUBSET, ids=[s.name for s in SUBSET])
async def test_a_fault_under_load_loses_nothing_sends_nothing_twice_and_leaves_nothing_stuck(
    chaos_stack: tuple[SessionControls, str], stack: Stack, scenario: Scenario, tmp_path: Path
) -> None:
    controls, dsn = chaos_stack
    config = _config(controls, dsn, stack.env, tmp_path)
    try:
        outcome, report = await run_scenario(scenario, config, controls)
    finally:
        for process in controls.processes.values():  # whatever happened, the next scenario has a stack
            if process.process is None or process.process.poll() is not None:
                process.start()
                await asyncio.to_thread(process.wait_ready)

    assert outcome.accepted >= 60, f"the run must have sent real traffic: {outcome}"
    assert report is not None
    assert report.cap_samples > 0, "the caps were sampled during the run"
    assert (outcome.lost, outcome.stored_twice, outcome.sent_twice) == (0, 0, 0), outcome
    assert (outcome.stuck_replies, outcome.stuck_in_bot, outcome.cap_violations) == (0, 0, 0), outcome
    assert outcome.unexpected_5xx == {}, outcome
    assert outcome.consumers_alive, outcome.consumers
    assert outcome.recovery_s is not None, "every process ready and the lag drained after the fault"
    assert outcome.failures == [], outcome.failures
    if isinstance(scenario.fault, ServiceKill):
        assert scenario.fault.service in controls.killed, "the process was really killed"
