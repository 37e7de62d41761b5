"""Quick replies: shortcuts like `/price` that an agent types and the customer receives as a prepared text.

Pure: the API checks a new quick reply's names here, the store asks `find_clash` under a lock before it
inserts, and the reply handler asks `expand` before it stores the reply.

Names (a shortcut and its synonyms) share one namespace for the whole deployment: an agent answers
conversations from every account, so `/price` must mean the same wherever they type it.
- Shape: `/` then 2-16 of `a-z 0-9 _` (`shape_problem`).
- No duplicate: a name of one quick reply is never a name of another.
- No confusable near-duplicate: a one-key slip must not silently send a different prepared text, so two
  names clash when their normal forms (`normal_form`: `_` dropped, 0->o, 1 and i->l, 5->s, one trailing
  s stripped) are equal, or, both normal forms being 4+ characters, one edit apart (insert, delete,
  substitute, or swap two neighbours). Names of the *same* quick reply may be near each other: that is what
  synonyms are for (`/price`, `/prices`).

Expansion (`expand`): when the reply starts with a name (any case), followed by whitespace or nothing, the
name is replaced by the quick reply's text and whatever the agent typed after it is kept as typed:
`/price` -> "Plans start at 9 EUR.", `/price Anything else?` -> "Plans start at 9 EUR. Anything else?".
A name elsewhere in the reply is not expanded (`/price` in mid-sentence, paths like `/etc/hosts`). An
unknown `/word` is sent as typed.

Placeholders (`PLACEHOLDERS`) are filled from the reply's context. One without a value (a customer whose
name no channel gave us) is dropped with the spaces before it, so "Hi {customer_name}, ..." reads
"Hi, ...": the customer never sees braces. Other placeholder names are refused when the quick reply is
created (`placeholder_problem`), and left as written by `expand`.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple
from uuid import UUID

PLACEHOLDERS = ("customer_name", "agent_name")
SHAPE = re.compile(r"/[a-z0-9_]{2,16}")
# Whitespace may precede the name; the name ends at whitespace or at the end of the reply.
_LEADING_NAME = re.compile(r"\s*(/\w+)(?=\s|$)", re.ASCII)
_PLACEHOLDER = re.compile(r"([ \t]*)\{(\w+)\}")
_LOOKALIKES = str.maketrans({"_": None, "0": "o", "1": "l", "i": "l", "5": "s"})
CONFUSABLE_MIN_LENGTH = 4


@dataclass(frozen=True)
class QuickReply:
    id: UUID
    shortcut: str
    synonyms: tuple[str, ...]
    text: str

    @property
    def names(self) -> tuple[str, ...]:
        return (self.shortcut, *self.synonyms)


@dataclass(frozen=True)
class Clash:
    """A new name refused because of an existing quick reply's name: `detail` says which and why."""

    kind: Literal["duplicate", "confusable"]
    name: str
    existing_name: str
    existing_id: UUID

    @property
    def detail(self) -> str:
        if self.kind == "duplicate":
            return f"{self.name} is already a name of quick reply {self.existing_name} ({self.existing_id})"
        return (
            f"{self.name} is too easily confused with {self.existing_name} of quick reply {self.existing_id}: "
            "a one-key slip would send the other text; choose a more distinct name, "
            f"or add {self.name} as a synonym of {self.existing_name}"
        )


class Expansion(NamedTuple):
    text: str
    used: tuple[UUID, ...]


def shape_problem(name: str) -> str | None:
    """Why `name` cannot be a shortcut or synonym, or None if it can."""
    if SHAPE.fullmatch(name):
        return None
    return f"{name!r} must be / followed by 2 to 16 lowercase letters, digits or _ (e.g. /price)"


def names_problem(shortcut: str, synonyms: Sequence[str]) -> str | None:
    """Why these names cannot belong to one quick reply (a bad shape, a name given twice), or None."""
    for name in (shortcut, *synonyms):
        if problem := shape_problem(name):
            return problem
    names = [shortcut, *synonyms]
    for name in names:
        if names.count(name) > 1:
            return f"{name} is given twice"
    return None


def placeholder_problem(text: str) -> str | None:
    """Why the text's placeholders cannot be filled (an unknown `{name}`), or None."""
    for _, placeholder in _PLACEHOLDER.findall(text):
        if placeholder not in PLACEHOLDERS:
            known = ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            return f"unknown placeholder {{{placeholder}}}; the known ones are {known}"
    return None


def normal_form(name: str) -> str:
    """What a name looks like once lookalike characters are folded together (see the module docstring)."""
    folded = name.removeprefix("/").lower().translate(_LOOKALIKES)
    return folded[:-1] if folded.endswith("s") and len(folded) > 2 else folded


def confusable(a: str, b: str) -> bool:
    """Whether two names are the same name or too close to tell apart (see the module docstring)."""
    x, y = normal_form(a), normal_form(b)
    if x == y:
        return True
    return min(len(x), len(y)) >= CONFUSABLE_MIN_LENGTH and _within_one_edit(x, y)


def find_clash(names: Sequence[str], existing: Iterable[QuickReply]) -> Clash | None:
    """The first of `names` that duplicates or is confusable with a name of an `existing` quick reply."""
    existing = list(existing)
    for name in names:
        for quick_reply in existing:
            for existing_name in quick_reply.names:
                if name == existing_name:
                    return Clash("duplicate", name, existing_name, quick_reply.id)
                if confusable(name, existing_name):
                    return Clash("confusable", name, existing_name, quick_reply.id)
    return None


def leading_name(text: str) -> str | None:
    """The name the reply starts with, lower-cased, if it starts with something shaped like one."""
    match = _LEADING_NAME.match(text)
    if match is None or shape_problem(name := match.group(1).lower()):
        return None
    return name


def expand(text: str, quick_replies: Iterable[QuickReply], context: Mapping[str, str]) -> Expansion:
    """The reply as the customer gets it, and the quick reply it used (if any)."""
    name = leading_name(text)
    if name is None:
        return Expansion(text, ())
    for quick_reply in quick_replies:
        if name in quick_reply.names:
            match = _LEADING_NAME.match(text)
            assert match is not None
            return Expansion(fill(quick_reply.text, context) + text[match.end() :], (quick_reply.id,))
    return Expansion(text, ())


def fill(text: str, context: Mapping[str, str]) -> str:
    """The text with each placeholder replaced by its value (see the module docstring for missing ones)."""

    def value(match: re.Match[str]) -> str:
        spaces, placeholder = match.groups()
        if context.get(placeholder):
            return spaces + context[placeholder]
        return "" if placeholder in PLACEHOLDERS else match.group(0)

    return _PLACEHOLDER.sub(value, text)


def _within_one_edit(x: str, y: str) -> bool:
    """Whether x becomes y by one insertion, deletion, substitution, or swap of two neighbours."""
    if abs(len(x) - len(y)) > 1:
        return False
    prefix = 0
    while prefix < min(len(x), len(y)) and x[prefix] == y[prefix]:
        prefix += 1
    x, y = x[prefix:], y[prefix:]
    if len(x) == len(y):
        return x[1:] == y[1:] or (len(x) >= 2 and x[0] == y[1] and x[1] == y[0] and x[2:] == y[2:])
    shorter, longer = (x, y) if len(x) < len(y) else (y, x)
    return shorter == longer[1:]
