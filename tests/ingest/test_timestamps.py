from datetime import UTC, datetime

import pytest

from ingest.errors import PayloadError
from ingest.timestamps import from_unix_millis, from_unix_seconds


def test_unix_seconds_and_milliseconds_are_utc_instants():
    assert from_unix_seconds(1697043223, "t") == datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)
    assert from_unix_millis(1458692752478, "t") == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)


@pytest.mark.parametrize("value", [10**30, -(10**30), 10**12 * 400, float("nan"), float("inf"), 1e300])
def test_a_number_no_datetime_holds_is_a_payload_error_naming_the_field(value):
    with pytest.raises(PayloadError, match=r"message\.date"):
        from_unix_seconds(value, "message.date")


@pytest.mark.parametrize("value", [10**40, -(10**40), 10**18])
def test_milliseconds_no_datetime_holds_are_a_payload_error(value):
    with pytest.raises(PayloadError, match="timestamp"):
        from_unix_millis(value, "timestamp")
