"""Publishing a webhook's events to the inbound topic, acknowledged by Kafka before we answer 200."""

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest.errors import PublishError
from schemas.inbound import DeliveryStatus, InboundMessage
from schemas.wire import encode


def record_key(event: InboundMessage | DeliveryStatus) -> bytes:
    """Key by customer, so one customer's events stay in order on one partition."""
    customer = event.sender_external_id if isinstance(event, InboundMessage) else event.recipient_external_id
    return f"{event.channel}:{event.account_external_id}:{customer}".encode()


async def publish(
    producer: AIOKafkaProducer, topic: str, events: list[InboundMessage | DeliveryStatus], timeout_s: float
) -> None:
    """Send every event and wait until Kafka acknowledged all of them, or raise `PublishError`."""
    try:
        async with asyncio.timeout(timeout_s):
            pending = [await producer.send(topic, encode(e), key=record_key(e)) for e in events]
            await asyncio.gather(*pending)
    except (KafkaError, TimeoutError) as error:
        raise PublishError(f"Kafka did not acknowledge the events: {error!r}") from error
