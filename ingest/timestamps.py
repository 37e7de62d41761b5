"""Providers' Unix times read into datetimes, or refused: a number past what a datetime holds is the body's fault."""

from datetime import UTC, datetime

from ingest.errors import PayloadError


def from_unix_seconds(seconds: float, where: str) -> datetime:
    """The UTC instant `seconds` after the epoch; `PayloadError` naming `where` when no datetime is that."""
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as error:  # 10**30 overflows time_t, nan is no time
        raise PayloadError(f"{where}: not a time in Unix seconds: {seconds!r:.40}") from error


def from_unix_millis(millis: int, where: str) -> datetime:
    """The UTC instant `millis` milliseconds after the epoch, to the millisecond; `PayloadError` if none."""
    return from_unix_seconds(millis // 1000, where).replace(microsecond=millis % 1000 * 1000)
