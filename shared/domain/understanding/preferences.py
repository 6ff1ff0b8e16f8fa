"""Time preferences applied to slots: which offered starts fit what the caller said, and where to look.

The dialog asks the availability engine for slots in :func:`search_window` and keeps those that
:func:`accepts` (the semantics are in ``schema``'s module docstring: ``at``/``window`` preferences are
alternatives, every ``not`` excludes, ``asap``/``any`` add no constraint). :func:`constraints` sums the
preferences up in local terms (days, dates, times of day) so the dialog can say why an offer differs from
what was asked ("we're closed Saturdays").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

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
    if pref.first_date is not None and local.date() < pref.first_date:
        return False
    if pref.last_date is not None and local.date() > pref.last_date:
        return False
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


@dataclass(frozen=True, slots=True)
class Constraints:
    """What the caller's preferences ask for, in local terms (empty/None: no constraint of that sort).

    ``weekdays``, ``earliest_*``/``latest_*`` and ``day_parts`` come from the ``at``/``window`` preferences
    (several alternatives widen them: the earliest of the earliest dates, the union of the weekdays);
    ``excluded_*`` from the ``not`` ones.
    """

    asap: bool
    weekdays: frozenset[str]
    excluded_weekdays: frozenset[str]
    excluded_dates: frozenset[date]
    earliest_date: date | None
    latest_date: date | None
    earliest_time: time | None
    latest_time: time | None
    day_parts: frozenset[str]

    @property
    def any(self) -> bool:
        """True when nothing constrains the offers."""
        return not (self.weekdays or self.excluded_weekdays or self.excluded_dates or self.earliest_date
                    or self.latest_date or self.earliest_time or self.latest_time)


def constraints(preferences: Sequence[TimePreference]) -> Constraints:
    """A local-terms summary of ``preferences`` (see :class:`Constraints`)."""
    positives = [p for p in preferences if p.kind in _POSITIVE]
    nots = [p for p in preferences if p.kind == "not"]
    excluded_weekdays: set[str] = set()
    excluded_dates: set[date] = set()
    for pref in nots:
        whole_days = pref.after is None and pref.before is None
        if pref.weekdays and pref.first_date is None and whole_days:
            excluded_weekdays.update(pref.weekdays)
        elif whole_days and pref.first_date is not None and pref.last_date is not None \
                and (pref.last_date - pref.first_date).days <= 31:
            excluded_dates.update(pref.first_date + timedelta(days=n)
                                  for n in range((pref.last_date - pref.first_date).days + 1))

    def bound(values: list, pick):
        # an alternative without this bound leaves it open
        return pick(values) if values and len(values) == len(positives) else None

    dates_of = [_local_dates(p) for p in positives]
    return Constraints(
        asap=any(p.kind == "asap" for p in preferences),
        weekdays=frozenset(w for p in positives for w in p.weekdays) if positives and all(
            p.weekdays for p in positives) else frozenset(),
        excluded_weekdays=frozenset(excluded_weekdays),
        excluded_dates=frozenset(excluded_dates),
        earliest_date=bound([d[0] for d in dates_of if d[0] is not None], min),
        latest_date=bound([d[1] for d in dates_of if d[1] is not None], max),
        earliest_time=bound([p.after for p in positives if p.after is not None], min),
        latest_time=bound([p.before for p in positives if p.before is not None], max),
        day_parts=frozenset(p.day_part for p in positives if p.day_part),
    )


def _local_dates(pref: TimePreference) -> tuple[date | None, date | None]:
    if pref.kind == "at" and pref.first_date is None and pref.start is not None:
        return None, None
    return pref.first_date, pref.last_date
