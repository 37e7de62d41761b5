"""The bot's decisions: answer from a template or live order data, or hand over to an agent."""

from router.bot import (
    ASK_FOR_ORDER_NUMBER,
    DEFAULT_TEMPLATES,
    MAX_TURNS,
    Answer,
    BotTurn,
    Handoff,
    LookupFailed,
    Order,
    render,
    respond,
)


def test_an_order_status_question_is_answered_from_the_orders_data():
    turn = BotTurn("Where is #1234?", "order_status", 0, Order("1234", "out_for_delivery", "2026-11-25"))
    assert respond(turn, DEFAULT_TEMPLATES) == Answer(
        "Order #1234 is out for delivery, arriving 2026-11-25. Anything else I can help with?"
    )


def test_an_order_question_without_a_number_asks_for_it():
    assert respond(BotTurn("where is my order", "order_status", 0), DEFAULT_TEMPLATES) == Answer(ASK_FOR_ORDER_NUMBER)


def test_a_failed_lookup_hands_over():
    turn = BotTurn("#1230?", "order_status", 0, LookupFailed("1230"))
    assert respond(turn, DEFAULT_TEMPLATES) == Handoff("lookup_failed")


def test_asking_for_a_person_hands_over_even_with_an_intent():
    assert respond(BotTurn("refund, or a human please", "refund", 1), DEFAULT_TEMPLATES) == Handoff("asked_for_person")


def test_an_unknown_intent_hands_over():
    assert respond(BotTurn("my cat ate the box", None, 1), DEFAULT_TEMPLATES) == Handoff("unknown_intent")


def test_an_intent_without_a_template_hands_over():
    assert respond(BotTurn("x", "warranty", 0), DEFAULT_TEMPLATES) == Handoff("unknown_intent")


def test_the_bot_stops_after_its_last_turn():
    assert respond(BotTurn("refund?", "refund", MAX_TURNS), DEFAULT_TEMPLATES) == Handoff("too_many_turns")


def test_placeholders_are_filled_and_a_missing_one_is_left_readable():
    assert render("Hi {customer_name}, order {order_id}", {"customer_name": "Dana"}) == "Hi Dana, order {order_id}"
