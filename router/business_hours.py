"""When the team is open: weekly shifts on one IANA time zone's wall clock, holidays, and the next opening.

A schedule as the admin API accepts it (and `Schedule.to_dict` gives back):

    {
      "time_zone": "Asia/Seoul",
      "weekly": {
        "mon": [["09:00", "18:00"]],
        "fri": [["09:00", "12:00"], ["22:00", "02:00"]]
      },
      "holidays": ["2026-12-25"]
    }

`weekly` keys are mon..sun (a missing day is closed) and each shift is ["HH:MM", "HH:MM"] on the 24-hour clock.
An end before the start runs overnight into the next day, and "24:00" is accepted as an end (midnight). A shift
belongs to the day it starts on. `holidays` (optional) are dates in the schedule's zone, closed whole: the shifts
starting on them do not run, and the previous evening's overnight shift stops at midnight.

Daylight saving: shift times are read like RFC 5545 local times, i.e. fold=0. A time in the hour skipped in
spring takes the offset from before the change (a 02:30 start on New York's 02:00->03:00 night opens at 03:30
EDT); a time in the repeated autumn hour means its first occurrence. Each shift is then one span of absolute
time, so it never reopens when the clock goes back: a 22:00-01:30 shift on New York's fall-back night ends at
the first 01:30 (EDT), and the second 01:00-01:30 (EST) is closed.

Pure: no clock reads; callers pass timezone-aware datetimes.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # in date.weekday() order
# Far enough to step over any real run of holidays (a year-end shutdown), and a bound on the search when every
# shift falls on a holiday.
SEARCH_DAYS = 400
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_ONE_DAY = timedelta(days=1)


class InvalidSchedule(ValueError):
    """A schedule the admin API must refuse; the message starts with the offending field."""


@dataclass(frozen=True)
class Shift:
    """Open from `start` to `end` on the wall clock; `ends_next_day` for overnight shifts and "24:00"."""

    start: time
    end: time
    ends_next_day: bool

    def span(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The shift starting on `day`, as UTC instants."""
        return _instant(day, self.start, zone), _instant(day + _ONE_DAY if self.ends_next_day else day, self.end, zone)

    def to_json(self) -> list[str]:
        # Midnight as an end is written "24:00": "00:00"-"00:00" (all day) would read back as end == start.
        end = "24:00" if self.end == time(0) else f"{self.end:%H:%M}"
        return [f"{self.start:%H:%M}", end]


@dataclass(frozen=True)
class Schedule:
    """A team's opening hours: shifts per weekday (index 0 is Monday) and closed dates, in `time_zone`."""

    time_zone: ZoneInfo
    weekly: tuple[tuple[Shift, ...], ...]
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if len(self.weekly) != len(WEEKDAYS):
            raise ValueError(f"weekly has {len(self.weekly)} days; a week has 7, Monday first")

    @classmethod
    def from_dict(cls, raw: object) -> "Schedule":
        """The schedule from its JSON shape (see the module docstring); InvalidSchedule names what is wrong."""
        fields = _mapping(raw, "schedule")
        unknown = set(fields) - {"time_zone", "weekly", "holidays"}
        if unknown:
            raise InvalidSchedule(f"schedule: unknown fields {sorted(unknown)}")
        weekly = _mapping(fields.get("weekly"), "weekly")
        unknown_days = set(weekly) - set(WEEKDAYS)
        if unknown_days:
            raise InvalidSchedule(f"weekly: unknown days {sorted(unknown_days)}; use {', '.join(WEEKDAYS)}")
        return cls(
            time_zone=_zone(fields.get("time_zone")),
            weekly=tuple(_shifts(weekly.get(day, []), f"weekly.{day}") for day in WEEKDAYS),
            holidays=frozenset(_holidays(fields.get("holidays", []))),
        )

    def to_dict(self) -> dict[str, object]:
        """The JSON shape `from_dict` accepts."""
        return {
            "time_zone": self.time_zone.key,
            "weekly": {
                day: [s.to_json() for s in shifts] for day, shifts in zip(WEEKDAYS, self.weekly, strict=True) if shifts
            },
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
        }

    def spans_starting_on(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """The UTC spans the team is open for the shifts starting on `day`, holidays taken out."""
        if day in self.holidays:
            return
        next_day = day + _ONE_DAY
        cutoff = _instant(next_day, time(0), self.time_zone) if next_day in self.holidays else None
        for shift in self.weekly[day.weekday()]:
            start, end = shift.span(day, self.time_zone)
            if cutoff is not None:
                end = min(end, cutoff)
            if start < end:  # a shift inside the skipped spring hour is empty
                yield start, end


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether the team is open at the instant `at` (timezone-aware)."""
    instant = as_utc(at)
    today = instant.astimezone(schedule.time_zone).date()
    # A shift lasts at most a day, so yesterday's overnight shift is the earliest that can cover `at`; tomorrow's
    # only in a zone whose clock goes back across midnight.
    days = (today - _ONE_DAY, today, today + _ONE_DAY)
    return any(start <= instant < end for day in days for start, end in schedule.spans_starting_on(day))


def next_opening(schedule: Schedule, at: datetime) -> datetime | None:
    """The first instant at or after `at` that the team is open, in UTC.

    None when the schedule has no hours, or none within SEARCH_DAYS that are not holidays.
    """
    # UTC rather than the schedule's zone: a datetime in a repeated autumn hour compares unequal to every
    # datetime in another zone, even at the same instant (PEP 495).
    instant = as_utc(at)
    if not any(schedule.weekly):
        return None
    first_day = instant.astimezone(schedule.time_zone).date() - _ONE_DAY
    best: datetime | None = None
    found_on: date | None = None
    for offset in range(SEARCH_DAYS + 2):
        day = first_day + timedelta(days=offset)
        # Start order is not wall-clock order across a spring gap (02:30 opens after 03:00), and a late shift in
        # a gap at midnight can open after the next day's first: one more day is looked at before settling.
        if found_on is not None and day > found_on + _ONE_DAY:
            break
        for start, end in schedule.spans_starting_on(day):
            if end > instant:
                candidate = max(start, instant)
                best = candidate if best is None else min(best, candidate)
                found_on = found_on or day
    return best


def _instant(day: date, wall: time, zone: ZoneInfo) -> datetime:
    # combine() leaves fold=0: the offset before a spring gap, the first of a repeated autumn hour (RFC 5545).
    return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)


def as_utc(at: datetime) -> datetime:
    """The instant `at` in UTC; ValueError for a naive datetime, whose instant is unknown."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; business hours need an instant")
    # In UTC so that comparisons are of instants: aware datetimes sharing a tzinfo compare by wall clock.
    return at.astimezone(UTC)


def _mapping(raw: object, where: str) -> Mapping[str, object]:
    if not isinstance(raw, Mapping):
        raise InvalidSchedule(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _zone(raw: object) -> ZoneInfo:
    if not isinstance(raw, str) or not raw:
        raise InvalidSchedule("time_zone: expected an IANA time zone name such as 'Asia/Seoul'")
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:  # ValueError: not a key at all, e.g. a path
        raise InvalidSchedule(f"time_zone: unknown time zone {raw!r}") from exc


def _shifts(raw: object, where: str) -> tuple[Shift, ...]:
    if not isinstance(raw, list):
        raise InvalidSchedule(f"{where}: expected a list of [start, end] shifts")
    shifts = []
    for index, pair in enumerate(raw):
        here = f"{where}[{index}]"
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise InvalidSchedule(f"{here}: expected [start, end], e.g. ['09:00', '18:00']")
        start = _clock(pair[0], f"{here} start")
        if pair[1] == "24:00":
            shifts.append(Shift(start, time(0), ends_next_day=True))
            continue
        end = _clock(pair[1], f"{here} end")
        if start == end:
            raise InvalidSchedule(f"{here}: start and end are both {pair[0]}; a shift must have a length")
        shifts.append(Shift(start, end, ends_next_day=end < start))
    return tuple(sorted(shifts, key=lambda shift: shift.start))


def _clock(raw: object, where: str) -> time:
    match = _CLOCK.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidSchedule(
            f"{where}: {raw!r} is not a time; expected HH:MM from 00:00 to 23:59 (or 24:00 as an end)"
        )
    return time(int(match[1]), int(match[2]))


def _holidays(raw: object) -> Iterator[date]:
    if not isinstance(raw, list):
        raise InvalidSchedule("holidays: expected a list of dates such as '2026-12-25'")
    for index, item in enumerate(raw):
        try:
            # fromisoformat alone would also take "20261225" and week dates; the API documents one form.
            if not (isinstance(item, str) and _DATE.fullmatch(item)):
                raise ValueError
            yield date.fromisoformat(item)
        except ValueError:
            raise InvalidSchedule(f"holidays[{index}]: {item!r} is not a date; expected YYYY-MM-DD") from None
