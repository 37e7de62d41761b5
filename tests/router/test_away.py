"""Greeting and away messages: when each is sent, how the return is worded, and the per-conversation throttle."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from router.away import AutomationPolicy, automated_message, describe_return
from router.business_hours import Schedule

SEOUL = ZoneInfo("Asia/Seoul")
NEW_YORK = ZoneInfo("America/New_York")
# Monday to Friday 09:00-18:00 in Seoul; 2026-11-23 is a Monday. New York is on EST (UTC-5) by then: 14 hours
# behind Seoul.
TEAM = Schedule.from_dict(
    {
        "time_zone": "Asia/Seoul",
        "weekly": {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"],
    }
)
POLICY = AutomationPolicy(greeting="Hi! An agent will be with you shortly.")


def seoul(year, month, day, hour=0, minute=0, second=0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SEOUL)


def message(now, *, first_contact=False, last_automated_at=None, customer_time_zone=None, policy=POLICY, team=TEAM):
    return automated_message(
        team,
        policy,
        now,
        first_contact=first_contact,
        last_automated_at=last_automated_at,
        customer_time_zone=customer_time_zone,
    )


def test_a_first_message_within_hours_gets_the_greeting():
    assert message(seoul(2026, 11, 23, 10, 0), first_contact=True) == "Hi! An agent will be with you shortly."


def test_later_messages_within_hours_get_nothing_automated():
    assert message(seoul(2026, 11, 23, 10, 0), first_contact=False) is None


def test_without_a_greeting_configured_a_first_message_gets_nothing():
    assert message(seoul(2026, 11, 23, 10, 0), first_contact=True, policy=AutomationPolicy()) is None


def test_outside_hours_the_away_message_says_when_the_team_is_back_in_the_teams_zone():
    friday_evening = seoul(2026, 11, 27, 19, 0)
    expected = "We're away right now. We'll be back Monday at 9:00 (Asia/Seoul time)."
    assert message(friday_evening) == expected
    assert message(friday_evening, first_contact=True) == expected  # no greeting outside hours


def test_the_away_message_is_in_the_customers_zone_when_known():
    # Monday 09:00 in Seoul is Sunday 19:00 in New York.
    assert message(seoul(2026, 11, 27, 19, 0), customer_time_zone="America/New_York") == (
        "We're away right now. We'll be back Sunday at 19:00 (America/New_York time)."
    )


def test_an_unknown_customer_zone_falls_back_to_the_teams():
    assert message(seoul(2026, 11, 27, 19, 0), customer_time_zone="Moon/Tranquility") == (
        "We're away right now. We'll be back Monday at 9:00 (Asia/Seoul time)."
    )


def test_today_and_tomorrow_are_the_customers_today_and_tomorrow():
    early = seoul(2026, 11, 23, 7, 30)
    assert message(early).endswith("back today at 9:00 (Asia/Seoul time).")
    evening = seoul(2026, 11, 23, 19, 0)  # Monday 05:00 in New York; Tuesday 09:00 in Seoul is 19:00 there
    assert message(evening).endswith("back tomorrow at 9:00 (Asia/Seoul time).")
    assert message(evening, customer_time_zone="America/New_York").endswith(
        "back today at 19:00 (America/New_York time)."
    )


def test_a_return_a_week_or_more_away_gives_the_date_and_the_year_when_it_changes():
    # From the evening of 23 December, past Christmas and the weekend: five days ahead, so the weekday will do.
    assert message(seoul(2026, 12, 23, 19, 0)).endswith("back Monday at 9:00 (Asia/Seoul time).")
    assert describe_return(seoul(2026, 12, 7, 9, 0), seoul(2026, 11, 30, 8, 0), SEOUL) == (
        "Monday, December 7 at 9:00 (Asia/Seoul time)"
    )
    assert describe_return(seoul(2027, 1, 4, 9, 0), seoul(2026, 12, 23, 19, 0), SEOUL) == (
        "Monday, January 4, 2027 at 9:00 (Asia/Seoul time)"
    )


def test_a_schedule_without_hours_gets_the_message_without_a_return():
    never = Schedule.from_dict({"time_zone": "Asia/Seoul", "weekly": {}})
    assert message(seoul(2026, 11, 23, 10, 0), team=never) == "We're away right now. We'll reply as soon as we can."


def test_a_custom_template_and_a_switched_off_away_message():
    custom = AutomationPolicy(away_template="Closed. Back {back}. {not a field}")
    assert message(seoul(2026, 11, 23, 19, 0), policy=custom) == (
        "Closed. Back tomorrow at 9:00 (Asia/Seoul time). {not a field}"
    )
    assert message(seoul(2026, 11, 23, 19, 0), policy=AutomationPolicy(away_template=None)) is None


def test_one_automated_message_per_conversation_per_interval():
    night = seoul(2026, 11, 23, 19, 0)
    assert message(night, last_automated_at=night - timedelta(hours=3, minutes=59)) is None
    assert message(night, last_automated_at=night - timedelta(hours=4)) is not None
    assert message(night, last_automated_at=night - timedelta(days=2)) is not None


def test_the_throttle_covers_the_greeting_too():
    morning = seoul(2026, 11, 24, 9, 30)
    assert message(morning, first_contact=True, last_automated_at=seoul(2026, 11, 24, 6, 0)) is None
    assert message(morning, first_contact=True, last_automated_at=seoul(2026, 11, 24, 5, 30)) == POLICY.greeting


def test_the_throttle_measures_elapsed_time_across_a_dst_change():
    # 00:30 EDT to 04:00 EST on New York's fall-back night: 3.5 hours on the wall clock, 4.5 elapsed.
    team = Schedule.from_dict({"time_zone": "America/New_York", "weekly": {"mon": [["09:00", "18:00"]]}})
    last = datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK)
    now = datetime(2026, 11, 1, 4, 0, tzinfo=NEW_YORK)
    assert message(now, last_automated_at=last, team=team) is not None
    assert message(now, last_automated_at=now.astimezone(UTC) - timedelta(hours=1), team=team) is None


def test_naive_datetimes_and_a_negative_interval_are_refused():
    with pytest.raises(ValueError, match="no time zone"):
        message(datetime(2026, 11, 23, 10, 0))
    with pytest.raises(ValueError, match="no time zone"):
        message(seoul(2026, 11, 23, 10, 0), last_automated_at=datetime(2026, 11, 23, 1, 0))
    with pytest.raises(ValueError, match="min_interval"):
        AutomationPolicy(min_interval=timedelta(minutes=-1))
