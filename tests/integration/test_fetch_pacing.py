"""A batching consumer on a quiet topic stops asking the broker every 20 ms, and batches again once records
flow (services/kafka.py FetchPacing), against the real broker and aiokafka's real fetcher."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaClient
from aiokafka.protocol.fetch import FetchRequest

from services.kafka import FetchPacing, make_consumer, make_producer
from tests.integration.client import eventually
from tests.integration.conftest import KAFKA
from tests.integration.kafka_topics import own_topic


@pytest.fixture
def fetch_requests(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every fetch request any aiokafka client in this process sends, as the broker receives it."""
    sent: list[Any] = []
    send = AIOKafkaClient.send

    async def counting_send(self: AIOKafkaClient, node_id: int, request: Any, **kwargs: Any) -> Any:
        if isinstance(request, FetchRequest):
            sent.append(request)
        return await send(self, node_id, request, **kwargs)

    monkeypatch.setattr(AIOKafkaClient, "send", counting_send)
    return sent


@pytest_asyncio.fixture
async def topic(infrastructure: None) -> AsyncIterator[str]:
    async with own_topic("test-pacing", partitions=2) as name:
        yield name


async def _poll(consumer: Any, pacing: FetchPacing | None, seconds: float) -> int:
    """The consume loop's shape: getmany with a short timeout, paced after each answer; records received."""
    received = 0
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while loop.time() < until:
        batch = await consumer.getmany(timeout_ms=100, max_records=500)
        if pacing is not None:
            pacing.observed(bool(batch))
        received += sum(len(records) for records in batch.values())
    return received


async def test_a_quiet_topic_is_fetched_a_few_times_a_second_instead_of_fifty(
    topic: str, fetch_requests: list[Any]
) -> None:
    consumer = make_consumer(KAFKA, group_id=f"{topic}-paced", client_id="test-pacing")
    consumer.subscribe([topic])
    await consumer.start()
    try:
        await eventually(lambda: asyncio.sleep(0, bool(consumer.assignment())), what="an assignment")
        pacing = FetchPacing(consumer)
        await _poll(consumer, None, 1.0)
        unpaced = len(fetch_requests)
        fetch_requests.clear()
        await _poll(consumer, pacing, 1.0)
        fetch_requests.clear()  # the first paced second still drains fetches sent with the batch settings
        await _poll(consumer, pacing, 2.0)
        paced = len(fetch_requests)
        assert pacing.idle
        assert all(request._min_bytes == FetchPacing.IDLE_MIN_BYTES for request in fetch_requests)
        # 20 ms per empty fetch against 500 ms: about 50 a second against about 2.
        assert unpaced >= 20, unpaced
        assert paced <= 8, paced
    finally:
        await consumer.stop()


async def test_a_record_on_a_quiet_topic_is_delivered_and_batching_resumes(
    topic: str, fetch_requests: list[Any]
) -> None:
    consumer = make_consumer(KAFKA, group_id=f"{topic}-resumes", client_id="test-pacing")
    consumer.subscribe([topic])
    producer = make_producer(KAFKA, client_id="test-pacing")
    await asyncio.gather(consumer.start(), producer.start())
    try:
        await eventually(lambda: asyncio.sleep(0, bool(consumer.assignment())), what="an assignment")
        pacing = FetchPacing(consumer)
        batch_min_bytes = consumer._fetcher._fetch_min_bytes
        await _poll(consumer, pacing, 0.5)
        assert pacing.idle
        await producer.send_and_wait(topic, b"hello", key=b"k")
        received = 0
        while not received:
            batch = await consumer.getmany(timeout_ms=5_000, max_records=500)
            pacing.observed(bool(batch))
            received = sum(len(records) for records in batch.values())
        assert received == 1
        assert not pacing.idle
        fetch_requests.clear()
        await consumer.getmany(timeout_ms=50, max_records=500)  # lets the fetcher send its next request
        await eventually(lambda: asyncio.sleep(0, bool(fetch_requests)), what="the next fetch")
        assert fetch_requests[0]._min_bytes == batch_min_bytes > FetchPacing.IDLE_MIN_BYTES
    finally:
        await asyncio.gather(consumer.stop(), producer.stop())
