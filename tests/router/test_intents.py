"""Intent rules in Korean and English, a customer asking for a person, order numbers."""

import pytest

from router.intents import DEFAULT_RULES, IntentRule, asks_for_a_person, classify, order_number


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
