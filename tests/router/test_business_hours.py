"""Opening hours: shifts, overnight shifts, holidays, the next opening, DST in New York and Berlin, bad input."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.business_hours import SEARCH_DAYS, InvalidSchedule, Schedule, is_open, next_opening

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS_9_TO_6 = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def schedule(weekly, time_zone="Asia/Seoul", holidays=()) -> Schedule:
    return Schedule.from_dict({"time_zone": time_zone, "weekly": weekly, "holidays": list(holidays)})


def seoul(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SEOUL)


def utc(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# 2026-11-23 is a Monday; 2026-11-27 a Friday.


def test_open_from_the_start_of_a_shift_until_just_before_its_end():
    team = schedule(WEEKDAYS_9_TO_6)
    assert not is_open(team, seoul(2026, 11, 23, 8, 59))
    assert is_open(team, seoul(2026, 11, 23, 9, 0))
    assert is_open(team, seoul(2026, 11, 23, 17, 59, 59))
    assert not is_open(team, seoul(2026, 11, 23, 18, 0))
    assert not is_open(team, seoul(2026, 11, 29, 12, 0))  # Sunday


def test_the_instant_counts_not_the_zone_it_is_written_in():
    team = schedule(WEEKDAYS_9_TO_6)
    assert is_open(team, utc(2026, 11, 23, 0, 0))  # 09:00 in Seoul
    assert not is_open(team, utc(2026, 11, 22, 23, 59))  # Sunday 08:59 in Seoul
    assert is_open(team, datetime(2026, 11, 22, 19, 30, tzinfo=NEW_YORK))  # Monday 09:30 in Seoul


def test_several_shifts_a_day_close_between_them():
    team = schedule({"mon": [["13:00", "18:00"], ["09:00", "12:00"]]})
    assert is_open(team, seoul(2026, 11, 23, 11, 0))
    assert not is_open(team, seoul(2026, 11, 23, 12, 30))
    assert is_open(team, seoul(2026, 11, 23, 13, 0))
    assert next_opening(team, seoul(2026, 11, 23, 12, 30)) == seoul(2026, 11, 23, 13, 0)


def test_an_overnight_shift_is_open_after_midnight_on_the_next_day():
    team = schedule({"fri": [["22:00", "02:00"]]})
    assert not is_open(team, seoul(2026, 11, 27, 21, 59))
    assert is_open(team, seoul(2026, 11, 27, 23, 0))
    assert is_open(team, seoul(2026, 11, 28, 1, 0))  # Saturday
    assert not is_open(team, seoul(2026, 11, 28, 2, 0))
    assert not is_open(team, seoul(2026, 11, 29, 1, 0))  # Sunday: Saturday has no shift
    assert next_opening(team, seoul(2026, 11, 28, 2, 0)) == seoul(2026, 12, 4, 22, 0)


def test_24_00_ends_at_midnight_and_00_00_to_24_00_is_the_whole_day():
    team = schedule({"mon": [["20:00", "24:00"]], "tue": [["00:00", "24:00"]]})
    assert is_open(team, seoul(2026, 11, 23, 23, 59))
    assert is_open(team, seoul(2026, 11, 24, 0, 0))
    assert is_open(team, seoul(2026, 11, 24, 23, 59))
    assert not is_open(team, seoul(2026, 11, 25, 0, 0))


def test_a_holiday_closes_the_whole_day():
    team = schedule(WEEKDAYS_9_TO_6, holidays=["2026-11-23"])
    assert not is_open(team, seoul(2026, 11, 23, 10, 0))
    assert next_opening(team, seoul(2026, 11, 23, 10, 0)) == seoul(2026, 11, 24, 9, 0)


def test_a_holiday_stops_the_eves_overnight_shift_at_midnight_and_cancels_its_own():
    team = schedule({"thu": [["22:00", "02:00"]], "fri": [["22:00", "02:00"]]}, holidays=["2026-11-27"])
    assert is_open(team, seoul(2026, 11, 26, 23, 30))  # Thursday evening runs
    assert not is_open(team, seoul(2026, 11, 27, 1, 0))  # but not into the holiday
    assert not is_open(team, seoul(2026, 11, 27, 23, 0))  # the holiday's own shift does not run
    assert not is_open(team, seoul(2026, 11, 28, 1, 0))  # nor its tail on Saturday
    assert next_opening(team, seoul(2026, 11, 27, 0, 0)) == seoul(2026, 12, 3, 22, 0)


def test_next_opening_is_now_when_open():
    team = schedule(WEEKDAYS_9_TO_6)
    at = utc(2026, 11, 23, 3, 17, 42)
    opening = next_opening(team, at)
    assert opening == at
    assert opening is not None
    assert opening.tzinfo is UTC


def test_next_opening_steps_over_the_weekend_and_a_monday_holiday():
    after_friday = seoul(2026, 11, 27, 18, 0)
    assert next_opening(schedule(WEEKDAYS_9_TO_6), after_friday) == seoul(2026, 11, 30, 9, 0)
    with_holiday = schedule(WEEKDAYS_9_TO_6, holidays=["2026-11-30"])
    assert next_opening(with_holiday, after_friday) == seoul(2026, 12, 1, 9, 0)


def test_next_opening_steps_over_a_year_end_shutdown():
    shutdown = [(date(2026, 12, 24) + timedelta(days=n)).isoformat() for n in range(9)]  # to 1 January
    team = schedule(WEEKDAYS_9_TO_6, holidays=shutdown)
    assert next_opening(team, seoul(2026, 12, 23, 18, 0)) == seoul(2027, 1, 4, 9, 0)


def test_no_hours_or_only_holidays_ahead_means_no_next_opening():
    assert next_opening(schedule({}), seoul(2026, 11, 23, 12, 0)) is None
    mondays = [(date(2026, 11, 23) + timedelta(weeks=n)).isoformat() for n in range(SEARCH_DAYS // 7 + 2)]
    only_mondays = schedule({"mon": [["09:00", "18:00"]]}, holidays=mondays)
    assert next_opening(only_mondays, seoul(2026, 11, 23, 12, 0)) is None


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="no time zone"):
        is_open(schedule(WEEKDAYS_9_TO_6), datetime(2026, 11, 23, 12, 0))


# DST. New York: 2026-03-08 02:00 EST -> 03:00 EDT, 2026-11-01 02:00 EDT -> 01:00 EST.
# Berlin: 2026-03-29 02:00 CET -> 03:00 CEST, 2026-10-25 03:00 CEST -> 02:00 CET.


def test_new_york_weekday_hours_keep_to_the_wall_clock_across_spring_forward():
    team = schedule(WEEKDAYS_9_TO_6, "America/New_York")
    assert next_opening(team, utc(2026, 3, 6, 0, 0)) == utc(2026, 3, 6, 14, 0)  # Friday 09:00 EST
    assert next_opening(team, utc(2026, 3, 7, 0, 0)) == utc(2026, 3, 9, 13, 0)  # Monday 09:00 EDT


def test_new_york_a_shift_starting_in_the_skipped_hour_opens_after_it_by_the_offset_before():
    team = schedule({"sun": [["02:30", "06:00"], ["02:00", "03:00"]]}, "America/New_York")
    assert not is_open(team, utc(2026, 3, 8, 7, 15))  # 03:15 EDT; the 02:00-03:00 shift did not exist
    assert is_open(team, utc(2026, 3, 8, 7, 30))  # 02:30 "EST" is 03:30 EDT
    assert next_opening(team, utc(2026, 3, 8, 6, 0)) == utc(2026, 3, 8, 7, 30)
    assert not is_open(team, utc(2026, 3, 8, 10, 0))  # 06:00 EDT


def test_new_york_an_overnight_shift_across_spring_forward_is_an_hour_shorter():
    team = schedule({"sat": [["22:00", "06:00"]]}, "America/New_York")
    assert is_open(team, utc(2026, 3, 8, 3, 0))  # Saturday 22:00 EST
    assert is_open(team, utc(2026, 3, 8, 9, 59))  # Sunday 05:59 EDT
    assert not is_open(team, utc(2026, 3, 8, 10, 0))  # 06:00 EDT: seven hours after opening


def test_new_york_a_shift_ending_in_the_repeated_hour_ends_at_its_first_pass_and_does_not_reopen():
    team = schedule({"sat": [["22:00", "01:30"]]}, "America/New_York")
    assert is_open(team, utc(2026, 11, 1, 5, 29))  # 01:29 EDT
    assert not is_open(team, utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    assert not is_open(team, utc(2026, 11, 1, 6, 15))  # 01:15 EST: inside 22:00-01:30 on the wall clock


def test_new_york_a_shift_starting_in_the_repeated_hour_starts_at_its_first_pass():
    team = schedule({"sun": [["01:30", "03:00"]]}, "America/New_York")
    assert next_opening(team, utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert is_open(team, utc(2026, 11, 1, 6, 15))  # 01:15 EST, the second pass
    assert is_open(team, utc(2026, 11, 1, 7, 59))  # 02:59 EST
    assert not is_open(team, utc(2026, 11, 1, 8, 0))  # 03:00 EST: open two and a half hours


def test_berlin_weekday_hours_keep_to_the_wall_clock_across_both_changes():
    team = schedule(WEEKDAYS_9_TO_6, "Europe/Berlin")
    assert next_opening(team, utc(2026, 3, 28, 0, 0)) == utc(2026, 3, 30, 7, 0)  # 09:00 CEST
    assert next_opening(team, utc(2026, 10, 24, 0, 0)) == utc(2026, 10, 26, 8, 0)  # 09:00 CET
    assert next_opening(team, utc(2026, 3, 28, 0, 0)) == datetime(2026, 3, 30, 9, 0, tzinfo=BERLIN)


def test_berlin_a_shift_from_the_skipped_hour_opens_at_the_change():
    team = schedule({"sun": [["02:00", "04:00"]]}, "Europe/Berlin")
    assert not is_open(team, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert is_open(team, utc(2026, 3, 29, 1, 0))  # 03:00 CEST, which 02:00 CET is
    assert not is_open(team, utc(2026, 3, 29, 2, 0))  # 04:00 CEST: one hour open


def test_berlin_a_night_across_fall_back_is_an_hour_longer_and_the_repeated_hour_is_read_first_pass():
    team = schedule({"sat": [["21:00", "03:00"]], "sun": [["02:30", "04:00"]]}, "Europe/Berlin")
    assert is_open(team, utc(2026, 10, 24, 19, 0))  # Saturday 21:00 CEST
    assert is_open(team, utc(2026, 10, 25, 1, 30))  # 02:30 CET, the second pass
    assert is_open(team, utc(2026, 10, 25, 2, 59))  # 03:59 CET, Sunday's shift
    assert not is_open(team, utc(2026, 10, 25, 3, 0))  # 04:00 CET
    sunday_only = schedule({"sun": [["02:30", "04:00"]]}, "Europe/Berlin")
    assert next_opening(sunday_only, utc(2026, 10, 24, 23, 0)) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST


def test_the_dict_shape_round_trips():
    raw = {
        "time_zone": "Asia/Seoul",
        "weekly": {
            "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
            "fri": [["22:00", "02:00"]],
            "sat": [["00:00", "24:00"]],
        },
        "holidays": ["2026-12-25"],
    }
    team = Schedule.from_dict(raw)
    assert team.to_dict() == raw
    assert Schedule.from_dict(team.to_dict()) == team


def test_holidays_may_be_left_out():
    assert Schedule.from_dict({"time_zone": "UTC", "weekly": {}}).holidays == frozenset()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ([], "schedule: expected an object"),
        ({"time_zone": "Asia/Seoul", "weekly": {}, "hours": {}}, "unknown fields"),
        ({"weekly": {}}, "time_zone: expected an IANA"),
        ({"time_zone": "Mars/Olympus_Mons", "weekly": {}}, "unknown time zone 'Mars/Olympus_Mons'"),
        ({"time_zone": "/etc/passwd", "weekly": {}}, "unknown time zone"),
        ({"time_zone": "Asia/Seoul"}, "weekly: expected an object"),
        ({"time_zone": "Asia/Seoul", "weekly": {"monday": []}}, "unknown days \\['monday'\\]"),
        ({"time_zone": "Asia/Seoul", "weekly": {"mon": ["09:00", "18:00"]}}, "weekly.mon\\[0\\]: expected \\[start"),
        ({"time_zone": "Asia/Seoul", "weekly": {"mon": [["9:00", "18:00"]]}}, "weekly.mon\\[0\\] start: '9:00'"),
        ({"time_zone": "Asia/Seoul", "weekly": {"mon": [["09:00", "25:00"]]}}, "weekly.mon\\[0\\] end: '25:00'"),
        ({"time_zone": "Asia/Seoul", "weekly": {"mon": [["09:00", "12:60"]]}}, "end: '12:60'"),
        ({"time_zone": "Asia/Seoul", "weekly": {"tue": [["24:00", "02:00"]]}}, "weekly.tue\\[0\\] start: '24:00'"),
        ({"time_zone": "Asia/Seoul", "weekly": {"mon": [["09:00", 1800]]}}, "end: 1800 is not a time"),
        (
            {"time_zone": "Asia/Seoul", "weekly": {"mon": [["09:00", "12:00"], ["10:00", "10:00"]]}},
            "weekly.mon\\[1\\]: start and end are both 10:00",
        ),
        ({"time_zone": "Asia/Seoul", "weekly": {}, "holidays": ["2026-02-30"]}, "holidays\\[0\\]: '2026-02-30'"),
        ({"time_zone": "Asia/Seoul", "weekly": {}, "holidays": ["20261225"]}, "expected YYYY-MM-DD"),
        ({"time_zone": "Asia/Seoul", "weekly": {}, "holidays": "2026-12-25"}, "holidays: expected a list"),
    ],
)
def test_invalid_schedules_are_refused_naming_the_field(raw, message):
    with pytest.raises(InvalidSchedule, match=message):
        Schedule.from_dict(raw)
