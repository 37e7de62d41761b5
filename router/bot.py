"""What the bot does with a customer's message: answer it from a template, or hand over to an agent. Pure.

The bot answers an intent that has a reply template; an order-status question is answered from the order
endpoint's data (router/orders.py fetches it). It hands the conversation to the queue, with everything
said so far in its history, when the customer asks for a person, when it does not know what they want
(an unknown intent is a second, unresolved question once it has answered one), when a lookup fails, or
after MAX_TURNS answers.
"""

import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from router.intents import asks_for_a_person

MAX_TURNS = 3

DEFAULT_TEMPLATES: Mapping[str, str] = {
    "order_status": "Order #{order_id} is {order_status}{eta_phrase}. Anything else I can help with?",
    "refund": "You can ask for a refund within 30 days of delivery: reply with your order number and the reason.",
    "invoice": "Your invoice is in your account under Orders > Invoices. Need it sent by email? Just say so.",
    "shipping": "Standard shipping takes 2-4 working days; express arrives the next working day.",
    "price": "Our current prices are at example.com/pricing. Which product are you interested in?",
    "hours": "We're open Monday to Friday, 9:00-18:00.",
}
ASK_FOR_ORDER_NUMBER = "Could you send me your order number (for example #1234)?"

HandoffReason = Literal["asked_for_person", "unknown_intent", "lookup_failed", "too_many_turns"]


@dataclass(frozen=True)
class Order:
    order_id: str
    status: str
    eta: str | None = None


@dataclass(frozen=True)
class LookupFailed:
    order_id: str


@dataclass(frozen=True)
class Answer:
    text: str


@dataclass(frozen=True)
class Handoff:
    reason: HandoffReason


@dataclass(frozen=True)
class BotTurn:
    """What the bot knows when a message arrives."""

    text: str | None
    intent: str | None
    turns_so_far: int
    order: Order | LookupFailed | None = None  # fetched when the intent is order_status and a number was given
    customer_name: str | None = None


def respond(turn: BotTurn, templates: Mapping[str, str]) -> Answer | Handoff:
    if asks_for_a_person(turn.text):
        return Handoff("asked_for_person")
    if turn.turns_so_far >= MAX_TURNS:
        return Handoff("too_many_turns")
    if turn.intent is None or turn.intent not in templates:
        return Handoff("unknown_intent")
    if turn.intent == "order_status":
        if isinstance(turn.order, LookupFailed):
            return Handoff("lookup_failed")
        if turn.order is None:
            return Answer(ASK_FOR_ORDER_NUMBER)
        return Answer(render(templates[turn.intent], _order_fields(turn.order, turn.customer_name)))
    return Answer(render(templates[turn.intent], {"customer_name": turn.customer_name or "there"}))


def render(template: str, fields: Mapping[str, str | None]) -> str:
    """Fill `{placeholders}`; one without a value is left as written rather than failing the reply."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    values = {name: (fields.get(name) if fields.get(name) is not None else "{" + name + "}") for name in names}
    return template.format_map(values)


def _order_fields(order: Order, customer_name: str | None) -> dict[str, str | None]:
    return {
        "order_id": order.order_id,
        "order_status": order.status.replace("_", " "),
        "eta": order.eta,
        "eta_phrase": f", arriving {order.eta}" if order.eta else "",
        "customer_name": customer_name or "there",
    }
