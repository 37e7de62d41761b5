"""Whether an admin's reply template can be rendered safely, checked when it is saved. Pure.

Templates are filled with `str.format_map` (router/bot.py `render`), whose mini-language can reach
attributes and items (`{order_id.__class__}`, `{x[0]}`) or pad a field to any width (`{eta:>999999999}`).
A template may only name the placeholders its renderer fills, bare: no attribute or index access, no
conversion, no format spec, and its braces balance (`{{` and `}}` write literal braces).
"""

import string
from collections.abc import Collection

# The fields router/bot.py fills for an intent's reply template.
REPLY_PLACEHOLDERS = frozenset({"customer_name", "order_id", "order_status", "eta", "eta_phrase"})


def template_problem(template: str, placeholders: Collection[str]) -> str | None:
    """Why `template` cannot be rendered with `placeholders`, or None when it can."""
    try:
        fields = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(template)]
    except ValueError as error:
        return f"unbalanced braces: {error} (write {{{{ and }}}} for literal braces)"
    known = ", ".join("{" + name + "}" for name in sorted(placeholders))
    for name, spec, conversion in fields:
        if name is None:
            continue  # literal text after the last field
        if not name.isidentifier():
            return f"placeholder {{{name}}} must be a bare name; known: {known}"
        if name not in placeholders:
            return f"unknown placeholder {{{name}}}; known: {known}"
        if spec or conversion:
            return f"placeholder {{{name}}} takes no format spec or conversion"
    return None
