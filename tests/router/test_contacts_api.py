"""Which CRM attributes may be stored on a contact: bounded, finite, and storable."""

import pytest

from router.contacts_api import ATTRIBUTE_TEXT_MAX, ATTRIBUTES_MAX, attributes_problem
from router.priority import priority_of


@pytest.mark.parametrize(
    "attributes",
    [
        {"monthly_spend": 1200, "tags": ["priority"], "plan": "gold"},
        {"monthly_spend": "1500.50", "returns_90d": 2},
        {"monthly_spend": None},
        {"note": "NaN"},  # any text in a text attribute; only the numeric ones must be numbers
        {"address": {"city": "Seoul", "lines": ["1", "2"]}},
    ],
)
def test_ordinary_crm_records_are_accepted(attributes):
    assert attributes_problem(attributes) is None


@pytest.mark.parametrize(
    "attributes",
    [
        {"monthly_spend": "NaN"},
        {"monthly_spend": "Infinity"},
        {"returns_90d": "-inf"},
        {"monthly_spend": "sNaN"},
        {"monthly_spend": float("nan")},
        {"monthly_spend": float("inf")},
        {"monthly_spend": "1e999999"},
        {"monthly_spend": [1]},
        {"monthly_spend": True},
        {"score": float("nan")},
        {"big": 10**30},
        {"note": "a\x00b"},
        {"note": "\ud800"},
        {"note": "x" * (ATTRIBUTE_TEXT_MAX + 1)},
        {"": 1},
        {"k" * 65: 1},
        {"bad\nname": 1},
        {f"k{n}": n for n in range(ATTRIBUTES_MAX + 1)},
        {"deep": {"a": {"b": {"c": {"d": 1}}}}},
        {"list": list(range(101))},
    ],
)
def test_values_that_would_break_the_contact_or_the_database_are_refused(attributes):
    assert attributes_problem(attributes) is not None


def test_a_nan_stored_before_the_check_no_longer_breaks_the_contacts_priority():
    assert priority_of({"monthly_spend": "NaN", "returns_90d": "Infinity"}, 0).level == 0
