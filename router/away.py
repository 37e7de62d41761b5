"""The automated replies around business hours: a greeting when a conversation opens, an away message when closed.

- Open, and the customer's first message in the conversation: the greeting.
- Closed: the away message, saying when the team is back in the customer's time zone when known (else the
  team's), e.g. "We're away right now. We'll be back Monday at 9:00 (Asia/Seoul time)."
- Otherwise nothing: agents answer.

Throttle: at most one automated message (greeting or away) per conversation per `min_interval`, so a customer
writing five lines at night gets one away notice, and one who returns the next evening gets another.

Pure: the consumer passes now, whether the message opened the conversation and when the conversation last got
an automated message; it sends the text returned, if any, and records when.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from router.business_hours import Schedule, as_utc, is_open, next_opening

BACK = "{back}"  # where the away template says when the team is back
DEFAULT_AWAY = f"We're away right now. We'll be back {BACK}."
DEFAULT_AWAY_WITHOUT_RETURN = "We're away right now. We'll reply as soon as we can."

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@dataclass(frozen=True)
class AutomationPolicy:
    """What a team's automated messages say, and how often a conversation may get one. None turns one off."""

    greeting: str | None = None
    # "{back}" is replaced by plain substitution, not str.format: templates come from admins, and format fields
    # would let them reach attributes ("{back.__class__}") and break on a stray brace.
    away_template: str | None = DEFAULT_AWAY
    away_without_return: str | None = DEFAULT_AWAY_WITHOUT_RETURN  # closed with no opening ahead
    min_interval: timedelta = timedelta(hours=4)

    def __post_init__(self) -> None:
        if self.min_interval < timedelta(0):
            raise ValueError(f"min_interval must not be negative, got {self.min_interval}")


def automated_message(
    schedule: Schedule,
    policy: AutomationPolicy,
    now: datetime,
    *,
    first_contact: bool,
    last_automated_at: datetime | None,
    customer_time_zone: str | None,
) -> str | None:
    """The greeting or away message to send for a customer's message arriving at `now`, or None."""
    # In UTC: aware datetimes sharing a tzinfo subtract wall clocks, an hour off across a DST change.
    if last_automated_at is not None and as_utc(now) - as_utc(last_automated_at) < policy.min_interval:
        return None
    if is_open(schedule, now):
        return policy.greeting if first_contact else None
    opening = next_opening(schedule, now)
    if opening is None:
        return policy.away_without_return
    if policy.away_template is None:
        return None
    zone = _known_zone(customer_time_zone) or schedule.time_zone
    return policy.away_template.replace(BACK, describe_return(opening, now, zone))


def describe_return(opening: datetime, now: datetime, zone: ZoneInfo) -> str:
    """When the team is back as a customer reads it: "today at 9:00 (Asia/Seoul time)", "Monday at 18:30 (...)"."""
    local = opening.astimezone(zone)
    days_ahead = (local.date() - now.astimezone(zone).date()).days
    if days_ahead == 0:
        day = "today"
    elif days_ahead == 1:
        day = "tomorrow"
    elif days_ahead < 7:
        day = _DAY_NAMES[local.weekday()]
    else:  # a weekday name alone would mean this week's
        day = f"{_DAY_NAMES[local.weekday()]}, {_MONTH_NAMES[local.month - 1]} {local.day}"
        if local.year != now.astimezone(zone).year:
            day += f", {local.year}"
    # Names and the 24-hour clock by hand: strftime's %A and %p follow the process locale.
    return f"{day} at {local.hour}:{local.minute:02d} ({zone.key} time)"


def _known_zone(name: str | None) -> ZoneInfo | None:
    # The customer's zone comes from a widget or a profile: an unknown one falls back to the team's rather than
    # costing the customer the away message.
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
