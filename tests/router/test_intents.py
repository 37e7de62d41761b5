"""Intent rules in Korean and English, a customer asking for a person, order numbers."""

import pytest

from router.intents import (
    CLASSIFY_PREFIX,
    DEFAULT_RULES,
    ORDER_NUMBER,
    PATTERN_MAX,
    IntentRule,
    asks_for_a_person,
    bounded,
    classify,
    order_number,
    pattern_problem,
)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("Where is my order #1234?", "order_status"),
        ("주문 상태 알려주세요", "order_status"),
        ("I want a REFUND", "refund"),
        ("환불해 주세요", "refund"),
        ("Can I get an invoice?", "invoice"),
        ("청구서 보내주세요", "invoice"),
        ("How long is shipping?", "shipping"),
        ("배송 언제 와요?", "shipping"),
        ("How much is the blue one?", "price"),
        ("가격이 얼마예요?", "price"),
        ("What are your opening hours?", "hours"),
        ("영업시간이 어떻게 되나요?", "hours"),
        ("hello?", None),
        ("", None),
    ],
)
def test_the_default_rules_in_korean_and_english(text, intent):
    assert classify(text, DEFAULT_RULES, "any-account") == intent


def test_an_accounts_own_rules_come_before_the_global_ones_and_apply_only_to_it():
    rules = [IntentRule("returns", ("refund",)), IntentRule("vip_refund", ("refund",), account="vip-line")]
    assert classify("refund please", rules, "vip-line") == "vip_refund"
    assert classify("refund please", rules, "other") == "returns"


def test_regular_expressions_match_too():
    assert classify("parcel RMA-20331 status", [IntentRule("returns", patterns=(r"\bRMA-\d+",))], "a") == "returns"


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Can I talk to an agent?", True),
        ("I want a human", True),
        ("상담원 연결해 주세요", True),
        ("The agency sent me here", False),  # a word containing "agent" is not a request
        ("humane shipping?", False),
        (None, False),
    ],
)
def test_asking_for_a_person(text, asks):
    assert asks_for_a_person(text) is asks


@pytest.mark.parametrize(
    ("text", "number"),
    [("Where is #1234?", "1234"), ("order 98765 please", "98765"), ("주문번호 4321", "4321"), ("order 12", None)],
)
def test_order_numbers_are_found_where_customers_write_them(text, number):
    assert order_number(text) == number


def test_only_a_bounded_prefix_of_a_message_is_classified():
    # A keyword past the prefix is not read: a 100 KB paste costs what its first 2,000 characters cost.
    padding = "x" * CLASSIFY_PREFIX
    assert classify(padding + " refund", DEFAULT_RULES, "a") is None
    assert classify(padding[:-10] + " refund", DEFAULT_RULES, "a") == "refund"
    assert order_number(padding + " #1234") is None
    assert asks_for_a_person(padding + " agent") is False
    assert len(bounded(" " * 100_000)) == CLASSIFY_PREFIX


def test_patterns_run_on_re2_so_a_catastrophic_pattern_matches_in_linear_time():
    # (a+)+$ backtracks exponentially in Python's re on "aaa...ab"; RE2 has no backtracking to do.
    rule = IntentRule("slow", patterns=(r"(a+)+$",))
    assert all(type(p).__module__ == "re2" for p in rule._compiled)
    assert classify("a" * (CLASSIFY_PREFIX - 1) + "b", [rule], "a") is None
    assert type(ORDER_NUMBER).__module__ == "re2"


def test_patterns_re2_cannot_run_in_linear_time_are_refused_and_skipped_if_stored():
    for pattern in (r"(a)\1", r"(?<=#)\d+", r"(?=x)y", "a" * (PATTERN_MAX + 1)):
        assert pattern_problem(pattern) is not None
    assert pattern_problem(r"\bRMA-\d+") is None
    assert r"(a)\1" in (pattern_problem(r"(a)\1") or "")  # the refusal names the pattern
    stored_before_the_check = IntentRule("old", keywords=("refund",), patterns=(r"(a)\1",))
    assert classify("refund", [stored_before_the_check], "a") == "old"


def test_the_order_number_pattern_has_no_ambiguous_whitespace():
    # The shipped pattern had two adjacent \s* around an optional word: quadratic on runs of spaces.
    assert r"\s*(?:no" not in ORDER_NUMBER.pattern
    assert order_number("order" + " " * 1500 + "1234") == "1234"
    assert order_number("order no. 1234") == "1234"
    assert order_number("order number  4321") == "4321"


def test_a_lone_surrogate_in_a_message_does_not_break_classification():
    assert classify("\ud800 refund", DEFAULT_RULES, "a") == "refund"
    assert order_number("\udfff #5678") == "5678"
