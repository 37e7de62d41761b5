"""Which reply templates an admin may save: only bare, known placeholders, with balanced braces."""

import pytest

from router.bot import render
from router.templates import REPLY_PLACEHOLDERS, template_problem


@pytest.mark.parametrize(
    "template",
    ["Hi {customer_name}, order #{order_id} is {order_status}{eta_phrase}.", "No placeholders", "{{literal}} {eta}"],
)
def test_templates_with_known_bare_placeholders_are_accepted_and_render(template):
    assert template_problem(template, REPLY_PLACEHOLDERS) is None
    render(template, dict.fromkeys(REPLY_PLACEHOLDERS, "x"))


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("Hi {name}", "unknown placeholder {name}"),
        ("Hi {customer_name", "unbalanced"),
        ("Hi customer_name}", "unbalanced"),
        ("{order_id.__class__.__mro__}", "bare name"),
        ("{order_id[0]}", "bare name"),
        ("{eta:>999999999}", "format spec"),
        ("{eta!r}", "conversion"),
        ("{}", "bare name"),
        ("{0}", "bare name"),
    ],
)
def test_templates_that_would_fail_or_reach_into_objects_are_refused(template, reason):
    assert reason in (template_problem(template, REPLY_PLACEHOLDERS) or "")
