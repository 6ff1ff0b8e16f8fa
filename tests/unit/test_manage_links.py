"""The manage link's token: short, names one booking, expires after the visit, refuses any alteration."""

from __future__ import annotations

import string
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.services import manage_links as links

UTC = timezone.utc
SECRET = "k" * 32
BOOKING = "bk_0123456789abcdef01234567"
END = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)
BEFORE = END - timedelta(days=3)
ALPHABET = string.ascii_letters + string.digits + "-_"


def test_a_token_is_short_enough_for_a_text_and_reads_back():
    token = links.issue(SECRET, BOOKING, END)
    assert len(token) <= 60 and set(token) <= set(ALPHABET)
    claims = links.read(SECRET, token, BEFORE)
    assert claims.booking_id == BOOKING and claims.expires_at == END + timedelta(days=1)


def test_other_booking_ids_still_work_just_longer():
    token = links.issue(SECRET, "bk_test_voice:42", END)
    assert links.read(SECRET, token, BEFORE).booking_id == "bk_test_voice:42"


def test_a_token_expires_a_day_after_the_appointment():
    token = links.issue(SECRET, BOOKING, END)
    assert links.read(SECRET, token, END + timedelta(hours=23, minutes=59)).booking_id == BOOKING
    with pytest.raises(links.InvalidLink) as refused:
        links.read(SECRET, token, END + timedelta(days=1))
    assert refused.value.reason == "expired"


def test_another_secret_or_another_version_is_refused():
    token = links.issue(SECRET, BOOKING, END)
    with pytest.raises(links.InvalidLink) as refused:
        links.read("z" * 32, token, BEFORE)
    assert refused.value.reason == "forged"
    raw = bytearray(links._bytes_of(token))
    raw[0] = 2
    import base64
    other_version = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(links.InvalidLink):
        links.read(SECRET, other_version, BEFORE)


@pytest.mark.parametrize("junk", ["", "a", "====", "bk_0123", "é" * 10, "a" * 500, "AAAA AAAA", "../../etc"])
def test_junk_is_malformed_not_a_crash(junk):
    with pytest.raises(links.InvalidLink):
        links.read(SECRET, junk, BEFORE)


@settings(max_examples=300, deadline=None)
@given(position=st.integers(min_value=0, max_value=59), replacement=st.sampled_from(ALPHABET))
def test_changing_any_one_character_is_refused(position, replacement):
    token = links.issue(SECRET, BOOKING, END)
    position %= len(token)
    if token[position] == replacement:
        return
    altered = token[:position] + replacement + token[position + 1:]
    with pytest.raises(links.InvalidLink):
        links.read(SECRET, altered, BEFORE)


@settings(max_examples=100, deadline=None)
@given(cut=st.integers(min_value=1, max_value=45), extra=st.text(alphabet=ALPHABET, max_size=4))
def test_cutting_or_extending_a_token_is_refused(cut, extra):
    token = links.issue(SECRET, BOOKING, END)
    for altered in (token[:-cut], token + extra if extra else token[:-1]):
        with pytest.raises(links.InvalidLink):
            links.read(SECRET, altered, BEFORE)


@settings(max_examples=100, deadline=None)
@given(hex_id=st.text(alphabet="0123456789abcdef", min_size=24, max_size=24))
def test_a_token_names_exactly_its_own_booking(hex_id):
    booking_id = "bk_" + hex_id
    assert links.read(SECRET, links.issue(SECRET, booking_id, END), BEFORE).booking_id == booking_id


def test_the_booking_as_stored_decides_what_a_genuine_link_may_do():
    assert links.judge("confirmed", END, BEFORE) == "ok"
    assert links.judge("cancelled", END, BEFORE) == "cancelled"
    assert links.judge("confirmed", END, END + timedelta(days=1)) == "expired"  # moved earlier: ends sooner
    assert links.judge(None, None, BEFORE) == "unknown"
    assert links.judge("held", END, BEFORE) == "unknown"


def test_a_short_secret_is_refused():
    with pytest.raises(ValueError):
        links.issue("short", BOOKING, END)


def test_the_url_is_under_the_public_base():
    assert links.manage_url("https://app.example.com/", "abc") == "https://app.example.com/api/manage/abc"


def test_every_other_last_character_is_refused_even_where_base64_has_spare_bits():
    token = links.issue(SECRET, BOOKING, END)
    for replacement in ALPHABET.replace(token[-1], ""):
        with pytest.raises(links.InvalidLink):
            links.read(SECRET, token[:-1] + replacement, BEFORE)
