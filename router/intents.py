"""What a customer's message is about: intent rules per account, in several languages. Pure.

A rule names an intent and matches by keywords (case-insensitive substrings: Korean and Japanese do not
separate words with spaces) or regular expressions. Rules for the message's account are tried before the
global ones, each group in its order; the first match wins. A customer asking for a person is recognised
apart from the intents, in every language configured, because it always hands over to an agent.

Classification cannot be made slow: it reads only the first CLASSIFY_PREFIX characters of a message, and
every regular expression (the admins' and the shipped ones) runs on RE2, whose matching is linear in the
text whatever the pattern. A pattern RE2 cannot compile (backreferences, lookaround) is refused when the
rule is saved (`pattern_problem`); one stored before that check is skipped rather than failing every message.
"""

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import re2

HUMAN_REQUEST = ("agent", "human", "person", "real person", "representative", "operator", "상담원", "사람", "担当者")

# What a customer says about their intent is at the start of a message; a 100 KB paste is not read further.
CLASSIFY_PREFIX = 2000
PATTERN_MAX = 500  # characters of one admin pattern
_PATTERN_MEMORY = 1 << 20  # bytes RE2 may use for one compiled pattern; a bigger program is refused


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False  # a refused admin pattern is answered with a 422, not written to stderr
    options.max_mem = _PATTERN_MEMORY
    return options


@functools.lru_cache(maxsize=1024)  # rules are re-read every 0.5 s; their patterns rarely change
def compile_pattern(pattern: str) -> Any:
    """`pattern` compiled by RE2, case-insensitive; raises re2.error when RE2 cannot compile it."""
    return re2.compile(pattern, _options(case_sensitive=False))


def pattern_problem(pattern: str) -> str | None:
    """Why an admin's pattern is refused (too long, or not something RE2 runs in linear time), or None."""
    if len(pattern) > PATTERN_MAX:
        return f"pattern longer than {PATTERN_MAX} characters"
    try:
        compile_pattern(pattern)
    except re2.error as error:
        reason = error.args[0].decode() if error.args and isinstance(error.args[0], bytes) else str(error)
        return f'pattern "{pattern}" is not a linear-time (RE2) expression: {reason}'
    return None


def bounded(text: str) -> str:
    """The part of a message that is classified: its first CLASSIFY_PREFIX characters, encodable as UTF-8
    (RE2 reads UTF-8; a lone surrogate becomes U+FFFD instead of an error)."""
    prefix = text[:CLASSIFY_PREFIX]
    try:
        prefix.encode("utf-8")
    except UnicodeEncodeError:
        prefix = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in prefix)
    return prefix


@dataclass(frozen=True)
class IntentRule:
    intent: str
    keywords: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    account: str | None = None  # an account's external id; None applies to every account
    _compiled: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "_compiled", tuple(compile_pattern(p) for p in self.patterns if pattern_problem(p) is None)
        )

    def matches(self, text: str) -> bool:
        """Whether a keyword or pattern occurs in `text` (already bounded by `classify`)."""
        folded = text.casefold()
        return any(k.casefold() in folded for k in self.keywords) or any(
            p.search(text) is not None for p in self._compiled
        )


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
    prefix = bounded(text)
    ordered = sorted(rules, key=lambda r: r.account is None)  # the account's own rules first (stable sort)
    for rule in ordered:
        if rule.account in (None, account) and rule.matches(prefix):
            return rule.intent
    return None


_PERSON_WORDS = tuple(
    re.compile(rf"(?<![\w]){re.escape(word)}(?![\w])") if word.isascii() else word for word in HUMAN_REQUEST
)


def asks_for_a_person(text: str | None) -> bool:
    """Whether the customer asks for a human; fixed words, so Python's engine is linear here."""
    if not text:
        return False
    folded = bounded(text).casefold()
    return any(word.search(folded) if isinstance(word, re.Pattern) else word in folded for word in _PERSON_WORDS)


# One optional word between "order" and the number, each gap one \s*: two adjacent \s* (the old pattern)
# split a run of spaces every possible way. RE2 keeps it linear regardless.
ORDER_NUMBER = compile_pattern(r"(?:#|order\s*(?:(?:no\.?|number)\s*)?|주문\s*(?:번호\s*)?)(\d{3,})")


def order_number(text: str | None) -> str | None:
    """The order number a customer quotes: `#1234`, `order 1234`, `주문 1234`."""
    if not text:
        return None
    found = ORDER_NUMBER.search(bounded(text))
    return str(found.group(1)) if found else None
