"""What the caller said about time, applied to real slot starts the way the dialog will apply it."""

from __future__ import annotations

import pytest

from datetime import timedelta, timezone

from shared.domain.understanding import accepts, search_window
from understanding_corpus import CHICAGO, NOW, instant


def _starts(understand, text, *slots, expecting="time"):
    prefs = understand(text, expecting=expecting).times
    return [accepts(prefs, instant(slot), CHICAGO) for slot in slots]


def test_thursday_afternoon_keeps_only_thursday_afternoon_slots(understand):
    assert _starts(understand, "Thursday afternoon", "2025-03-13 13:00", "2025-03-13 11:00", "2025-03-13 17:00",
                   "2025-03-14 13:00") == [True, False, False, False]


def test_next_week_after_three_but_not_monday(understand):
    assert _starts(understand, "next week after 3 but not Monday", "2025-03-11 15:00", "2025-03-10 16:00",
                   "2025-03-11 14:30", "2025-03-07 16:00") == [True, False, False, False]


def test_an_exact_time_matches_only_that_start(understand):
    assert _starts(understand, "tomorrow at 10", "2025-03-07 10:00", "2025-03-07 10:30") == [True, False]


def test_alternatives_are_either_or(understand):
    assert _starts(understand, "Monday morning or Tuesday after 4", "2025-03-10 09:00", "2025-03-11 16:30",
                   "2025-03-11 09:00", "2025-03-10 16:30") == [True, True, False, False]


def test_no_preference_or_asap_accepts_everything(understand):
    for text in ("as soon as possible", "whenever works", "blah"):
        assert _starts(understand, text, "2025-03-07 09:00", "2025-04-01 15:00") == [True, True]


def test_weekday_evenings_across_daylight_saving_time(understand):
    # "Sunday evening" on the day clocks spring forward: 18:00 CDT is 23:00 UTC, not midnight
    prefs = understand("Sunday evening").times
    assert accepts(prefs, instant("2025-03-09 18:00-05:00"), CHICAGO)
    assert not accepts(prefs, instant("2025-03-09 16:00-05:00"), CHICAGO)


def test_search_window_covers_what_was_said_within_the_horizon(understand):
    now = instant(NOW).astimezone(timezone.utc)  # the horizon is a duration, not wall-clock days
    start, end = search_window(understand("next week after 3").times, now, timedelta(days=30))
    assert (start, end) == (instant("2025-03-10 15:00"), instant("2025-03-17 00:00"))
    start, end = search_window(understand("as soon as possible").times, now, timedelta(days=14))
    assert (start, end) == (now, now + timedelta(days=14))
    start, end = search_window(understand("Thursday or Friday afternoon").times, now, timedelta(days=3))
    assert start == instant("2025-03-07 12:00") and end == now + timedelta(days=3)


@pytest.mark.parametrize("text", ["mornings but not before 9", "I can do a morning, but not too early, like after 9",
                                  "a morning, after 9"])
def test_a_bound_said_after_a_part_of_the_day_narrows_it(understand, text):
    assert _starts(understand, text, "2025-03-07 08:00", "2025-03-07 09:30", "2025-03-07 13:00") == [
        False, True, False]


@pytest.mark.parametrize("text, slots, expected", [
    ("tomorrow morning or at 3", ("2025-03-07 09:00", "2025-03-07 15:00", "2025-03-07 14:00"), [True, True, False]),
    ("tomorrow morning or after 3", ("2025-03-07 09:00", "2025-03-07 15:30", "2025-03-07 13:00"), [True, True, False]),
    ("Thursday or after 3", ("2025-03-13 09:00", "2025-03-07 16:00", "2025-03-07 10:00"), [True, True, False]),
])
def test_a_time_said_as_another_choice_stays_one(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected


@pytest.mark.parametrize("text, slots, expected", [
    ("any day but Monday, I'm off in the afternoons", ("2025-03-10 14:00", "2025-03-11 14:00", "2025-03-11 09:00"),
     [False, True, False]),
    ("Monday I can't, Tuesday is fine", ("2025-03-10 10:00", "2025-03-11 10:00"), [False, True]),
    ("Monday's out, Tuesday works", ("2025-03-10 10:00", "2025-03-11 10:00"), [False, True]),
    ("Friday's a no go, how about Thursday", ("2025-03-07 10:00", "2025-03-13 10:00"), [False, True]),
    ("can you come out Friday", ("2025-03-07 10:00", "2025-03-13 10:00"), [True, False]),
    ("not Monday, I can't do afternoons", ("2025-03-10 09:00", "2025-03-11 14:00", "2025-03-11 09:00"),
     [False, False, True]),
])
def test_what_is_ruled_out_ends_where_the_caller_says_so(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected


def test_the_earlier_the_better_is_as_soon_as_possible(understand):
    assert [p.kind for p in understand("the earlier the better", expecting="time").times] == ["asap"]


@pytest.mark.parametrize("text, slots, expected", [
    # Thursday 6 March: two weeks out is the week of Monday 17 March
    ("in about two weeks, a Tuesday or Thursday", ("2025-03-18 10:00", "2025-03-20 10:00", "2025-03-11 10:00",
                                                   "2025-03-13 10:00"), [True, True, False, False]),
    ("in 2 weeks on a Tuesday", ("2025-03-18 10:00", "2025-03-11 10:00"), [True, False]),
    ("two weeks from now", ("2025-03-20 10:00", "2025-03-13 10:00"), [True, False]),
    ("3 days from now", ("2025-03-09 10:00", "2025-03-07 10:00"), [True, False]),
])
def test_weeks_out_and_the_weekdays_said_with_them(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected


@pytest.mark.parametrize("text, slots, expected", [
    ("any weekday but Wednesday", ("2025-03-12 10:00", "2025-03-11 10:00", "2025-03-08 10:00"), [False, True, False]),
    ("actually wait, Thursday I have a dentist appointment, can we do Friday instead",
     ("2025-03-13 10:00", "2025-03-07 10:00"), [False, True]),
    ("Monday we have plans, Tuesday works", ("2025-03-10 10:00", "2025-03-11 10:00"), [False, True]),
])
def test_a_day_the_caller_is_busy_or_excepts_is_ruled_out(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected


@pytest.mark.parametrize("text, slots, expected", [
    ("any weekday in April", ("2025-04-07 10:00", "2025-04-12 10:00", "2025-03-11 10:00"), [True, False, False]),
    ("sometime in April, on a Tuesday", ("2025-04-08 10:00", "2025-04-09 10:00", "2025-03-11 10:00"),
     [True, False, False]),
    ("early May", ("2025-05-05 10:00", "2025-05-20 10:00"), [True, False]),
    ("end of April", ("2025-04-28 10:00", "2025-04-10 10:00"), [True, False]),
])
def test_a_month_by_name(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected


@pytest.mark.parametrize("text", ["may I ask a question", "by June"])
def test_words_that_only_look_like_a_month_are_no_preference(understand, text):
    assert understand(text, expecting="time").times == []


@pytest.mark.parametrize("text, slots, expected", [
    ("next week but not Monday, and not before ten", ("2025-03-06 11:00", "2025-03-11 11:00", "2025-03-11 09:00",
                                                      "2025-03-10 11:00"), [False, True, False, False]),
    ("the weekend after next", ("2025-03-15 10:00", "2025-03-08 10:00"), [True, False]),
    ("can you come at noonish tomorrow", ("2025-03-07 12:00", "2025-03-07 09:00"), [True, False]),
    ("I work nights so afternoons are best", ("2025-03-07 14:00", "2025-03-07 09:00"), [True, False]),
    ("I work until five so anytime after that", ("2025-03-07 17:30", "2025-03-07 14:00"), [True, False]),
])
def test_timing_as_callers_say_it(understand, text, slots, expected):
    assert _starts(understand, text, *slots) == expected
