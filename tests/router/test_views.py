"""Every field the agent/admin API reads is bounded and storable."""

import pytest
from pydantic import ValidationError

from router.automation_api import NewIntentRule, ScheduleUpdate, SwitchUpdate
from router.contacts_api import CrmRecord, Identity
from router.quick_replies_api import NewQuickReply
from router.views import LIST_MAX, NAME_MAX, TEXT_MAX, NewAgent, NewNote, NewReply, TransferRequest

BAD_AGENTS = [
    {"name": ""},
    {"name": "   "},
    {"name": "x" * (NAME_MAX + 1)},
    {"name": "a\x00b"},
    {"name": "\ud800"},
    {"name": "line\nbreak"},
    {"name": "rtl\u202eoverride"},
    {"name": "Ana", "max_pending": 10**30},
    {"name": "Ana", "max_pending": -1},
    {"name": "Ana", "max_pending": 1.5},
    {"name": "Ana", "skills": ["x" * 65]},
    {"name": "Ana", "skills": [""]},
    {"name": "Ana", "skills": ["s\x00"]},
    {"name": "Ana", "skills": [f"s{n}" for n in range(LIST_MAX + 1)]},
    {"name": "Ana", "languages": ["english please"]},
    {"name": "Ana", "languages": ["e" * 40]},
    {"name": "Ana", "languages": [5]},
    {"name": "Ana", "unknown": 1},
]


@pytest.mark.parametrize("body", BAD_AGENTS)
def test_agent_fields_are_bounded(body):
    with pytest.raises(ValidationError):
        NewAgent.model_validate(body)


def test_an_ordinary_agent_is_accepted():
    agent = NewAgent.model_validate({"name": "Ana Kim", "skills": ["billing"], "languages": ["ko", "pt-BR"]})
    assert agent.max_pending == 5


@pytest.mark.parametrize("model", [NewReply, NewNote])
@pytest.mark.parametrize("text", ["", "x" * (TEXT_MAX + 1), "a\x00b", "\udc00"])
def test_reply_and_note_texts_are_bounded_and_storable(model, text):
    with pytest.raises(ValidationError):
        model.model_validate({"text": text})


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (NewIntentRule, {"intent": "refund", "position": 10**30}),
        (NewIntentRule, {"intent": "refund", "position": -(10**30)}),
        (NewIntentRule, {"intent": "refund", "keywords": ["k\x00"]}),
        (NewIntentRule, {"intent": "refund", "keywords": ["k" * 65]}),
        (NewIntentRule, {"intent": "refund", "patterns": ["p"] * (LIST_MAX + 1)}),
        (NewIntentRule, {"intent": "refund", "patterns": [r"(a)\1"]}),
        (NewIntentRule, {"intent": "refund", "reply": "Hi {who}"}),
        (NewIntentRule, {"intent": "refund", "reply": "Hi {customer_name.__class__}"}),
        (NewIntentRule, {"intent": "refund", "reply": "unbalanced {"}),
        (NewIntentRule, {"intent": "refund", "account": "a" * 321}),
        (NewIntentRule, {"intent": "x" * 41}),
        (ScheduleUpdate, {"schedule": {}, "min_interval_s": 10**30}),
        (ScheduleUpdate, {"schedule": {}, "min_interval_s": -1}),
        (ScheduleUpdate, {"schedule": {}, "greeting": "x" * (TEXT_MAX + 1)}),
        (ScheduleUpdate, {"schedule": {}, "away_template": "a\x00"}),
        (SwitchUpdate, {"enabled": False, "account": "a\x00"}),
        (Identity, {"channel": "whatsapp", "external_id": "x" * 321}),
        (Identity, {"channel": "x" * 65, "external_id": "1"}),
        (Identity, {"channel": "whatsapp", "external_id": "a\x00"}),
        (CrmRecord, {"channel": "whatsapp", "external_id": "1", "attributes": {"monthly_spend": "NaN"}}),
        (CrmRecord, {"channel": "whatsapp", "external_id": "1", "display_name": "x" * (NAME_MAX + 1)}),
        (NewQuickReply, {"shortcut": "/price", "text": "a\x00"}),
        (NewQuickReply, {"shortcut": "/price", "text": "x" * (TEXT_MAX + 1)}),
        (TransferRequest, {"to": "queue", "to_agent_id": "00000000-0000-0000-0000-000000000001"}),
    ],
)
def test_admin_fields_are_bounded(model, body):
    with pytest.raises(ValidationError):
        model.model_validate(body)


def test_a_rule_with_linear_patterns_and_a_known_template_is_accepted():
    rule = NewIntentRule.model_validate(
        {"intent": "returns", "patterns": [r"\bRMA-\d+"], "reply": "Hi {customer_name}", "position": 3}
    )
    assert rule.patterns == [r"\bRMA-\d+"]
