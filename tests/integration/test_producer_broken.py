"""A producer the broker refuses for good says so (services/kafka.py `IdempotentProducer.until_broken`).

The vector is the broker's own refusal: after one acknowledged record, the producer's sequence for that
partition is moved on by five (what aiokafka's numbering does after batches it failed locally, as `make
chaos`'s broker pause showed), so the real broker answers the next batch OUT_OF_ORDER_SEQUENCE_NUMBER.
"""

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import TopicPartition
from aiokafka.errors import OutOfOrderSequenceNumber

from services.kafka import IdempotentProducer, make_producer
from tests.integration.conftest import KAFKA
from tests.integration.kafka_topics import own_topic

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def topic(infrastructure: None) -> AsyncIterator[str]:
    async with own_topic("test-producer-broken") as name:
        yield name


@pytest_asyncio.fixture
async def producer(topic: str) -> AsyncIterator[IdempotentProducer]:
    producer = make_producer(KAFKA, client_id="test-producer-broken")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_a_sequence_the_broker_refuses_breaks_the_producer_for_good(producer: IdempotentProducer, topic: str):
    stopping = asyncio.Event()
    watch = asyncio.create_task(producer.until_broken(stopping))
    await producer.send_and_wait(topic, b"first", key=b"k")
    assert not watch.done(), "an acknowledged record breaks nothing"

    producer._txn_manager.increment_sequence_number(TopicPartition(topic, 0), 5)  # a gap the broker sees
    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.send_and_wait(topic, b"after the gap", key=b"k")

    with pytest.raises(OutOfOrderSequenceNumber):
        await asyncio.wait_for(watch, timeout=10)
    with pytest.raises(OutOfOrderSequenceNumber):  # and it stays broken: every later record there is refused
        await producer.send_and_wait(topic, b"later", key=b"k")


async def test_a_producer_that_is_not_broken_stops_watching_when_the_process_stops(
    producer: IdempotentProducer, topic: str
):
    stopping = asyncio.Event()
    watch = asyncio.create_task(producer.until_broken(stopping))
    await producer.send_and_wait(topic, b"fine", key=b"k")
    stopping.set()
    await asyncio.wait_for(watch, timeout=5)  # returns, raising nothing
    assert watch.exception() is None
