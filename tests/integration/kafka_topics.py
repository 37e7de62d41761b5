"""A topic of the test's own on the session's broker, deleted afterwards."""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.integration.conftest import KAFKA


@asynccontextmanager
async def own_topic(prefix: str, partitions: int = 1) -> AsyncIterator[str]:
    """A fresh topic named `<prefix>-<random>` with `partitions` partitions, for the block's length."""
    name = f"{prefix}-{secrets.token_hex(4)}"
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()
