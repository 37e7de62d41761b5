"""The faults `make chaos` injects under load, each a small object: prepare, inject, hold, end, clean up.

    Fault
    ├── ServiceKill        kill -9 of one service process; ends when its supervisor has restarted it
    ├── BrokerKill         kill -9 of the Kafka broker, started again after `down_s`
    ├── BrokerPause        SIGSTOP of the broker for `length_s`, then SIGCONT
    ├── PostgresOutage     PostgreSQL stopped (`fast` or `immediate`), started again after `length_s`
    ├── ProviderFault      the sandbox scripted to fail sends (429 or 503 storms, a provider down)
    ├── ProviderLatency    the sandbox slower than the dispatcher's send timeout
    ├── PoisonRecords      records no consumer can process, produced straight to the topics
    ├── ConsumerJoin       one more router consumer joins the group
    └── ConsumerLeave      a router consumer that joined before the load leaves it

A fault acts on the stack through `Controls` (loadtests/local_stack.py for `make run`'s stack; the
integration test brings its own for the test session's processes). `FaultError` is raised when a fault
cannot be played or the stack does not come back from it within its bound.
"""

import signal
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import httpx
import orjson
from aiokafka import AIOKafkaProducer

from loadtests.reconnecting import send
from schemas.inbound import InboundMessage
from schemas.wire import encode
from services.kafka import Topics

NOT_A_RECORD = b"\x00\xff{not a record"


class FaultError(Exception):
    """A fault could not be injected, or the stack did not come back from it in time."""


class Controls(Protocol):
    """What the faults need of a running stack."""

    @property
    def sandbox(self) -> str:
        """The provider sandbox's base URL."""

    @property
    def kafka_bootstrap(self) -> str:
        """The broker's bootstrap address."""

    @property
    def topics(self) -> Topics:
        """The stack's topic names."""

    async def kill(self, service: str) -> None:
        """kill -9 of the service's process."""

    async def wait_restarted(self, service: str) -> None:
        """Return once the service runs again (a new process, ready); FaultError after the bound."""

    async def signal_broker(self, signum: int) -> None:
        """Send `signum` to the Kafka broker's process."""

    async def start_broker(self) -> None:
        """Start the broker again (deploy/local/kafka.sh start)."""

    async def stop_postgres(self, mode: str) -> None:
        """Stop PostgreSQL with pg_ctl's shutdown `mode` (fast, immediate)."""

    async def start_postgres(self) -> None:
        """Start PostgreSQL again."""

    async def start_consumer(self) -> None:
        """Start one more router consumer process and wait until it is ready."""

    async def stop_consumer(self) -> None:
        """Stop (SIGTERM, by its PID) the last router consumer `start_consumer` started."""


@dataclass
class Fault:
    """A fault held for `length_s` between `inject` and `end`; `prepare` runs before the load."""

    name: str
    length_s: float = 0.0

    async def prepare(self, stack: Controls) -> None:
        """Set up what the fault needs before the load starts."""

    async def inject(self, stack: Controls) -> None:
        """Start the fault."""

    async def end(self, stack: Controls) -> None:
        """Stop the fault (or wait until the stack has undone it)."""

    async def clean_up(self, stack: Controls) -> None:
        """Undo what `prepare` set up, after the measurement."""


@dataclass
class ServiceKill(Fault):
    """kill -9 of `service` mid-work; ends when it has been restarted as a supervisor would."""

    service: str = ""

    async def inject(self, stack: Controls) -> None:
        await stack.kill(self.service)

    async def end(self, stack: Controls) -> None:
        await stack.wait_restarted(self.service)


@dataclass
class BrokerKill(Fault):
    """kill -9 of the broker; started again `length_s` later."""

    async def inject(self, stack: Controls) -> None:
        await stack.signal_broker(signal.SIGKILL)

    async def end(self, stack: Controls) -> None:
        await stack.start_broker()


@dataclass
class BrokerPause(Fault):
    """The broker frozen (SIGSTOP): connections stay open and nothing answers, the worst kind of outage."""

    async def inject(self, stack: Controls) -> None:
        await stack.signal_broker(signal.SIGSTOP)

    async def end(self, stack: Controls) -> None:
        await stack.signal_broker(signal.SIGCONT)

    async def clean_up(self, stack: Controls) -> None:
        await stack.signal_broker(signal.SIGCONT)  # whatever happened in between


@dataclass
class PostgresOutage(Fault):
    """PostgreSQL stopped with `mode` and started `length_s` later (0: a restart)."""

    mode: str = "fast"

    async def inject(self, stack: Controls) -> None:
        await stack.stop_postgres(self.mode)

    async def end(self, stack: Controls) -> None:
        await stack.start_postgres()


@dataclass
class ProviderFault(Fault):
    """Every provider send answered `status` (up to `count` of them) until the fault ends."""

    status: int = 503
    count: int = 1_000_000
    retry_after_s: int | None = None

    async def inject(self, stack: Controls) -> None:
        script: dict[str, int] = {"status": self.status, "count": self.count}
        async with httpx.AsyncClient(timeout=10) as http:
            if self.retry_after_s is not None:
                with_hint = {**script, "retry_after": self.retry_after_s}
                answer = await send(http, "POST", f"{stack.sandbox}/sandbox/faults", json=with_hint)
                if answer.status_code == 204:
                    return
                # A sandbox without Retry-After scripting (422): the storm still runs, without the hint.
            answer = await send(http, "POST", f"{stack.sandbox}/sandbox/faults", json=script)
            if answer.status_code != 204:
                raise FaultError(f"the sandbox refused the fault script: {answer.status_code} {answer.text}")

    async def end(self, stack: Controls) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await send(http, "DELETE", f"{stack.sandbox}/sandbox/faults")

    async def clean_up(self, stack: Controls) -> None:
        await self.end(stack)


@dataclass
class ProviderLatency(Fault):
    """Every provider answer delayed by `delay_ms`, above the dispatcher's send timeout."""

    delay_ms: int = 12_000

    async def inject(self, stack: Controls) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await send(http, "PUT", f"{stack.sandbox}/sandbox/latency", json={"delay_ms": self.delay_ms})

    async def end(self, stack: Controls) -> None:
        async with httpx.AsyncClient(timeout=10) as http:
            await send(http, "PUT", f"{stack.sandbox}/sandbox/latency", json={"delay_ms": 0})

    async def clean_up(self, stack: Controls) -> None:
        await self.end(stack)


@dataclass
class PoisonRecords(Fault):
    """On every partition: an inbound message whose text holds a NUL (PostgreSQL cannot store it) and bytes
    that are not a record on the inbound topic, and bytes that are not a record on the outbound topic."""

    async def inject(self, stack: Controls) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            for topic, records in (
                (stack.topics.inbound, (poison_message(), NOT_A_RECORD)),
                (stack.topics.outbound, (NOT_A_RECORD, orjson.dumps({"type": "outbound_message", "text": "\0"}))),
            ):
                for partition in sorted(await producer.partitions_for(topic)):
                    for value in records:
                        await producer.send_and_wait(topic, value, key=b"chaos-poison", partition=partition)
        finally:
            await producer.stop()


def poison_message() -> bytes:
    """A well-formed inbound message from a web-chat visitor who typed a NUL."""
    now = datetime.now(UTC)
    return encode(
        InboundMessage(
            event_id=uuid.uuid4(),
            channel="webchat",
            account_external_id="site-dev",
            sender_external_id=f"site-dev:vchaos{uuid.uuid4().hex[:8]}",
            provider_message_id=f"chaos-poison-{uuid.uuid4().hex}",
            sent_at=now,
            received_at=now,
            content_type="text",
            text="hello\u0000world",
        )
    )


@dataclass
class ConsumerJoin(Fault):
    """One more router consumer joins mid-load (the group rebalances); it leaves after the measurement."""

    async def inject(self, stack: Controls) -> None:
        await stack.start_consumer()

    async def clean_up(self, stack: Controls) -> None:
        await stack.stop_consumer()


@dataclass
class ConsumerLeave(Fault):
    """A router consumer started before the load leaves mid-load (SIGTERM: a scale-down or a deploy)."""

    async def prepare(self, stack: Controls) -> None:
        await stack.start_consumer()

    async def inject(self, stack: Controls) -> None:
        await stack.stop_consumer()
