"""How urgent a customer is: from their attributes (the admin API, or a CRM posting to it) and history.

- VIP: `monthly_spend` of at least 1,000 (in the account's currency) -> level 2.
- Repeat contact: 3 or more conversations in the last 30 days, this one included -> level 1.
- A `priority` tag -> level 1: set by an admin, or earned by 2 or more returns in 90 days (the contact
  attribute `returns_90d`, which a shop's CRM posts to /v1/crm/contacts).
The queue serves higher levels first, with ageing so nobody starves (router/queueing.py). Pure.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

VIP_MONTHLY_SPEND = Decimal(1000)
REPEAT_CONVERSATIONS = 3
REPEAT_WINDOW_DAYS = 30
VIP, RAISED, NORMAL = 2, 1, 0
LEVELS = (VIP, RAISED, NORMAL)


@dataclass(frozen=True)
class Priority:
    level: int
    reasons: tuple[str, ...]


def priority_of(attributes: Mapping[str, Any], conversations_in_window: int) -> Priority:
    """The level and why; `conversations_in_window` counts the contact's conversations in the last 30 days."""
    reasons: list[str] = []
    level = NORMAL
    spend = _decimal(attributes.get("monthly_spend"))
    if spend is not None and spend >= VIP_MONTHLY_SPEND:
        level, reasons = VIP, ["vip"]
    if conversations_in_window >= REPEAT_CONVERSATIONS:
        level = max(level, RAISED)
        reasons.append("repeat")
    if "priority" in tags_of(attributes):
        level = max(level, RAISED)
        reasons.append("priority_tag")
    return Priority(level, tuple(reasons))


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    # "NaN" or "Infinity" stored before the API refused them: comparing NaN raises, so it counts as unset.
    return number if number.is_finite() else None


PRIORITY_RETURNS = 2  # returns in 90 days that earn the "priority" tag


def tags_of(attributes: Mapping[str, Any]) -> list[str]:
    """The contact's tags: those set on them, and "priority" once they returned 2+ orders in 90 days."""
    raw = attributes.get("tags")
    tags = [t for t in raw if isinstance(t, str)] if isinstance(raw, list) else []
    returns = _decimal(attributes.get("returns_90d"))
    if returns is not None and returns >= PRIORITY_RETURNS and "priority" not in tags:
        tags.append("priority")
    return tags
