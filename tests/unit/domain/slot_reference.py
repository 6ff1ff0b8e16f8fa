"""A deliberately simple, slow reference for the slot engine: every rule checked per grid point.

It reads the configuration's raw fields (not the engine's derived tables), converts with plain
``zoneinfo`` arithmetic, and compares every candidate against every busy block and claim. The
property tests require the engine to offer exactly what this offers.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from shared.domain.claims import granule_span

UTC = timezone.utc
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def ranges_on(host, day: date) -> list[tuple[int, int]]:
    """(start, end) minutes after local midnight of the ranges starting on ``day``."""
    for override in host.date_overrides:
        if override.date == day:
            return [(r.start, r.end) for r in override.hours]
    name = WEEKDAYS[day.weekday()]
    return [(r.start, r.end) for rule in host.working_hours if name in rule.days for r in rule.hours]


def instant(wall: datetime, tz: ZoneInfo) -> datetime:
    """fold=0: the first occurrence, or shifted forward out of a gap."""
    return wall.replace(tzinfo=tz).astimezone(UTC)


def exists(wall: datetime, tz: ZoneInfo) -> bool:
    return instant(wall, tz).astimezone(tz).replace(tzinfo=None) == wall


def overlaps(a0, a1, b0, b1) -> bool:
    return a0 < a1 and b0 < b1 and max(a0, b0) < min(a1, b1)


def grid_points(host, first: date, last: date, interval: timedelta, duration: timedelta):
    """Every (start instant, fits) of every range starting on ``first..last``; fits = inside the range."""
    tz = ZoneInfo(host.time_zone)
    day = first
    while day <= last:
        midnight = datetime.combine(day, time())
        for start_minute, end_minute in ranges_on(host, day):
            wall_start = midnight + timedelta(minutes=start_minute)
            wall_end = midnight + timedelta(minutes=end_minute)
            range_start, range_end = instant(wall_start, tz), instant(wall_end, tz)
            wall = wall_start
            while wall < wall_end:
                if exists(wall, tz):
                    start = instant(wall, tz)
                    yield start, range_start <= start and start + duration <= range_end
                wall += interval
        day += timedelta(days=1)


def broken_rules(event_type, host, start, busy, claims, now, blocking, granule_minutes) -> set[str]:
    """The rules (other than the grid and the window) that ``start`` breaks on ``host``."""
    tz = ZoneInfo(host.time_zone)
    duration = timedelta(minutes=event_type.duration_minutes)
    end = start + duration
    padded = (start - timedelta(minutes=event_type.buffer_before_minutes),
              end + timedelta(minutes=event_type.buffer_after_minutes))
    broken = set()
    if start < now + timedelta(minutes=event_type.minimum_notice_minutes):
        broken.add("notice")
    if start >= now + timedelta(days=event_type.maximum_advance_days):
        broken.add("advance")
    for off in host.time_off:
        off_start = off.start if off.start.tzinfo else instant(off.start, tz)
        off_end = off.end if off.end.tzinfo else instant(off.end, tz)
        if overlaps(start, end, off_start, off_end):
            broken.add("time_off")
    for block in busy:
        if block.show_as in blocking and overlaps(*padded, block.start, block.end):
            broken.add("busy")
    granule = timedelta(minutes=granule_minutes)
    for claim in claims:
        if overlaps(*padded, *granule_span(claim.start, claim.end, claim.buffer_before, claim.buffer_after, granule)):
            broken.add("held")
    day = start.astimezone(tz).date()
    same_day = [c for c in claims if c.start.astimezone(tz).date() == day]
    if host.daily_limit is not None and len(same_day) >= host.daily_limit:
        broken.add("daily_limit")
    if event_type.daily_limit is not None and \
            sum(c.event_type_key == event_type.key for c in same_day) >= event_type.daily_limit:
        broken.add("daily_limit")
    return broken


def reference_slots(event_type, hosts, busy_by_host, claims_by_host, window_start, window_end, now,
                    blocking=("busy", "tentative", "oof"), granule_minutes=5) -> dict[datetime, list[str]]:
    """Start -> ids of the hosts offering it."""
    duration = timedelta(minutes=event_type.duration_minutes)
    interval = timedelta(minutes=event_type.slot_interval_minutes or event_type.duration_minutes)
    offered: dict[datetime, list[str]] = {}
    for host in hosts:
        tz = ZoneInfo(host.time_zone)
        first = window_start.astimezone(tz).date() - timedelta(days=2)
        last = window_end.astimezone(tz).date() + timedelta(days=1)
        seen = set()
        for start, fits in grid_points(host, first, last, interval, duration):
            if not fits or start in seen or not (window_start <= start < window_end):
                continue
            if not broken_rules(event_type, host, start, busy_by_host.get(host.id, ()),
                                claims_by_host.get(host.id, ()), now, blocking, granule_minutes):
                seen.add(start)
                offered.setdefault(start, []).append(host.id)
    return dict(sorted(offered.items()))
