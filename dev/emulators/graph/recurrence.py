"""Expand an Outlook ``patternedRecurrence`` into occurrences, as calendarView and getSchedule do.

Occurrences keep the series' wall-clock time in the recurrence time zone, so a 09:00 Pacific
series is at 17:00 UTC in winter and 16:00 UTC in summer. Patterns: daily, weekly, absoluteMonthly,
relativeMonthly, absoluteYearly, relativeYearly; ranges: endDate, noEnd, numbered.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dev.emulators.graph.times import UTC, TimeFormatError, zone_of

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
INDEXES = {"first": 0, "second": 1, "third": 2, "fourth": 3, "last": -1}
_MAX_DAYS_SCANNED = 366 * 30  # an endless series is cut off far beyond any window Frontdesk reads


def validate(recurrence: dict) -> None:
    """Refuse a recurrence Graph would refuse (400), before it is stored."""
    pattern, rng = recurrence.get("pattern") or {}, recurrence.get("range") or {}
    kind = pattern.get("type")
    if kind not in ("daily", "weekly", "absoluteMonthly", "relativeMonthly", "absoluteYearly", "relativeYearly"):
        raise TimeFormatError(f"Unsupported recurrence pattern type '{kind}'.")
    if int(pattern.get("interval") or 0) < 1:
        raise TimeFormatError("Recurrence pattern interval must be at least 1.")
    if kind in ("weekly", "relativeMonthly", "relativeYearly") and not pattern.get("daysOfWeek"):
        raise TimeFormatError(f"Recurrence pattern '{kind}' needs daysOfWeek.")
    if any(day not in DAYS for day in pattern.get("daysOfWeek") or []):
        raise TimeFormatError("daysOfWeek has an unknown day.")
    if rng.get("type") not in ("endDate", "noEnd", "numbered") or not rng.get("startDate"):
        raise TimeFormatError("Recurrence range needs a type (endDate, noEnd, numbered) and a startDate.")
    if rng["type"] == "endDate" and not rng.get("endDate"):
        raise TimeFormatError("Recurrence range of type endDate needs an endDate.")
    if rng["type"] == "numbered" and int(rng.get("numberOfOccurrences") or 0) < 1:
        raise TimeFormatError("Recurrence range of type numbered needs numberOfOccurrences.")


def _weekly_dates(pattern: dict, first: date) -> Iterator[date]:
    interval = int(pattern["interval"])
    wanted = sorted(DAYS.index(day) for day in pattern["daysOfWeek"])
    week_start_day = DAYS.index(pattern.get("firstDayOfWeek") or "sunday")
    week = first - timedelta(days=(first.weekday() - week_start_day) % 7)
    while True:
        for offset in sorted((day - week_start_day) % 7 for day in wanted):
            candidate = week + timedelta(days=offset)
            if candidate >= first:
                yield candidate
        week += timedelta(weeks=interval)


def _nth_weekday(year: int, month: int, days: list[str], index: str) -> date | None:
    wanted = {DAYS.index(day) for day in days}
    matches = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)
               if date(year, month, d).weekday() in wanted]
    position = INDEXES.get(index or "first", 0)
    return matches[position] if matches and (position == -1 or position < len(matches)) else None


def _monthly_dates(pattern: dict, first: date, yearly: bool) -> Iterator[date]:
    step = int(pattern["interval"]) * (12 if yearly else 1)
    month_index = first.year * 12 + first.month - 1
    if yearly:  # yearly series run in the pattern's month
        month_index = first.year * 12 + int(pattern.get("month") or first.month) - 1
    while True:
        year, month = divmod(month_index, 12)
        month += 1
        if pattern["type"] in ("relativeMonthly", "relativeYearly"):
            candidate = _nth_weekday(year, month, pattern["daysOfWeek"], pattern.get("index"))
        else:
            day = int(pattern.get("dayOfMonth") or first.day)
            candidate = date(year, month, day) if day <= calendar.monthrange(year, month)[1] else None
        if candidate and candidate >= first:
            yield candidate
        month_index += step


def _dates(pattern: dict, first: date) -> Iterator[date]:
    kind = pattern["type"]
    if kind == "daily":
        day = first
        while True:
            yield day
            day += timedelta(days=int(pattern["interval"]))
    elif kind == "weekly":
        yield from _weekly_dates(pattern, first)
    else:
        yield from _monthly_dates(pattern, first, yearly=kind.endswith("Yearly"))


def occurrences(series_start: datetime, duration: timedelta, recurrence: dict, window_start: datetime,
                window_end: datetime, start_zone: str, cancelled: frozenset[date] = frozenset()
                ) -> Iterator[tuple[date, datetime, datetime]]:
    """(local date, UTC start, UTC end) of each occurrence overlapping ``[window_start, window_end)``."""
    pattern, rng = recurrence["pattern"], recurrence["range"]
    tz: ZoneInfo = zone_of(rng.get("recurrenceTimeZone") or start_zone)
    wall_time: time = series_start.astimezone(tz).time()
    first = date.fromisoformat(rng["startDate"])
    last = date.fromisoformat(rng["endDate"]) if rng["type"] == "endDate" else None
    remaining = int(rng.get("numberOfOccurrences") or 0) if rng["type"] == "numbered" else None
    for local_day in _dates(pattern, first):
        if (last and local_day > last) or (local_day - first).days > _MAX_DAYS_SCANNED or remaining == 0:
            return
        start = datetime.combine(local_day, wall_time, tz).astimezone(UTC)
        if start >= window_end:
            return
        if remaining is not None:
            remaining -= 1
        if local_day in cancelled:
            continue
        end = start + duration
        if end > window_start or (duration == timedelta(0) and start >= window_start):
            yield local_day, start, end
