"""The local times of day the time-sensitive end-to-end tests run at, as named moments of the business's clock.

The receptionist's greeting, "as soon as possible", minimum notice, lunch breaks and closing time all
depend on the hour. These moments make the hour an input of a test: each names a wall-clock time in the
business's zone (America/Chicago), resolved to the next such moment after real time, so a test runs at
"16:55 on a Thursday, just before closing" whatever hour CI happens to start. ``real`` keeps a test on
the real clock too, so the default path stays tested.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

UTC = timezone.utc
BUSINESS_ZONE = ZoneInfo("America/Chicago")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# name -> (weekday or "dst-sunday", wall clock). None is a whole or half hour: the clock flows on from the
# moment, and "now + notice" landing exactly on a half-hour start would make the first offer depend on how
# many milliseconds the test took to ask.
MOMENTS: dict[str, tuple[str, str]] = {
    "before-opening": ("wed", "07:20"),
    "mid-morning": ("wed", "10:15"),
    "lunch": ("thu", "12:15"),
    "just-before-closing": ("thu", "16:55"),
    "saturday": ("sat", "10:05"),
    "dst-sunday": ("dst-sunday", "09:05"),
}
ALL = [*MOMENTS, "real"]


def resolve(name: str, *, after: datetime | None = None, zone: ZoneInfo = BUSINESS_ZONE) -> datetime | None:
    """The UTC instant of the named moment next after ``after`` (real now); None for ``real``."""
    if name == "real":
        return None
    return next_wall(*MOMENTS[name], after=after, zone=zone)


def next_wall(day_name: str, wall: str, *, after: datetime | None = None,
              zone: ZoneInfo = BUSINESS_ZONE) -> datetime:
    """The next ``wall`` clock time ("07:26") on ``day_name`` ("wed", or "dst-sunday") after ``after``, in UTC."""
    after = (after or datetime.now(UTC)).astimezone(zone)
    clock = time.fromisoformat(wall)
    days = _dst_sundays(after.date(), zone) if day_name == "dst-sunday" else _weekdays(after.date(), day_name)
    for day in days:
        moment = datetime.combine(day, clock, tzinfo=zone)
        if moment > after + timedelta(minutes=5):
            return moment.astimezone(UTC)
    raise AssertionError(f"no {day_name} {wall} found after {after}")


def _weekdays(start: date, weekday: str):
    for ahead in range(0, 60):
        day = start + timedelta(days=ahead)
        if WEEKDAYS[day.weekday()] == weekday and ordinary_days(day):
            yield day


ORDINARY_SPAN = timedelta(days=10)


def ordinary_days(day: date, span: timedelta = ORDINARY_SPAN) -> bool:
    """Whether every technician keeps their weekly hours from ``day`` for ``span``: no date override (Christmas
    Eve's short day) and no time off in the example configuration. Tests that book "Thursday afternoon" from a
    Tuesday expect the week as the configuration's weekly hours describe it."""
    last = day + span
    return not any(day <= other < last for other in _irregular_dates())


@functools.lru_cache(maxsize=1)
def _irregular_dates() -> frozenset[date]:
    from shared.config import load_business_config
    config = load_business_config(Path(__file__).resolve().parents[2] / "config" / "business.example.yaml")
    dates: set[date] = set()
    for host in config.hosts:
        dates.update(override.date for override in host.date_overrides)
        for off in host.time_off:
            first, last = off.start.date(), off.end.date()
            dates.update(first + timedelta(days=n) for n in range((last - first).days + 1))
    return frozenset(dates)


def _dst_sundays(start: date, zone: ZoneInfo):
    """Sundays on which the zone's offset changes (spring forward, fall back), from ``start`` on."""
    for ahead in range(0, 800):
        day = start + timedelta(days=ahead)
        if day.weekday() != 6:
            continue
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
            yield day
