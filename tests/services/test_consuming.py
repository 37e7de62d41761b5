"""The shared consume loop against a stand-in Kafka consumer: outages retried without end, poison records
dead-lettered after bounded retries, a failing client re-created, and a loop that cannot recover reported."""

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from aiokafka import ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaConnectionError
from pydantic import BaseModel

from services.consuming import ConsumePolicy, ConsumerFailed, consume
from services.dead_lettering import DeadLetters
from services.failures import UnprocessableRecord
from services.metrics import CONSUMER_RETRIES
from tests.integration.client import eventually

TOPIC = "t.inbound.v1"
GROUP = "test-group"
FAST = ConsumePolicy(retries=2, retry_initial_s=0.001, retry_max_s=0.002, recover_within_s=60, lag_interval_s=0.01)


def record(partition: int, offset: int, value: bytes, key: bytes = b"k") -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(TOPIC, partition, offset, 0, 0, key, value, None, len(key), len(value), [])


class Log:
    """The broker's side: each partition's records and the group's committed offsets, shared by every
    consumer the loop creates; failures to inject into the next calls."""

    def __init__(self, partitions: dict[int, list[bytes]]) -> None:
        self.records = {
            TopicPartition(TOPIC, p): [record(p, i, v) for i, v in enumerate(values)]
            for p, values in partitions.items()
        }
        self.committed: dict[TopicPartition, int] = {}
        self.getmany_failures: list[Exception] = []
        self.commit_failures: list[Exception] = []
        self.consumers_created = 0
        self.consumers_stopped = 0

    def committed_offset(self, partition: int) -> int:
        return self.committed.get(TopicPartition(TOPIC, partition), 0)


class StandInConsumer:
    """Plays AIOKafkaConsumer for the loop: serves the log from the committed offsets, as a rejoin does."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._position: dict[TopicPartition, int] = {}
        log.consumers_created += 1

    def subscribe(self, topics: list[str], listener: Any) -> None:
        assert topics == [TOPIC]
        self._listener = listener

    async def start(self) -> None:
        self._position = {tp: self._log.committed.get(tp, 0) for tp in self._log.records}
        await self._listener.on_partitions_assigned(list(self._log.records))

    async def stop(self) -> None:
        self._log.consumers_stopped += 1

    async def getmany(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Any]]:
        if self._log.getmany_failures:
            raise self._log.getmany_failures.pop(0)
        batch = {}
        for tp, records in self._log.records.items():
            fresh = records[self._position[tp] :][:max_records]
            if fresh:
                batch[tp] = fresh
                self._position[tp] = fresh[-1].offset + 1
        if not batch:
            await asyncio.sleep(timeout_ms / 1000)
        return batch

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self._log.commit_failures:
            raise self._log.commit_failures.pop(0)
        self._log.committed.update(offsets)

    def assignment(self) -> set[TopicPartition]:
        return set(self._log.records)

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self._log.records[tp]) for tp in partitions}

    async def beginning_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return dict.fromkeys(partitions, 0)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self._log.committed.get(tp)


class StandInProducer:
    """Records what the dead-letter sender produced, as the broker would have acknowledged it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.failures: list[Exception] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({"topic": topic, "key": key, "value": value, "headers": dict(headers)})


class Handler:
    """A partition handler that fails as told, and remembers every record it completed."""

    def __init__(self, fail: Callable[[list[ConsumerRecord[bytes, bytes]]], Exception | None]) -> None:
        self._fail = fail
        self.calls: list[list[bytes]] = []
        self.handled: list[bytes] = []

    async def __call__(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        self.calls.append([r.value or b"" for r in records])
        error = self._fail(records)
        if error is not None:
            raise error
        self.handled.extend(r.value or b"" for r in records)


async def until(condition: Callable[[], bool], timeout_s: float = 10) -> None:
    async def holds() -> bool:
        return condition()

    await eventually(holds, timeout_s=timeout_s)


async def running(log: Log, handler: Handler, producer: StandInProducer, policy: ConsumePolicy = FAST):
    stopping = asyncio.Event()
    task = asyncio.create_task(
        consume(
            lambda: StandInConsumer(log),  # plays AIOKafkaConsumer
            TOPIC,
            GROUP,
            handler,
            stopping,
            DeadLetters(producer, "t.inbound.dlq.v1"),  # plays AIOKafkaProducer
            policy,
        )
    )
    return stopping, task


async def stop(stopping: asyncio.Event, task: asyncio.Task[None]) -> None:
    stopping.set()
    async with asyncio.timeout(10):
        await task


def retries(kind: str) -> float:
    return float(CONSUMER_RETRIES.labels(group=GROUP, kind=kind)._value.get())


class Event(BaseModel):
    text: str


def fails_on(poison: bytes, error: Callable[[], Exception]) -> Callable[[list[Any]], Exception | None]:
    return lambda records: error() if any(r.value == poison for r in records) else None


async def test_a_record_that_keeps_failing_is_dead_lettered_and_the_partition_moves_on():
    log = Log({0: [b"a", b"poison", b"b"], 1: [b"c"]})
    # PostgreSQL refusing a NUL character, as asyncpg reports it.
    handler = Handler(fails_on(b"poison", lambda: asyncpg.CharacterNotInRepertoireError("invalid byte sequence")))
    producer = StandInProducer()
    stopping, task = await running(log, handler, producer)
    await until(lambda: log.committed_offset(0) == 3 and log.committed_offset(1) == 1)
    await stop(stopping, task)

    assert sorted(handler.handled) == [b"a", b"b", b"c"]
    [letter] = producer.sent
    assert letter["topic"] == "t.inbound.dlq.v1"
    assert (letter["key"], letter["value"]) == (b"k", b"poison")
    headers = letter["headers"]
    assert headers["switchboard-error"] == b"unprocessable"
    assert b"invalid byte sequence" in headers["switchboard-error-detail"]
    assert headers["switchboard-source-topic"] == TOPIC.encode()
    assert headers["switchboard-source-partition"] == b"0"
    assert headers["switchboard-source-offset"] == b"1"
    # The batch: 1 try + 2 retries; then the record alone: 1 try + 2 retries.
    assert headers["switchboard-attempts"] == b"6"
    assert handler.calls.count([b"poison"]) == 3


async def test_an_unprocessable_record_is_dead_lettered_at_once_and_the_rest_handled():
    log = Log({0: [b"a", b"garbage", b"b"]})

    def undecodable(records: list[Any]) -> Exception | None:
        bad = [r for r in records if r.value == b"garbage"]
        return UnprocessableRecord(bad[0], "not an event", reason="undecodable") if bad else None

    handler = Handler(undecodable)
    producer = StandInProducer()
    stopping, task = await running(log, handler, producer)
    await until(lambda: log.committed_offset(0) == 3)
    await stop(stopping, task)

    assert handler.calls == [[b"a", b"garbage", b"b"], [b"a", b"b"]]
    [letter] = producer.sent
    assert letter["headers"]["switchboard-error"] == b"undecodable"
    assert letter["headers"]["switchboard-attempts"] == b"1"


async def test_a_validation_error_is_retried_then_dead_lettered():
    log = Log({0: [b'{"text": "hi"}', b"[1,2", b'{"text": "there"}']})
    handler = Handler(lambda records: next((_validation_error(r.value) for r in records if r.value == b"[1,2"), None))
    producer = StandInProducer()
    stopping, task = await running(log, handler, producer)
    await until(lambda: log.committed_offset(0) == 3)
    await stop(stopping, task)
    assert [letter["value"] for letter in producer.sent] == [b"[1,2"]
    assert b"Invalid JSON" in producer.sent[0]["headers"]["switchboard-error-detail"]


def _validation_error(raw: bytes | None) -> Exception:
    try:
        Event.model_validate_json(raw or b"")
    except ValueError as error:
        return error
    raise AssertionError("expected a validation error")


@pytest.mark.parametrize(
    "outage",
    [
        lambda: asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        lambda: asyncpg.CannotConnectNowError("the database system is starting up"),
        lambda: ConnectionRefusedError(111, "Connect call failed"),
        lambda: TimeoutError(),
        lambda: KafkaConnectionError("broker unreachable"),
    ],
    ids=["connection-lost", "starting-up", "refused", "timeout", "kafka"],
)
async def test_our_outage_is_retried_for_as_long_as_it_lasts_and_never_dead_lettered(outage):
    log = Log({0: [b"a", b"b"]})
    down = {"for": 25}  # far more failures than the bounded retries allow for a record

    def failing(records: list[Any]) -> Exception | None:
        down["for"] -= 1
        return outage() if down["for"] > 0 else None

    before = retries("transient")
    handler = Handler(failing)
    producer = StandInProducer()
    stopping, task = await running(log, handler, producer)
    await until(lambda: log.committed_offset(0) == 2)
    await stop(stopping, task)
    assert producer.sent == []
    assert handler.handled == [b"a", b"b"]
    assert retries("transient") - before == 24


async def test_a_dead_letter_waits_out_a_broker_outage_before_the_offset_is_committed():
    log = Log({0: [b"poison"]})
    handler = Handler(fails_on(b"poison", lambda: ValueError("bad")))
    producer = StandInProducer()
    producer.failures = [KafkaConnectionError("down")] * 5
    stopping, task = await running(log, handler, producer)
    await until(lambda: log.committed_offset(0) == 1)
    await stop(stopping, task)
    assert [letter["value"] for letter in producer.sent] == [b"poison"]


async def test_a_failing_fetch_or_commit_recreates_the_consumer_and_replays_what_was_not_committed():
    log = Log({0: [b"a", b"b"]})
    log.getmany_failures = [IllegalStateError("fetch failed")]
    log.commit_failures = [CommitFailedError("the group rebalanced")]
    handler = Handler(lambda records: None)
    stopping, task = await running(log, handler, StandInProducer())
    await until(lambda: log.committed_offset(0) == 2)
    await stop(stopping, task)
    assert log.consumers_created == 3  # the first, one after the fetch failed, one after the commit failed
    assert log.consumers_stopped == 3
    assert handler.handled == [b"a", b"b", b"a", b"b"]  # the uncommitted batch was handled again


async def test_a_loop_that_cannot_recover_within_its_bound_ends_with_an_error():
    log = Log({0: [b"a"]})
    log.getmany_failures = [KafkaConnectionError("down")] * 10_000
    policy = ConsumePolicy(retries=2, retry_initial_s=0.001, retry_max_s=0.01, recover_within_s=0.2)
    _, task = await running(log, Handler(lambda records: None), StandInProducer(), policy)
    with pytest.raises(ConsumerFailed, match="test-group"):
        async with asyncio.timeout(10):
            await task
    assert log.consumers_created > 1


async def test_a_commit_failing_after_a_long_outage_is_a_fresh_failure_not_one_beyond_the_bound():
    log = Log({0: [b"a"]})
    log.commit_failures = [CommitFailedError("the group rebalanced while the batch waited")]
    down = {"for": 40}

    def failing(records: list[Any]) -> Exception | None:
        down["for"] -= 1
        return OSError("unreachable") if down["for"] > 0 else None

    policy = ConsumePolicy(retry_initial_s=0.01, retry_max_s=0.01, recover_within_s=0.05)
    stopping, task = await running(log, Handler(failing), StandInProducer(), policy)
    await until(lambda: log.committed_offset(0) == 1 or task.done())
    assert not task.done()
    await stop(stopping, task)


async def test_shutdown_abandons_a_batch_waiting_out_an_outage_and_commits_what_was_settled():
    log = Log({0: [b"a"], 1: [b"stuck"]})
    handler = Handler(fails_on(b"stuck", lambda: OSError("unreachable")))
    policy = ConsumePolicy(retry_initial_s=0.05, retry_max_s=0.05)
    stopping, task = await running(log, handler, StandInProducer(), policy)
    await until(lambda: len(handler.calls) >= 3)
    await stop(stopping, task)
    assert log.committed_offset(0) == 1
    assert log.committed_offset(1) == 0  # left for the replay


async def test_lag_counts_from_the_committed_offset_while_a_partition_is_stuck():
    from services.metrics import CONSUMER_LAG

    log = Log({0: [b"stuck", b"x", b"y"], 1: [b"a"]})
    handler = Handler(fails_on(b"stuck", lambda: OSError("unreachable")))
    stopping, task = await running(log, handler, StandInProducer())

    def lag(partition: int) -> float:
        return float(CONSUMER_LAG.labels(group=GROUP, topic=TOPIC, partition=str(partition))._value.get())

    # Partition 1's record is handled, but the batch commits once both partitions settle.
    await until(lambda: handler.handled == [b"a"] and lag(0) == 3 and lag(1) == 1)
    assert log.committed == {}
    await stop(stopping, task)
