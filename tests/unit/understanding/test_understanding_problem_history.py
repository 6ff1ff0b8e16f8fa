"""When the trouble began or how long it has lasted is not when the caller wants us (Thursday 6 March 2025, 10:00)."""

from __future__ import annotations

from datetime import date

import pytest

from shared.domain.understanding import accepts
from understanding_corpus import CHICAGO, instant

HISTORY_ONLY = [
    "there's no hot water since this morning",
    "no heat since last night",
    "it's been leaking since Tuesday",
    "ever since about 6 this morning the sink won't drain",
    "the toilet keeps running all night",
    "the furnace quit last night",
    "my AC stopped working yesterday afternoon",
    "the furnace stopped working this morning",
    "the heat went out Saturday night",
    "it started around 3 this afternoon",
    "water has been backing up for about a week",
    "it's been leaking for the past couple of days",
    "it's been like this for three weeks",
    "the disposal broke a couple of days ago",
    "we noticed it on Sunday",
    "this morning the heat went out",
    "so Monday my water heater started leaking",
]


@pytest.mark.parametrize("text", HISTORY_ONLY)
def test_the_problems_history_is_no_time_preference(understand, text):
    assert understand(text).times == []


@pytest.mark.parametrize("text, first_date", [
    ("the toilet has been running since Friday, can you come Monday", date(2025, 3, 10)),
    ("it broke on Friday, can you come on Monday", date(2025, 3, 10)),
    ("the heat went out Saturday night, can someone come tomorrow", date(2025, 3, 7)),
    ("started leaking this morning, can someone come Tuesday", date(2025, 3, 11)),
    ("it's been leaking for 2 days, in 2 days is fine", date(2025, 3, 8)),
])
def test_the_time_wanted_survives_the_history_told_beside_it(understand, text, first_date):
    [preference] = understand(text).times
    assert preference.first_date == first_date


@pytest.mark.parametrize("text, wanted, other", [
    ("the drain backed up, Thursday morning would be great", "2025-03-13 09:00", "2025-03-13 14:00"),
    ("the pipe burst, tomorrow at 8", "2025-03-07 08:00", "2025-03-07 10:00"),
    ("the pipe burst at 6 this morning, can you come at 2", "2025-03-06 14:00", "2025-03-06 15:00"),
    ("Friday it broke again, how about Monday afternoon", "2025-03-10 14:00", "2025-03-07 14:00"),
])
def test_a_wish_said_after_the_trouble_is_still_a_wish(understand, text, wanted, other):
    prefs = understand(text).times
    assert accepts(prefs, instant(wanted), CHICAGO)
    assert not accepts(prefs, instant(other), CHICAGO)


@pytest.mark.parametrize("text", ["the last week of March", "last Monday of the month", "Saturday night works",
                                  "tomorrow morning"])
def test_times_that_only_look_like_history_stay_preferences(understand, text):
    assert understand(text).times

