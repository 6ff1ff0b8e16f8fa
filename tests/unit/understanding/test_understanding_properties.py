"""Properties of the local parser: it never fails or stalls on odd text, future phrases give future times in
any zone (across daylight-saving changes and year ends), and spoken numbers read back exactly."""

from __future__ import annotations

import gc
import statistics
import time
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.domain.phones import try_e164
from shared.domain.understanding import Understanding, parse, warm_up
from understanding_corpus import CASES, parse_case

ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Phoenix", "Europe/London",
         "Australia/Sydney", "Pacific/Auckland", "Asia/Kolkata"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
VOCABULARY = (WEEKDAYS + MONTHS + DIGIT_WORDS + [
    "tomorrow", "today", "tonight", "next", "week", "weekend", "morning", "afternoon", "evening", "at", "after",
    "before", "between", "and", "or", "not", "no", "yes", "yeah", "the", "first", "second", "one", "oh", "double",
    "half", "past", "quarter", "to", "noon", "pm", "am", "p", "m", "a", "in", "days", "my", "name", "is", "number",
    "street", "apartment", "zip", "code", "sink", "leak", "gas", "smell", "flooding", "burst", "pipe", "actually",
    "i", "mean", "sorry", "um", "uh", "like", "you", "know", "cancel", "appointment", "hundred", "thousand", "14th",
    "3:30", "12/3", "60614", "312", "555", "0100", "-", ",", ".", "?", "'s", "can't", "o'clock", "ignore",
    "instructions", "any", "time", "but", "except", "busy", "doesn't", "work", "earliest", "asap", "this", "that"])
# A limit no single utterance may exceed even on a busy shared machine (it catches runaway regular
# expressions, which cost seconds); the 5 ms budget is asserted on the corpus below and the benchmark
# (bench/understanding.py) reports the real figures.
HARD_LIMIT_SECONDS = 0.25
NOW = datetime(2025, 3, 6, 16, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", autouse=True)
def _warm():
    warm_up()  # the date fallback's first use is slow by design; production warms it at start-up


def _parse_timed(text: str, **kwargs) -> tuple[Understanding, float]:
    """The parse and the CPU time it took: what a runaway pattern costs, not how busy the machine is, nor a
    garbage collection of the whole worker's heap that happened to fall inside it (one took 0.35 s in a
    fresh-clone run, on a parse that takes 3 ms)."""
    gc.disable()
    try:
        started = time.thread_time()
        understanding = parse(text, **kwargs)
        return understanding, time.thread_time() - started
    finally:
        gc.enable()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.one_of(st.text(max_size=400),
                      st.lists(st.sampled_from(VOCABULARY), max_size=60).map(" ".join)),
       expecting=st.sampled_from([None, "need", "name", "address", "postal_code", "phone", "email", "time",
                                  "choice", "confirm"]),
       zone=st.sampled_from(ZONES))
def test_any_text_parses_quickly_without_error(text, expecting, zone):
    understanding, elapsed = _parse_timed(text, now=NOW, time_zone=zone, expecting=expecting,
                                          offered=[NOW + timedelta(days=1), NOW + timedelta(days=1, hours=5)])
    assert isinstance(understanding, Understanding)
    assert elapsed < HARD_LIMIT_SECONDS
    for pref in understanding.times:
        for instant in (pref.start, pref.end):
            assert instant is None or instant.utcoffset() == timedelta(0)


def test_long_and_repetitive_text_stays_fast():
    for text in ("one " * 300, "no " * 300, "9" * 600, "monday or " * 60, "at 3 " * 120, "may 1 " * 100,
                 "the 1st one " * 50, "a" * 600, "ignore " * 100, "five five five " * 40):
        understanding, elapsed = _parse_timed(text, now=NOW, time_zone="America/Chicago", expecting="time")
        assert elapsed < HARD_LIMIT_SECONDS, text[:20]


def test_the_corpus_parses_well_within_the_five_millisecond_budget(catalog):
    per_utterance = []
    for case in CASES:
        runs = []
        for _ in range(3):  # the fastest of three, in CPU time, so a busy neighbour does not count
            started = time.thread_time()
            parse_case(case, catalog)
            runs.append(time.thread_time() - started)
        per_utterance.append(min(runs))
    per_utterance.sort()
    p95 = per_utterance[int(0.95 * (len(per_utterance) - 1))]
    assert statistics.median(per_utterance) < 0.002
    assert p95 < 0.005


# ---------------------------------------------------------------- phrases that mean the future

def _ordinal(day: int) -> str:
    return f"{day}{'th' if 11 <= day <= 13 else {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def _day_phrase(local_today: date) -> st.SearchStrategy[str]:
    def month_day(pair):
        month, day = pair
        return f"{MONTHS[month - 1]} {_ordinal(day)}"

    valid_month_days = st.tuples(st.integers(1, 12), st.integers(1, 28)).filter(
        lambda pair: (pair[0], pair[1]) != (local_today.month, local_today.day))
    return st.one_of(
        st.sampled_from(["tomorrow", "the day after tomorrow", "next week", "early next week", "next weekend",
                         "the week after next", "a week from today", "in a couple of days"]),
        st.sampled_from(WEEKDAYS),
        st.sampled_from(WEEKDAYS).map(lambda d: f"next {d}"),
        st.integers(1, 30).map(lambda n: f"in {n} days"),
        st.sampled_from(DIGIT_WORDS[1:]).map(lambda w: f"in {w} days"),
        st.integers(1, 28).filter(lambda d: d != local_today.day).map(lambda d: f"the {_ordinal(d)}"),
        valid_month_days.map(month_day),
    )


TIME_PHRASES = ["", "in the morning", "in the afternoon", "in the evening", "after 3", "before noon", "at 10",
                "at 2:30 pm", "around 9 am", "between 1 and 3", "at half past 9", "at quarter to 5", "at 8 pm",
                "at 2:30 in the morning", "at 1:30 am", "late afternoon", "after lunch"]


@settings(max_examples=400, deadline=None)
@given(data=st.data(),
       now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(timezone.utc)),
       zone=st.sampled_from(ZONES), time_phrase=st.sampled_from(TIME_PHRASES),
       expecting=st.sampled_from(["time", None, "confirm"]))
def test_phrases_about_the_future_give_future_aware_times(data, now, zone, time_phrase, expecting):
    local_today = now.astimezone(ZoneInfo(zone)).date()
    day = data.draw(_day_phrase(local_today))
    text = f"{day} {time_phrase}".strip()
    understanding = parse(text, now=now, time_zone=zone, expecting=expecting)
    assert understanding.times, text
    for pref in understanding.times:
        assert pref.kind in ("at", "window"), text
        if pref.kind == "at":
            assert pref.start > now, text
        else:
            assert pref.end is None or pref.end > now, text
            assert pref.start is None or pref.start >= now, text
        for instant in (pref.start, pref.end):
            assert instant is None or instant.tzinfo is not None and instant.utcoffset() == timedelta(0)


@settings(max_examples=200, deadline=None)
@given(now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(timezone.utc)),
       zone=st.sampled_from(ZONES), hour=st.integers(1, 12), minute=st.sampled_from([0, 15, 30, 45]),
       meridiem=st.sampled_from(["am", "pm", "a m", "p.m."]))
def test_a_time_without_a_day_is_its_next_occurrence(now, zone, hour, minute, meridiem):
    text = f"at {hour}:{minute:02d} {meridiem}"
    understanding = parse(text, now=now, time_zone=zone, expecting="time")
    (pref,) = understanding.times
    assert pref.kind == "at"
    assert now < pref.start <= now + timedelta(days=1, hours=1)
    local = pref.start.astimezone(ZoneInfo(zone))
    expected_hour = hour % 12 + (12 if meridiem.replace(".", "").replace(" ", "") == "pm" else 0)
    # a wall time skipped by a spring-forward gap moves forward by the gap; otherwise it is what was said
    assert (local.hour, local.minute) == (expected_hour, minute) or local.hour == (expected_hour + 1) % 24


# ---------------------------------------------------------------- spoken numbers

AREA_CODES = ["212", "312", "415", "617", "713", "773", "202", "305", "404", "512", "206", "303"]


def _speak_digits(digits: str, draw) -> str:
    words = []
    i = 0
    while i < len(digits):
        digit = digits[i]
        if i + 1 < len(digits) and digits[i + 1] == digit and draw(st.booleans()):
            words.append(f"double {DIGIT_WORDS[int(digit)]}")
            i += 2
        else:
            words.append(draw(st.sampled_from(["oh", "zero"])) if digit == "0" else DIGIT_WORDS[int(digit)])
            i += 1
        if i in (3, 6) and draw(st.booleans()):
            words.append(draw(st.sampled_from([",", "um", "-", "uh"])))
    return " ".join(words)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), area=st.sampled_from(AREA_CODES), exchange=st.integers(200, 999), line=st.integers(0, 9999),
       lead=st.sampled_from(["", "my number is ", "it's ", "yeah it's ", "you can reach me at "]))
def test_a_phone_number_spoken_digit_by_digit_reads_back_in_e164(data, area, exchange, line, lead):
    digits = f"{area}{exchange:03d}{line:04d}"
    e164 = try_e164(digits, "US")
    assume(e164 is not None)
    text = lead + _speak_digits(digits, data.draw)
    understanding = parse(text, now=NOW, time_zone="America/Chicago", expecting="phone")
    assert understanding.phone == e164, text
    assert understanding.times == []


@settings(max_examples=100, deadline=None)
@given(data=st.data(), digits=st.text(alphabet="0123456789", min_size=5, max_size=5).filter(
    lambda d: not d.startswith("000")))  # no US ZIP starts 000 (and "oh oh oh" alone is an exclamation)
def test_a_zip_code_spoken_digit_by_digit_reads_back(data, digits):
    text = "it's " + _speak_digits(digits, data.draw).replace(",", "").replace(" - ", " ")
    understanding = parse(text, now=NOW, time_zone="America/Chicago", expecting="postal_code")
    assert understanding.postal_code == digits, text


@settings(max_examples=100, deadline=None)
@given(text=st.lists(st.sampled_from(VOCABULARY), max_size=30).map(" ".join))
def test_parsing_is_deterministic(text):
    first = parse(text, now=NOW, time_zone="America/Chicago", expecting="time")
    second = parse(text, now=NOW, time_zone="America/Chicago", expecting="time")
    assert first == second
