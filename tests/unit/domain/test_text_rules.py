"""Free-text rules: control characters are refused or normalised per field, and each rule's JSON Schema
pattern (published in the OpenAPI document) accepts exactly what its validator accepts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.booking import Customer
from shared.domain.text import PLAIN_PATTERN, TEXT_PATTERN, multi_line, plain, single_line

INJECTED = "Bob\u0000\r\nX-Injected: 1"


@pytest.mark.parametrize("value", [INJECTED, "a\tb", "a\nb", "\u001b[31mred", "x\u202ey", "x\u2028y", "\u0085", "a\x7f"])
def test_plain_text_refuses_every_control_character(value):
    with pytest.raises(ValueError, match="control characters"):
        plain(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("1200 W Fullerton Ave\r\nApt 2", "1200 W Fullerton Ave Apt 2"),
    ("a\t\tb\n\nc", "a b c"),
    ("a\u2028b\u0085c", "a b c"),
    ("  Ünïcödé, 北京 ", "Ünïcödé, 北京"),
])
def test_single_line_text_turns_line_breaks_and_tabs_into_one_space(value, expected):
    assert single_line(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    ("one\r\ntwo\rthree\nfour", "one\ntwo\nthree\nfour"),
    ("a\tb\u2029c", "a b\nc"),
])
def test_multi_line_text_keeps_line_breaks_as_lf(value, expected):
    assert multi_line(value) == expected


@pytest.mark.parametrize("rule", [single_line, multi_line])
@pytest.mark.parametrize("value", [INJECTED, "bell\u0007", "\u001b[2J", "rtl\u202eoverride", "ff\u000c", "vt\u000b"])
def test_text_with_line_breaks_still_refuses_other_controls(rule, value):
    with pytest.raises(ValueError, match="control characters"):
        rule(value)


@given(st.text(max_size=30))
def test_each_pattern_accepts_exactly_what_its_rule_accepts(value):
    for pattern, rule in ((PLAIN_PATTERN, plain), (TEXT_PATTERN, single_line), (TEXT_PATTERN, multi_line)):
        try:
            rule(value)
            accepted = True
        except ValueError:
            accepted = False
        assert accepted == bool(re.fullmatch(pattern, value)), (pattern, value)


def test_the_customer_model_applies_the_rules_per_field():
    with pytest.raises(ValidationError) as refused:
        Customer(name=INJECTED, phone="+10000000000", email="a@b.co\r\nBcc: x@y.z")
    fields = {error["loc"][0] for error in refused.value.errors()}
    assert fields == {"name", "phone", "email"}
    kept = Customer(name="Alex Morgan", phone="+13125550142", address="1 Main St\r\nApt 2", notes="a\r\nb")
    assert (kept.address, kept.notes) == ("1 Main St Apt 2", "a\nb")
    schema = Customer.model_json_schema()["properties"]
    assert schema["name"]["pattern"] == PLAIN_PATTERN and schema["name"]["maxLength"] == 200
    assert schema["notes"]["anyOf"][0]["pattern"] == TEXT_PATTERN
