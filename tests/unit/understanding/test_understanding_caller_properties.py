"""Properties of understanding callers, over many generated utterances: a phone number spoken digit by digit in
any grouping reads back, an excluded day is never accepted, the caller's last word wins, and the built-in
vocabulary recognises every appliance and fixture it lists (for Lakeshore, config/business.example.yaml)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from shared.domain.phones import try_e164
from shared.domain.understanding import accepts, parse
from shared.domain.understanding.vocabulary import NOT_OFFERED, TOPICS

CHICAGO = "America/Chicago"
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TENS = {2: "twenty", 3: "thirty", 4: "forty", 5: "fifty", 6: "sixty", 7: "seventy", 8: "eighty", 9: "ninety"}
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
NOWS = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(timezone.utc))


def _pair(number: int) -> str:
    """10..99 as said: "twenty one", "fourteen", "forty"."""
    if number < 20:
        return TEENS[number - 10]
    tens, unit = divmod(number, 10)
    return TENS[tens] + (f" {DIGIT_WORDS[unit]}" if unit else "")


def _speak(digits: str, draw, *, hundreds: bool) -> str:
    """Digits as a caller says them: one by one, "oh" or "zero", "double"/"triple", "twenty one hundred"."""
    if hundreds and len(digits) == 4 and digits.endswith("00") and digits[0] != "0" and draw(st.booleans()):
        return f"{_pair(int(digits[:2]))} hundred"
    words, i = [], 0
    while i < len(digits):
        run = len(digits[i:]) - len(digits[i:].lstrip(digits[i]))
        if run >= 3 and draw(st.booleans()):
            words.append(f"triple {DIGIT_WORDS[int(digits[i])]}")
            i += 3
        elif run >= 2 and draw(st.booleans()):
            words.append(f"double {DIGIT_WORDS[int(digits[i])]}")
            i += 2
        else:
            words.append(draw(st.sampled_from(["oh", "zero"])) if digits[i] == "0" else DIGIT_WORDS[int(digits[i])])
            i += 1
    return " ".join(words)


@settings(max_examples=250, deadline=None)
@given(data=st.data(), area=st.sampled_from(["312", "773", "847", "630", "708", "212", "415", "617", "303"]),
       exchange=st.integers(200, 999), line=st.integers(0, 9999),
       joiners=st.lists(st.sampled_from([" ", ", ", " - ", " um ", " uh ", " and then ", " then "]), min_size=2,
                        max_size=2),
       lead=st.sampled_from(["", "yeah it's ", "area code ", "my cell is ", "you can reach me at ", "it is "]))
def test_a_phone_number_spoken_in_any_grouping_reads_back(data, area, exchange, line, joiners, lead):
    digits = f"{area}{exchange:03d}{line:04d}"
    e164 = try_e164(digits, "US")
    assume(e164 is not None)
    groups = [_speak(area, data.draw, hundreds=False), _speak(f"{exchange:03d}", data.draw, hundreds=False),
              _speak(f"{line:04d}", data.draw, hundreds=True)]
    text = lead + groups[0] + joiners[0] + groups[1] + joiners[1] + groups[2]
    u = parse(text, now=datetime(2025, 3, 6, 16, tzinfo=timezone.utc), time_zone=CHICAGO, expecting="phone")
    assert u.phone == e164, text


EXCLUSIONS = ["not {d}", "any day but {d}", "anything except {d}", "i work {d}s", "{d} is no good for me",
              "i can't do {d}", "anything but {d} really", "just not on a {d}", "{d} doesn't work", "no {d}s"]
PARTS_OF_DAY = ["in the afternoon ", "mornings "]
WITH = ["", "next week ", "sometime in the next couple weeks ", "any time "] + PARTS_OF_DAY


@settings(max_examples=250, deadline=None)
@given(now=NOWS, weekday=st.sampled_from(WEEKDAYS), template=st.sampled_from(EXCLUSIONS),
       positive=st.sampled_from(WITH), order=st.booleans())
def test_an_excluded_day_is_never_accepted(now, weekday, template, positive, order):
    exclusion = template.format(d=weekday)
    if positive in PARTS_OF_DAY:
        order = True  # "not Monday in the afternoon" excludes only Monday afternoons; "afternoons but not Monday" all
    text = f"{positive}but {exclusion}" if order and positive else f"{exclusion} {positive}".strip()
    prefs = parse(text, now=now, time_zone=CHICAGO, expecting="time").times
    assert any(p.kind == "not" for p in prefs), text
    tz = ZoneInfo(CHICAGO)
    local_today = now.astimezone(tz).date()
    for offset in range(1, 29):
        day = local_today + timedelta(days=offset)
        for hour in (9, 15):
            slot = datetime(day.year, day.month, day.day, hour, tzinfo=tz)
            if accepts(prefs, slot, CHICAGO):
                assert WEEKDAYS[day.weekday()] != weekday, (text, slot)


MARKERS = [", no wait, ", " no ", " actually ", ", sorry, i mean ", " no make that ", " on second thought "]


@settings(max_examples=200, deadline=None)
@given(now=NOWS, first=st.sampled_from(WEEKDAYS), second=st.sampled_from(WEEKDAYS), marker=st.sampled_from(MARKERS))
def test_the_last_day_said_wins(now, first, second, marker):
    assume(first != second)
    text = f"{first}{marker}{second}"
    prefs = parse(text, now=now, time_zone=CHICAGO, expecting="time").times
    tz = ZoneInfo(CHICAGO)
    local_today = now.astimezone(tz).date()
    accepted = {WEEKDAYS[d.weekday()] for d in (local_today + timedelta(days=n) for n in range(1, 15))
                if accepts(prefs, datetime(d.year, d.month, d.day, 11, tzinfo=tz), CHICAGO)}
    assert accepted == {second}, (text, prefs)


YES = ["yes", "yeah", "yep go ahead", "sure book it", "okay that works", "yes please", "perfect", "go ahead"]
NO = ["no", "nope", "no thanks", "nah", "that won't work", "not really", "no don't book it", "hold off"]
CHANGES = [" actually ", " wait actually ", ", no wait, ", " on second thought ", " sorry i mean ", " hmm actually "]


@settings(max_examples=200, deadline=None)
@given(first_yes=st.booleans(), data=st.data(), change=st.sampled_from(CHANGES))
def test_the_last_yes_or_no_wins(first_yes, data, change):
    first = data.draw(st.sampled_from(YES if first_yes else NO))
    second = data.draw(st.sampled_from(NO if first_yes else YES))
    u = parse(f"{first}{change}{second}", now=datetime(2025, 3, 6, 16, tzinfo=timezone.utc), time_zone=CHICAGO,
              expecting="confirm")
    assert u.answer == ("no" if first_yes else "yes"), f"{first}{change}{second}"


SYMPTOMS = ["my {t} is broken", "the {t} stopped working", "i need someone to look at my {t}",
            "there's something wrong with the {t}", "{t} acting up again"]


def _things(topics: dict, trade: str | None = None) -> list[str]:
    return sorted({t for topic in topics.values() if trade in (None, topic.trade) for t in topic.things
                   if len(t) > 3})


@pytest.mark.parametrize("thing", _things(NOT_OFFERED))
def test_every_listed_appliance_or_trade_not_offered_is_recognised(understand, thing):
    for template in SYMPTOMS[:2]:
        u = understand(template.format(t=thing), expecting="need")
        assert u.not_offered is not None and u.event_type is None, (thing, u)


@pytest.mark.parametrize("thing", _things(TOPICS, "electrical"))
def test_electrical_work_is_not_offered_by_a_plumbing_and_heating_business(understand, thing):
    u = understand(f"my {thing} is acting up", expecting="need")
    assert u.not_offered == "electrical work", (thing, u)


@pytest.mark.parametrize("thing", _things(TOPICS, "plumbing") + _things(TOPICS, "hvac"))
def test_plumbing_and_heating_things_are_never_turned_away(understand, thing):
    for template in SYMPTOMS:
        u = understand(template.format(t=thing), expecting="need")
        assert u.not_offered is None, (template.format(t=thing), u)
