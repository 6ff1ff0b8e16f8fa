"""Phone numbers typed by callers and staff become the E.164 numbers Frontdesk texts (or a clear refusal)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.domain.phones import InvalidPhoneNumber, check_e164, is_e164, region_of, to_e164, try_e164


@pytest.mark.parametrize(("raw", "region", "expected"), [
    ("(415) 555-2671", "US", "+14155552671"),
    ("415.555.2671", "US", "+14155552671"),
    ("415 555 2671", "US", "+14155552671"),
    ("1-415-555-2671", "US", "+14155552671"),
    ("  +1 (415) 555-2671  ", "US", "+14155552671"),
    ("+14155552671", "GB", "+14155552671"),  # a country code wins over the default region
    ("011 44 20 7946 0958", "US", "+442079460958"),  # dialled from the US with its exit code
    ("020 7946 0958", "GB", "+442079460958"),
    ("0044 20 7946 0958", "GB", "+442079460958"),
    ("030/12345678", "DE", "+493012345678"),
    ("(02) 9374 4000", "AU", "+61293744000"),
    ("415 555 2671", "us", "+14155552671"),  # region codes are not case sensitive
])
def test_national_and_international_formats_become_e164(raw, region, expected):
    assert to_e164(raw, region) == expected


@pytest.mark.parametrize(("raw", "region", "problem"), [
    ("", "US", "empty"),
    ("   ", "US", "empty"),
    ("555-1234", "US", "not a valid phone number"),  # seven digits: no area code
    ("1-800-FLOWERS", "US", "only digits"),  # vanity letters are refused, not guessed
    ("five five five", "US", "only digits"),
    ("415 555 2671 ext 12", "US", "only digits"),  # an extension cannot receive a text
    ("+1 415 555 2671; DROP TABLE", "US", "only digits"),
    ("+999 1234 5678", "US", "country code"),
    ("4155552671", "ZZ", "unknown default region"),
    ("1" * 41, "US", "too long"),
    ("+", "US", "not a phone number"),
])
def test_what_is_not_a_textable_number_is_refused_with_a_reason(raw, region, problem):
    with pytest.raises(InvalidPhoneNumber, match=problem):
        to_e164(raw, region)


def test_try_e164_returns_none_instead_of_raising():
    assert try_e164("not a number") is None
    assert try_e164(None) is None
    assert try_e164("(415) 555-2671") == "+14155552671"


def test_shape_and_region_helpers():
    assert is_e164("+14155552671")
    assert not is_e164("4155552671")
    assert not is_e164("+0123456789")
    assert region_of("+442079460958") == "GB"
    assert region_of("garbage") is None


@given(st.sampled_from(["(", ")", "-", ".", " ", "/"]), st.integers(0, 9_999_999))
def test_punctuation_never_changes_the_number(sep, line):
    digits = f"415{line:07d}"
    plain = try_e164(digits, "US")
    punctuated = try_e164(sep.join([digits[:3], digits[3:6], digits[6:]]), "US")
    assert punctuated == plain


@given(st.integers(2_000_000_000, 9_999_999_999))
def test_normalising_is_idempotent(national):
    first = try_e164(str(national), "US")
    if first is not None:
        assert to_e164(first, "US") == first
        assert is_e164(first)


@pytest.mark.parametrize("number", ["+13125550142", "+14155552671", "+442079460958", "+493012345678", "+61293744000"])
def test_numbers_that_exist_pass_the_api_check_unchanged(number):
    assert check_e164(number) == number


@pytest.mark.parametrize(("number", "problem"), [
    ("+10000000000", "not a valid phone number for country code \\+1"),  # E.164's shape, no such US number
    ("+15551234567", "not a valid phone number"),  # 555 is not an area code
    ("+1312555014", "not a possible phone number.*wrong length"),
    ("+44207946095812", "not a possible phone number for country code \\+44"),
    ("+999123456789", "unknown country code"),
    ("+112345678901", "not written as E.164"),  # parses (a national prefix after +1) but gateways refuse it
    ("3125550142", "must be an E.164 number"),
    ("+1 312 555 0142", "must be an E.164 number"),
])
def test_the_api_check_refuses_what_cannot_be_texted(number, problem):
    with pytest.raises(InvalidPhoneNumber, match=problem):
        check_e164(number)


@given(st.integers(2_000_000_000, 9_999_999_999))
def test_the_api_check_agrees_with_normalising(national):
    """A number the receptionist accepts from a caller is one the API accepts, and the other way round."""
    normalised = try_e164(str(national), "US")
    candidate = f"+1{national}"
    try:
        accepted = check_e164(candidate) == candidate
    except InvalidPhoneNumber:
        accepted = False
    assert accepted == (normalised == candidate)
