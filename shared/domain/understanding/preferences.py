"""Time preferences applied to slots: which offered starts fit what the caller said, and where to look.

The dialog asks the availability engine for slots in :func:`search_window` and keeps those that
:func:`accepts` (the semantics are in ``schema``'s module docstring: ``at``/``window`` preferences are
alternatives, every ``not`` excludes, ``asap``/``any`` add no constraint).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from shared.domain.timezones import to_utc, zone
from shared.domain.understanding.schema import WEEKDAY_NAMES, TimePreference

_POSITIVE = ("at", "window")


def accepts(preferences: Sequence[TimePreference], start: datetime, time_zone: str) -> bool:
    """True when a slot starting at the aware instant ``start`` fits the caller's preferences."""
    tz = zone(time_zone)
    if any(_covers(p, start, tz) for p in preferences if p.kind == "not"):
        return False
    positives = [p for p in preferences if p.kind in _POSITIVE]
    return not positives or any(_covers(p, start, tz) for p in positives)


def _covers(pref: TimePreference, start: datetime, tz) -> bool:
    instant = to_utc(start)
    if pref.kind == "at":
        return pref.start == instant
    if pref.start is not None and instant < pref.start:
        return False
    if pref.end is not None and instant >= pref.end:
        return False
    local = instant.astimezone(tz)
    if pref.weekdays and WEEKDAY_NAMES[local.weekday()] not in pref.weekdays:
        return False
    wall = local.time().replace(tzinfo=None)
    if pref.after is not None and wall < pref.after:
        return False
    if pref.before is not None and wall >= pref.before:
        return False
    return True


def search_window(preferences: Sequence[TimePreference], now: datetime,
                  horizon: timedelta) -> tuple[datetime, datetime]:
    """The UTC span ``[start, end)`` worth searching: the positive preferences' bounds within ``now + horizon``."""
    now = to_utc(now)
    limit = now + horizon
    positives = [p for p in preferences if p.kind in _POSITIVE]
    if not positives:
        return now, limit
    starts, ends = [], []
    for pref in positives:
        if pref.kind == "at":
            assert pref.start is not None
            starts.append(pref.start)
            ends.append(pref.start + timedelta(minutes=1))
            continue
        starts.append(pref.start or now)
        ends.append(pref.end or limit)
    start = max(now, min(starts))
    end = min(limit, max(ends))
    return (start, end) if end > start else (start, start)
