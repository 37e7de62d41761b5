"""Loaded by Python at start-up (this folder on PYTHONPATH) in a process a test starts: every Kafka connection
of that process goes through the test's loopback proxy at TEST_KAFKA_DETOUR (host:port), so the test can cut
Kafka off for that one process. A proxy on the bootstrap address alone would not do: the broker advertises
127.0.0.1:9092, and the client opens its produce connections to the advertised address."""

import os

_detour = os.environ.get("TEST_KAFKA_DETOUR")
if _detour:
    import aiokafka.client

    _host, _port = _detour.rsplit(":", 1)
    _connect = aiokafka.client.create_conn

    async def _through_detour(host: str, port: int, *args: object, **kwargs: object) -> object:
        return await _connect(_host, int(_port), *args, **kwargs)

    aiokafka.client.create_conn = _through_detour
