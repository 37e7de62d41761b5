"""Quick replies: which names are allowed, which clash, and what the customer receives."""

from uuid import UUID

import pytest

from router.quick_replies import (
    Expansion,
    QuickReply,
    confusable,
    expand,
    fill,
    find_clash,
    leading_name,
    names_problem,
    normal_form,
    placeholder_problem,
    shape_problem,
)

PRICE = QuickReply(UUID(int=1), "/price", ("/cost",), "Plans start at 9 EUR a month.")
HELLO = QuickReply(UUID(int=2), "/hi", (), "Hi {customer_name}, I'm {agent_name}. How can I help?")
CONTEXT = {"customer_name": "Dana", "agent_name": "Ana"}


@pytest.mark.parametrize("name", ["/ab", "/price", "/price_2", "/abcdefghijklmnop", "/__", "/24h"])
def test_a_name_is_a_slash_and_2_to_16_lowercase_letters_digits_or_underscores(name):
    assert shape_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["/a", "/abcdefghijklmnopq", "price", "//price", "/Price", "/pri ce", "/pri-ce", "/prïce", "/", "", "/price/"],
)
def test_other_shapes_are_refused_with_the_rule(name):
    problem = shape_problem(name)
    assert problem is not None
    assert "2 to 16 lowercase letters, digits or _" in problem


def test_a_quick_reply_names_each_name_once_and_every_name_well_shaped():
    assert names_problem("/price", ["/cost", "/prices"]) is None
    assert names_problem("/price", []) is None
    assert names_problem("/price", ["/cost", "/cost"]) == "/cost is given twice"
    assert names_problem("/price", ["/price"]) == "/price is given twice"
    assert "'/Cost' must be" in (names_problem("/price", ["/Cost"]) or "")


def test_only_known_placeholders_are_accepted():
    assert placeholder_problem("Hi {customer_name}, I'm {agent_name}.") is None
    assert placeholder_problem('Use code {SAVE10} or a JSON {"a": 1} as written') == (
        "unknown placeholder {SAVE10}; the known ones are {customer_name}, {agent_name}"
    )
    assert placeholder_problem("Hi {custmer_name}") is not None
    assert placeholder_problem("no placeholders { at all }") is None


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("/price", "prlce"),
        ("/pr1ce", "prlce"),
        ("/prices", "prlce"),
        ("/price_", "prlce"),
        ("/p_r_i_c_e_5", "prlce"),
        ("/c0st", "cost"),  # the s of "cost" is not trailing once the t follows it
        ("/ss", "ss"),  # a trailing s is stripped only if two characters remain
        ("/bus", "bu"),
    ],
)
def test_the_normal_form_folds_lookalikes_underscores_and_a_plural_s(name, normal):
    assert normal_form(name) == normal


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("/price", "/prices"),  # plural
        ("/pr1ce", "/price"),  # digit for letter
        ("/price_", "/price"),  # underscore
        ("/pric3", "/price"),  # one substitution
        ("/prce", "/price"),  # one deletion
        ("/pirce", "/price"),  # two neighbours swapped
        ("/ship", "/shop"),  # a one-key slip sends the other text
        ("/refund", "/refunds"),
        ("/ok", "/0k"),  # short names: only the normal form counts
        ("/hi", "/h1"),
    ],
)
def test_near_duplicates_are_confusable_both_ways(a, b):
    assert confusable(a, b)
    assert confusable(b, a)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("/price", "/cost"),
        ("/price", "/pricing"),  # two edits
        ("/ok", "/on"),  # one edit, but under 4 characters: too many short names would clash
        ("/abc", "/abd"),
        ("/hours", "/address"),
        ("/refund", "/return"),
        ("/shipping", "/shop"),
    ],
)
def test_distinct_names_are_not_confusable(a, b):
    assert not confusable(a, b)
    assert not confusable(b, a)


def test_a_clash_names_the_existing_quick_reply():
    duplicate = find_clash(["/new", "/cost"], [HELLO, PRICE])
    assert duplicate is not None
    assert (duplicate.kind, duplicate.name, duplicate.existing_name, duplicate.existing_id) == (
        "duplicate",
        "/cost",
        "/cost",
        PRICE.id,
    )
    assert "/cost is already a name of quick reply /cost" in duplicate.detail
    near = find_clash(["/prices"], [HELLO, PRICE])
    assert near is not None
    assert (near.kind, near.existing_name, near.existing_id) == ("confusable", "/price", PRICE.id)
    assert str(PRICE.id) in near.detail
    assert "synonym of /price" in near.detail


def test_distinct_names_do_not_clash():
    assert find_clash(["/hours", "/open"], [HELLO, PRICE]) is None
    assert find_clash(["/price"], []) is None


def test_a_reply_that_is_a_name_becomes_the_quick_replys_text():
    assert expand("/price", [HELLO, PRICE], CONTEXT) == Expansion("Plans start at 9 EUR a month.", (PRICE.id,))
    assert expand("/cost", [PRICE], CONTEXT) == Expansion("Plans start at 9 EUR a month.", (PRICE.id,))
    assert expand("  /COST\n", [PRICE], CONTEXT) == Expansion("Plans start at 9 EUR a month.\n", (PRICE.id,))


def test_what_the_agent_types_after_the_name_is_kept_as_typed():
    assert expand("/price Anything else?", [PRICE], CONTEXT).text == "Plans start at 9 EUR a month. Anything else?"
    assert expand("/price\n\nThanks!", [PRICE], CONTEXT).text == "Plans start at 9 EUR a month.\n\nThanks!"


@pytest.mark.parametrize(
    "text",
    [
        "The /price is on the site",  # not at the start
        "/price.",  # not followed by whitespace
        "/prices",  # a near-duplicate is not the name
        "/unknown hello",  # no such quick reply
        "/etc/hosts is wrong",  # not shaped like a name
        "",
    ],
)
def test_other_replies_are_sent_as_typed(text):
    assert expand(text, [HELLO, PRICE], CONTEXT) == Expansion(text, ())


def test_placeholders_are_filled_from_the_context():
    assert expand("/hi", [HELLO], CONTEXT).text == "Hi Dana, I'm Ana. How can I help?"


def test_a_placeholder_without_a_value_is_dropped_with_the_space_before_it():
    assert fill("Hi {customer_name}, I'm {agent_name}.", {"agent_name": "Ana"}) == "Hi, I'm Ana."
    assert fill("Hi {customer_name}!", {"customer_name": "", "agent_name": "Ana"}) == "Hi!"


def test_an_unknown_placeholder_is_left_as_written():
    assert fill("Code {SAVE10} for {customer_name}", CONTEXT) == "Code {SAVE10} for Dana"


def test_a_value_is_inserted_literally():
    assert fill("Hi {customer_name}", {"customer_name": r"{agent_name} \1 $x"}) == r"Hi {agent_name} \1 $x"


def test_the_leading_name_is_lower_cased_and_only_when_shaped_like_a_name():
    assert leading_name("/Price please") == "/price"
    assert leading_name("\t/hi") == "/hi"
    assert leading_name("/a") is None
    assert leading_name("hello /price") is None
