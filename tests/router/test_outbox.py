"""The relay's retry pacing (router/outbox.py); the relay itself is tested on real Kafka and PostgreSQL in
tests/integration/test_outbox_relay.py."""

from router.outbox import backoff_s


def test_the_backoff_doubles_from_a_tenth_of_a_second():
    assert [backoff_s(n) for n in (1, 2, 3, 4)] == [0.1, 0.2, 0.4, 0.8]


def test_the_backoff_is_capped_at_five_seconds_however_long_kafka_stays_away():
    assert backoff_s(7) == 5.0
    assert backoff_s(10_000) == 5.0
