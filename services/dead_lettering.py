"""Records a consumer gave up on, set aside on a dead-letter topic exactly as they arrived.

A dead letter keeps the original key and value bytes, so it can be re-driven unchanged, and says why in
its headers (the interface the dead-letter keeper reads; keep the names):

    switchboard-error             reason code: `undecodable`, `unprocessable`
    switchboard-error-detail      the error's text, at most 1 KiB of UTF-8
    switchboard-source-topic      where the record was read from
    switchboard-source-partition  its partition (decimal)
    switchboard-source-offset     its offset (decimal)
    switchboard-attempts          how many times a handler was given the record (decimal)
"""

from aiokafka import AIOKafkaProducer, ConsumerRecord

from services.metrics import DEAD_LETTERED

ERROR = "switchboard-error"
ERROR_DETAIL = "switchboard-error-detail"
SOURCE_TOPIC = "switchboard-source-topic"
SOURCE_PARTITION = "switchboard-source-partition"
SOURCE_OFFSET = "switchboard-source-offset"
ATTEMPTS = "switchboard-attempts"
DETAIL_LIMIT_BYTES = 1024


def dead_letter_headers(
    record: ConsumerRecord[bytes, bytes], reason: str, detail: str, attempts: int
) -> list[tuple[str, bytes]]:
    """The headers that say where a dead letter came from and why it could not be processed."""
    # Cut on bytes, then drop a character the cut split in two.
    clipped = detail.encode("utf-8", "replace")[:DETAIL_LIMIT_BYTES].decode("utf-8", "ignore")
    return [
        (ERROR, reason.encode()),
        (ERROR_DETAIL, clipped.encode()),
        (SOURCE_TOPIC, record.topic.encode()),
        (SOURCE_PARTITION, str(record.partition).encode()),
        (SOURCE_OFFSET, str(record.offset).encode()),
        (ATTEMPTS, str(attempts).encode()),
    ]


class DeadLetters:
    """Sends given-up records to one dead-letter topic through an idempotent, acks=all producer."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    async def send(self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str, attempts: int) -> None:
        """Put the record on the dead-letter topic, returning once the broker acknowledged it."""
        headers = dead_letter_headers(record, reason, detail, attempts)
        await self._producer.send_and_wait(self.topic, record.value, key=record.key, headers=headers)
        DEAD_LETTERED.labels(topic=record.topic, reason=reason).inc()
