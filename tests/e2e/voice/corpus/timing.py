"""When a caller can come: the constraints a booked (or offered) time must meet, and reading offered times.

Constraints are relative to the moment of the call, on the business's wall clock (Chicago), so one corpus
holds at any fixed local time. Keys (all optional, all must hold):

- ``days`` / ``not_days``: allowed / excluded weekdays (``mon`` .. ``sun``);
- ``weekday: true``: Monday to Friday;
- ``before`` / ``after``: the start is before / at or after ``HH:MM``;
- ``part``: ``morning`` (starts before noon), ``afternoon`` (noon to 5 PM), ``evening`` (5 PM or later);
- ``date``: ``today`` or ``tomorrow``; ``in_days: N``: exactly N calendar days from today;
- ``not_today: true``; ``earliest_days: N`` / ``within_days: N``: at least / at most N days from today;
- ``week``: ``this``, ``next`` or ``after_next`` (Monday-to-Sunday weeks);
- ``next_day: fri``: on the next Friday (today excluded);
- ``near: {day: sat, within: 3}``: within N days of the next Saturday (a closed day: the nearest open time).

The receptionist's offers are read the way a person hears them: "Friday, December 11th at 7:30 AM or
9:30 AM", "today at 12:30 PM", "tomorrow at noon".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

CHICAGO = ZoneInfo("America/Chicago")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


def _clock(value: str) -> time:
    hour, minute = (int(part) for part in value.split(":"))
    return time(hour, minute)


def violations(start: datetime, constraints: dict | None, now: datetime) -> list[str]:
    """Which constraints the time ``start`` breaks (empty: it satisfies them all), for a call at ``now``."""
    if not constraints:
        return []
    moment = start.astimezone(CHICAGO)
    today = now.astimezone(CHICAGO).date()
    day = moment.date()
    ahead = (day - today).days
    wall = moment.time()
    weekday = DAYS[moment.weekday()]
    broken = []

    def check(ok: bool, what: str) -> None:
        if not ok:
            broken.append(what)

    c = constraints
    if "days" in c:
        check(weekday in c["days"], f"day {weekday} not in {c['days']}")
    if "not_days" in c:
        check(weekday not in c["not_days"], f"day {weekday} excluded")
    if c.get("weekday"):
        check(moment.weekday() < 5, "not a weekday")
    if "before" in c:
        check(wall < _clock(c["before"]), f"starts {wall:%H:%M}, not before {c['before']}")
    if "after" in c:
        check(wall >= _clock(c["after"]), f"starts {wall:%H:%M}, not after {c['after']}")
    part = c.get("part")
    if part == "morning":
        check(wall < time(12), f"{wall:%H:%M} is not morning")
    elif part == "afternoon":
        check(time(12) <= wall < time(17), f"{wall:%H:%M} is not afternoon")
    elif part == "evening":
        check(wall >= time(17), f"{wall:%H:%M} is not evening")
    if c.get("date") == "today":
        check(ahead == 0, f"{day} is not today")
    elif c.get("date") == "tomorrow":
        check(ahead == 1, f"{day} is not tomorrow")
    if "in_days" in c:
        check(ahead == c["in_days"], f"{day} is not in {c['in_days']} days")
    if c.get("not_today"):
        check(ahead != 0, "today")
    if "earliest_days" in c:
        check(ahead >= c["earliest_days"], f"{day} is sooner than {c['earliest_days']} days")
    if "within_days" in c:
        check(ahead <= c["within_days"], f"{day} is later than {c['within_days']} days")
    if "week" in c:
        monday = today - timedelta(days=today.weekday())
        first = monday + timedelta(weeks={"this": 0, "next": 1, "after_next": 2}[c["week"]])
        check(first <= day < first + timedelta(days=7), f"{day} is not in the week of {first}")
    if "next_day" in c:
        target = next_weekday(today, c["next_day"])
        check(day == target, f"{day} is not {target}")
    if "near" in c:
        target = next_weekday(today, c["near"]["day"])
        check(abs((day - target).days) <= c["near"].get("within", 3), f"{day} is not near {target}")
    return broken


def next_weekday(today: date, name: str) -> date:
    """The next ``name`` day after ``today`` (a week ahead when today is that day)."""
    ahead = (DAYS.index(name) - today.weekday()) % 7 or 7
    return today + timedelta(days=ahead)


# ---------------------------------------------------------------- hearing offered times

_DAY = re.compile(r"\b(today|tonight|tomorrow|" + "|".join(DAY_NAMES) + r")\b(?:,?\s+(" + "|".join(MONTHS)
                  + r")\s+(\d{1,2})(?:st|nd|rd|th)?)?", re.IGNORECASE)
_TIME = re.compile(r"\b(?:(\d{1,2})(?::(\d{2}))?\s*([ap])\.?\s*m\.?|(noon|midnight))", re.IGNORECASE)


@dataclass(frozen=True)
class Offer:
    """One time the receptionist offered, as heard: where in the sentence, the instant, and how it was said."""

    position: int
    start: datetime
    said: str  # "7:30 AM"
    day_said: str  # "Friday, December 11th"


def hear_offers(text: str, now: datetime) -> list[Offer]:
    """The times offered in ``text`` (in order), resolved against the call's ``now``."""
    today = now.astimezone(CHICAGO).date()
    marks = [(m.start(), "day", m) for m in _DAY.finditer(text)]
    marks += [(m.start(), "time", m) for m in _TIME.finditer(text)]
    marks.sort(key=lambda item: item[0])
    current: date | None = None
    day_said = ""
    offers: list[Offer] = []
    for _, kind, match in marks:
        if kind == "day":
            current, day_said = _resolve_day(match, today), match.group(0)
            continue
        if current is None:
            current, day_said = today, "today"
        wall = _resolve_time(match)
        start = datetime.combine(current, wall, tzinfo=CHICAGO)
        said = re.sub(r"\s+", " ", match.group(0)).rstrip(". ").upper().replace(".", "").replace("NOON", "noon")
        offers.append(Offer(len(offers), start, said, day_said))
    return offers


def _resolve_day(match: re.Match, today: date) -> date:
    word = match.group(1).lower()
    if word in ("today", "tonight"):
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if match.group(2):
        month, number = MONTHS.index(match.group(2).lower()) + 1, int(match.group(3))
        for year in (today.year, today.year + 1):
            try:
                candidate = date(year, month, number)
            except ValueError:
                continue
            if candidate >= today - timedelta(days=1):
                return candidate
    ahead = (DAY_NAMES.index(word) - today.weekday()) % 7
    return today + timedelta(days=ahead)


def _resolve_time(match: re.Match) -> time:
    if match.group(4):
        return time(12) if match.group(4).lower() == "noon" else time(0)
    hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
    if match.group(3).lower() == "p":
        hour += 12
    return time(hour, minute)
