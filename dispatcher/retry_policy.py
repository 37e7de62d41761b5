"""When to try a reply again, and until when: pure decisions, no I/O.

- The provider's word first: a `Retry-After` on a 429 or 503 (delta-seconds or an HTTP-date, RFC 9110
  section 10.2.3), or Telegram's `parameters.retry_after`, is the earliest next attempt.
- Otherwise exponential backoff with full jitter; a rate limit (429) starts higher than a 5xx, because
  a provider that throttles wants fewer calls, while a 5xx is often one bad instance.
- A few quick attempts in the same claim (seconds), then retries scheduled in the database
  (`next_attempt_at`), for as long as the reply may still be sent: the channel's reply window (WhatsApp's
  24 hours from the customer's last message...) or, for channels without one, `max_reply_age`.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from schemas.outbound import OutboundMessage

# Reply windows, counted from the customer's last message (the channel modules enforce the same rules:
# dispatcher/channels/whatsapp.py, meta_messaging.py, twilio.py).
_STANDARD_WINDOW = timedelta(hours=24)
_HUMAN_AGENT_WINDOW = timedelta(days=7)  # Messenger/Instagram, an agent's reply with the HUMAN_AGENT tag
RATE_LIMIT_FACTOR = 4.0


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing reply is retried: quick attempts in one claim, then scheduled ones."""

    quick_attempts: int = 3
    quick_initial_s: float = 0.2
    quick_max_s: float = 2.0
    later_initial_s: float = 5.0
    later_max_s: float = 300.0
    max_reply_age: timedelta = timedelta(hours=24)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` header value, or None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # an HTTP-date is GMT by definition
        return None
    return max(0.0, (when - now).total_seconds())


def backoff_s(attempt: int, initial_s: float, max_s: float, *, rate_limited: bool, rng: random.Random) -> float:
    """Full-jitter exponential backoff after failed attempt number `attempt` (1-based)."""
    base = initial_s * (RATE_LIMIT_FACTOR if rate_limited else 1.0)
    ceiling = min(max_s, base * 2 ** max(0, attempt - 1))
    return max(base / 2, rng.uniform(0, ceiling)) if ceiling > 0 else 0.0


def wait_s(backoff: float, retry_after: float | None) -> float:
    """The wait before the next attempt: what the provider asked for when it did, else the backoff."""
    return backoff if retry_after is None else retry_after


def reply_deadline(outbound: OutboundMessage, max_reply_age: timedelta) -> datetime:
    """The last moment this reply may still be sent: its channel's window, else its maximum age."""
    by_age = outbound.created_at + max_reply_age
    window = _window(outbound)
    if window is None:
        return by_age
    last = outbound.customer_last_message_at
    if last is None:
        return outbound.created_at  # a windowed channel with no message from the customer: never
    return last + window


def next_attempt_at(now: datetime, wait: float, deadline: datetime) -> datetime | None:
    """When to try again, or None when that would be after the reply's deadline (give up)."""
    at = now + timedelta(seconds=wait)
    return at if at <= deadline else None


def has_window(outbound: OutboundMessage) -> bool:
    """Whether the reply's channel limits when it may be sent (rather than only how old it may get)."""
    return _window(outbound) is not None


def _window(outbound: OutboundMessage) -> timedelta | None:
    if outbound.channel == "whatsapp":
        return _STANDARD_WINDOW
    if outbound.channel in ("messenger", "instagram"):
        return _HUMAN_AGENT_WINDOW if outbound.author == "agent" else _STANDARD_WINDOW
    if outbound.channel == "twilio" and outbound.reply_context.get("variant") == "whatsapp":
        return _STANDARD_WINDOW
    return None
