"""What a customer's message is about: intent rules per account, in several languages. Pure.

A rule names an intent and matches by keywords (case-insensitive substrings: Korean and Japanese do not
separate words with spaces) or regular expressions. Rules for the message's account are tried before the
global ones, each group in its order; the first match wins. A customer asking for a person is recognised
apart from the intents, in every language configured, because it always hands over to an agent.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

HUMAN_REQUEST = ("agent", "human", "person", "real person", "representative", "operator", "상담원", "사람", "担当者")


@dataclass(frozen=True)
class IntentRule:
    intent: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    account: str | None = None  # an account's external id; None applies to every account
    _compiled: tuple[re.Pattern[str], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(p, re.IGNORECASE) for p in self.patterns))

    def matches(self, text: str) -> bool:
        folded = text.casefold()
        return any(k.casefold() in folded for k in self.keywords) or any(p.search(text) for p in self._compiled)


# Shipped defaults, Korean and English; accounts add or override their own through the admin API.
DEFAULT_RULES = (
    IntentRule(
        "order_status", ("order status", "where is my order", "주문 상태", "주문상태", "my order"), (r"#\d{3,}",)
    ),
    IntentRule("refund", ("refund", "money back", "환불")),
    IntentRule("invoice", ("invoice", "receipt", "청구서", "영수증")),
    IntentRule("shipping", ("shipping", "delivery", "배송")),
    IntentRule("price", ("price", "how much", "cost", "가격", "얼마")),
    IntentRule("hours", ("opening hours", "open hours", "business hours", "when are you open", "영업시간")),
)


def classify(text: str | None, rules: Iterable[IntentRule], account: str) -> str | None:
    """The intent of `text` on `account`, or None when no rule matches."""
    if not text:
        return None
    ordered = sorted(rules, key=lambda r: r.account is None)  # the account's own rules first (stable sort)
    for rule in ordered:
        if rule.account in (None, account) and rule.matches(text):
            return rule.intent
    return None


def asks_for_a_person(text: str | None) -> bool:
    if not text:
        return False
    folded = text.casefold()
    return any(
        re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", folded) if word.isascii() else word in folded
        for word in HUMAN_REQUEST
    )


def order_number(text: str | None) -> str | None:
    """The order number a customer quotes: `#1234`, `order 1234`, `주문 1234`."""
    if not text:
        return None
    found = re.search(r"(?:#|order\s*(?:no\.?|number)?\s*|주문\s*(?:번호)?\s*)(\d{3,})", text, re.IGNORECASE)
    return found.group(1) if found else None
