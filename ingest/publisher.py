"""Publishing a webhook's events to the inbound topic, acknowledged by Kafka before we answer 200."""

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ingest.errors import PayloadError, PublishError
from schemas.inbound import DeliveryStatus, InboundMessage
from schemas.wire import encode

# Below the producer's max_request_size and the broker's message.max.bytes (both about 1 MiB by default).
MAX_RECORD_BYTES = 900 * 1024


def record_key(event: InboundMessage | DeliveryStatus) -> bytes:
    """Key by customer, so one customer's events stay in order on one partition."""
    customer = event.sender_external_id if isinstance(event, InboundMessage) else event.recipient_external_id
    return f"{event.channel}:{event.account_external_id}:{customer}".encode()


async def publish(
    producer: AIOKafkaProducer, topic: str, events: list[InboundMessage | DeliveryStatus], timeout_s: float
) -> None:
    """Send every event and wait until Kafka acknowledged all of them; `PublishError` if it did not,
    `PayloadError` (before anything is sent) for an event too large to be a record."""
    records = [(encode(e), record_key(e)) for e in events]
    for value, _ in records:
        # Kafka refuses a record above its size limit whatever we retry: the body's fault, not an outage.
        if len(value) > MAX_RECORD_BYTES:
            raise PayloadError(f"an event of {len(value)} bytes is above the {MAX_RECORD_BYTES}-byte record limit")
    try:
        async with asyncio.timeout(timeout_s):
            pending = [await producer.send(topic, value, key=key) for value, key in records]
            await asyncio.gather(*pending)
    except (KafkaError, TimeoutError) as error:
        raise PublishError(f"Kafka did not acknowledge the events: {error!r}") from error
