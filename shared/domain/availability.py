"""The availability (slot) engine: which start times can be offered, and on which hosts.

Pure, deterministic and fast: no I/O, no clock (``now`` is an argument), integer seconds inside.

Example::

    from datetime import datetime, timezone
    from shared.domain.availability import find_slots

    config = load_business_config("config/business.example.yaml")
    repair = config.event_type("plumbing-repair")
    hosts = config.eligible_hosts(repair)
    slots = find_slots(repair, hosts,
                       busy_by_host={"dana": busy_blocks_from_outlook},     # BusyBlock-like: start, end, show_as
                       claims_by_host={"dana": active_bookings},            # Claim or Booking: start, end, buffers
                       window_start=datetime(2026, 3, 2, tzinfo=timezone.utc),
                       window_end=datetime(2026, 3, 9, tzinfo=timezone.utc),
                       now=datetime(2026, 3, 1, 15, tzinfo=timezone.utc),
                       blocking_show_as=config.blocking_show_as, granule_minutes=config.claim_granule_minutes)
    for slot in slots:
        slot.start, slot.end, slot.host_ids        # aware UTC datetimes; the hosts free for it
        slot.to_json("America/Chicago")            # {"start": "2026-03-02T09:00:00-06:00", ...}

The rules (DESIGN.md, "Availability"). A start ``s`` is offered for a host when all hold:

1. **grid**: for a working range ``HH:MM-HH:MM`` starting on local date ``d`` (the date's override if it
   has one, else the weekly rules), the candidate starts are the wall times ``w = d HH:MM + k * interval``
   (``k >= 0``) before the range's wall end; a ``w`` inside a spring-forward gap is skipped, an ambiguous
   one (fall-back) is taken once, at its first occurrence; ``s`` is ``w`` as an instant. Ranges are not
   merged: 08:00-12:00 and 12:00-17:00 offer no slot across noon;
2. **inside**: ``A <= s`` and ``s + duration <= E``, where ``A`` and ``E`` are the range's wall start and end
   as instants (``timezones.wall_to_utc``: a wall time in a gap shifts forward by the gap);
3. **window**: ``window_start <= s < window_end`` (a slot may end after the window);
4. **notice** ``s >= now + minimum_notice`` and **advance** ``s < now + maximum_advance_days``;
5. **time off**: ``[s, s + duration)`` overlaps none of the host's time off (buffers may);
6. **busy**: the padded ``[s - buffer_before, s + duration + buffer_after)`` overlaps no busy block whose
   ``show_as`` blocks (buffers may fall outside working hours, but not on someone's meeting);
7. **claims**: nor any Frontdesk hold or booking, each padded with its own buffers and rounded outward to
   the claim granule (what ``shared.domain.claims`` stores, so an offered slot can always be claimed);
8. **daily limits**: the claims starting on the host's local date of ``s`` number fewer than the host's
   ``daily_limit`` and, counting only this event type's, fewer than the event type's ``daily_limit``.

How it stays fast: each rule becomes a set of forbidden start ranges (a busy block ``[b0, b1)`` forbids
starts in ``(b0 - duration - buffer_after, b1 + buffer_before)``), sorted and merged once per host; each
working range then walks the free gaps with bisect and emits its grid points by arithmetic. Days with a
DST transition take a slower exact path (per grid point). Cost is linear in days, busy blocks and hosts.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from itertools import repeat
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from shared.domain.business import DEFAULT_BLOCKING_SHOW_AS, MINUTES_PER_DAY, EventType, Host
from shared.domain.timezones import in_zone, render, to_utc

UTC = timezone.utc
DAY = 86_400

Reason = Literal["notice", "advance", "outside_working_hours", "time_off", "daily_limit", "busy", "held"]
REASONS: dict[str, str] = {
    "notice": "starts sooner than the minimum notice",
    "advance": "starts beyond the maximum advance",
    "outside_working_hours": "not a start time within working hours",
    "time_off": "the host is on time off",
    "daily_limit": "the host's daily limit is reached",
    "busy": "the host's calendar is busy (including buffers)",
    "held": "another Frontdesk hold or booking is there (including buffers)",
}


@dataclass(frozen=True, slots=True)
class Claim:
    """A Frontdesk hold or booking on a host: ``[start, end)`` plus its own buffers.

    A ``shared.domain.booking.Booking`` has the same attributes and can be passed instead.
    """

    start: datetime
    end: datetime
    buffer_before: timedelta = timedelta(0)
    buffer_after: timedelta = timedelta(0)
    event_type_key: str | None = None
    booking_id: str | None = None
    created_at: datetime | None = None


class Slot(NamedTuple):
    """An offered time: aware UTC ``[start, end)`` and the ids of the hosts free for it (config order).

    A named tuple rather than a dataclass because an engine query builds thousands of them.
    """

    start: datetime
    end: datetime
    host_ids: tuple[str, ...] = ()

    def in_zone(self, time_zone: str) -> tuple[datetime, datetime]:
        """Start and end on a wall clock in ``time_zone`` (IANA or Windows name)."""
        return in_zone(self.start, time_zone), in_zone(self.end, time_zone)

    def to_json(self, time_zone: str = "UTC") -> dict[str, Any]:
        """The API's shape: ISO 8601 with the zone's offset, camelCase."""
        return {"start": render(self.start, time_zone), "end": render(self.end, time_zone),
                "hostIds": list(self.host_ids)}


def render_slots(slots: Iterable[Slot], time_zone: str = "UTC") -> list[dict[str, Any]]:
    """Slots as JSON-ready dicts in ``time_zone``."""
    return [slot.to_json(time_zone) for slot in slots]


# ---------------------------------------------------------------- entry points

def find_slots(event_type: EventType, hosts: Sequence[Host],
               busy_by_host: Mapping[str, Iterable[Any]] | None = None,
               claims_by_host: Mapping[str, Iterable[Any]] | None = None,
               window_start: datetime | None = None, window_end: datetime | None = None,
               now: datetime | None = None, *,
               blocking_show_as: Iterable[str] = DEFAULT_BLOCKING_SHOW_AS,
               granule_minutes: int = 5) -> list[Slot]:
    """Every start offered in ``[window_start, window_end)``, sorted, with the hosts free for each.

    ``busy_by_host`` maps host id -> Outlook busy blocks (objects with ``start``, ``end`` and optionally
    ``show_as``; blocks whose ``show_as`` is not in ``blocking_show_as`` are ignored). ``claims_by_host``
    maps host id -> Frontdesk holds and bookings (:class:`Claim` or ``Booking``); leave out the booking
    being rescheduled. All datetimes must be aware. See the module docstring for the rules.
    """
    if window_start is None or window_end is None or now is None:
        raise TypeError("find_slots needs window_start, window_end and now")
    plan = _Plan(event_type, window_start, window_end, now, blocking_show_as, granule_minutes)
    if plan.lo > plan.hi:
        return []
    busy_by_host = busy_by_host or {}
    claims_by_host = claims_by_host or {}
    per_host = [(host.id, _host_starts(plan, host, busy_by_host.get(host.id, ()), claims_by_host.get(host.id, ())))
                for host in hosts]
    return _merge(plan, per_host)


def check_slot(event_type: EventType, host: Host, start: datetime,
               busy: Iterable[Any] = (), claims: Iterable[Any] = (), *, now: datetime,
               blocking_show_as: Iterable[str] = DEFAULT_BLOCKING_SHOW_AS,
               granule_minutes: int = 5) -> Reason | None:
    """``None`` when ``start`` would be offered on ``host``, else the first rule it breaks.

    Exactly consistent with :func:`find_slots` (it runs the same engine on a one-second window);
    the booking API uses it to re-check a requested time, routing to say why a host was passed over.
    """
    busy, claims = list(busy), list(claims)
    start = to_utc(start)
    if start.microsecond:
        return "outside_working_hours"  # grid points are whole seconds
    plan = _Plan(event_type, start, start + timedelta(seconds=1), now, blocking_show_as, granule_minutes)
    if _host_starts(plan, host, busy, claims):
        return None
    instant = math.ceil(start.timestamp())
    if instant < plan.earliest:
        return "notice"
    if instant >= plan.latest:
        return "advance"
    stages: tuple[tuple[Reason, dict[str, bool]], ...] = (
        ("outside_working_hours", dict(time_off=False, limits=False, busy_rule=False, claims_rule=False)),
        ("time_off", dict(time_off=True, limits=False, busy_rule=False, claims_rule=False)),
        ("daily_limit", dict(time_off=True, limits=True, busy_rule=False, claims_rule=False)),
        ("busy", dict(time_off=True, limits=True, busy_rule=True, claims_rule=False)),
    )
    for reason, rules in stages:
        if not _host_starts(plan, host, busy, claims, **rules):
            return reason
    return "held"


def host_availability(event_type: EventType, hosts: Sequence[Host], start: datetime,
                      busy_by_host: Mapping[str, Iterable[Any]] | None = None,
                      claims_by_host: Mapping[str, Iterable[Any]] | None = None, *, now: datetime,
                      blocking_show_as: Iterable[str] = DEFAULT_BLOCKING_SHOW_AS,
                      granule_minutes: int = 5) -> dict[str, Reason | None]:
    """Host id -> ``None`` (free for ``start``) or why not; what ``routing.resolve_host`` takes."""
    busy_by_host = busy_by_host or {}
    claims_by_host = claims_by_host or {}
    return {host.id: check_slot(event_type, host, start, busy_by_host.get(host.id, ()),
                                claims_by_host.get(host.id, ()), now=now, blocking_show_as=blocking_show_as,
                                granule_minutes=granule_minutes)
            for host in hosts}


# ---------------------------------------------------------------- the engine

class _Plan:
    """One query's constants, in integer seconds since the epoch."""

    __slots__ = ("event_type", "duration", "step", "before", "after", "lo", "hi", "earliest", "latest",
                 "blocking", "granule", "zones")

    def __init__(self, event_type: EventType, window_start: datetime, window_end: datetime, now: datetime,
                 blocking_show_as: Iterable[str], granule_minutes: int):
        self.event_type = event_type
        self.duration = event_type.duration_minutes * 60
        self.step = (event_type.slot_interval_minutes or event_type.duration_minutes) * 60
        self.before = event_type.buffer_before_minutes * 60
        self.after = event_type.buffer_after_minutes * 60
        now_s = to_utc(now).timestamp()
        self.earliest = math.ceil(now_s + event_type.minimum_notice_minutes * 60)
        self.latest = math.ceil(now_s + event_type.maximum_advance_days * DAY)  # starts must be < this
        # Offered starts are the integers in [lo, hi].
        self.lo = max(math.ceil(to_utc(window_start).timestamp()), self.earliest)
        self.hi = min(math.ceil(to_utc(window_end).timestamp()), self.latest) - 1
        self.blocking = frozenset(blocking_show_as)
        self.granule = granule_minutes * 60
        self.zones: dict[str, _ZoneDays] = {}

    def days(self, host: Host) -> "_ZoneDays":
        """Local midnights of the host's zone around the window, shared by hosts in the same zone."""
        days = self.zones.get(host.time_zone)
        if days is None:
            days = self.zones[host.time_zone] = _ZoneDays(host.zone, self.lo, self.hi)
        return days


class _ZoneDays:
    """Local dates ``first .. last`` of a zone (ordinals) and each date's midnight as epoch seconds.

    ``mids[i]`` is the first instant of date ``first + i`` (its 00:00, shifted forward if 00:00 is in
    a gap); a day whose length is not 86,400 s holds a DST transition and takes the exact slow path.
    """

    __slots__ = ("tz", "first", "count", "mids", "regular")

    def __init__(self, tz: ZoneInfo, lo: int, hi: int):
        self.tz = tz
        # The day before lo's date: its ranges may run past midnight into the window.
        self.first = datetime.fromtimestamp(lo, tz).date().toordinal() - 1
        last = datetime.fromtimestamp(hi, tz).date().toordinal()
        self.count = last - self.first + 1
        self.mids = [_midnight(ordinal, tz) for ordinal in range(self.first, last + 3)]
        self.regular = [self.mids[i + 1] - self.mids[i] == DAY for i in range(len(self.mids) - 1)]

    def index_of(self, instant: int) -> int:
        """Index of the local date of ``instant`` (may fall outside ``0 .. count-1``)."""
        return bisect_right(self.mids, instant) - 1


def _midnight(ordinal: int, tz: ZoneInfo) -> int:
    day = date.fromordinal(ordinal)
    return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())


def _host_starts(plan: _Plan, host: Host, busy: Iterable[Any], claims: Iterable[Any], *,
                 time_off: bool = True, limits: bool = True, busy_rule: bool = True,
                 claims_rule: bool = True) -> list[int]:
    """The sorted offered starts (epoch seconds) of one host; the flags switch rules off for diagnosis."""
    lo, hi, duration, before, after = plan.lo, plan.hi, plan.duration, plan.before, plan.after
    if lo > hi:
        return []
    days = plan.days(host)
    forbidden: list[tuple[int, int]] = []  # closed ranges of forbidden starts

    if time_off:
        for off_start, off_end in host.time_off_utc:
            first, last = math.floor(off_start.timestamp()) - duration + 1, math.ceil(off_end.timestamp()) - 1
            if last >= lo and first <= hi:
                forbidden.append((first, last))
    if busy_rule:
        blocking = plan.blocking
        for block in busy:
            if getattr(block, "show_as", "busy") not in blocking:
                continue
            if block.start.tzinfo is None or block.end.tzinfo is None:
                raise ValueError(f"naive datetime in a busy block of {host.id}: every instant must carry its offset")
            b0, b1 = math.floor(block.start.timestamp()), math.ceil(block.end.timestamp())
            if b1 > b0:
                first, last = b0 - duration - after + 1, b1 + before - 1
                if last >= lo and first <= hi:
                    forbidden.append((first, last))
    if claims_rule or limits:
        granule = plan.granule
        per_day: dict[int, int] = {}
        per_day_type: dict[int, int] = {}
        key = plan.event_type.key
        for claim in claims:
            if claim.start.tzinfo is None or claim.end.tzinfo is None:
                raise ValueError(f"naive datetime in a claim of {host.id}: every instant must carry its offset")
            c0 = claim.start.timestamp() - claim.buffer_before.total_seconds()
            c1 = claim.end.timestamp() + claim.buffer_after.total_seconds()
            if claims_rule and c1 > c0:
                # The claim store rounds a padded interval outward to granules; block what it blocks.
                g0, g1 = math.floor(c0 / granule) * granule, math.ceil(c1 / granule) * granule
                first, last = g0 - duration - after + 1, g1 + before - 1
                if last >= lo and first <= hi:
                    forbidden.append((first, last))
            if limits:
                index = days.index_of(math.floor(claim.start.timestamp()))
                per_day[index] = per_day.get(index, 0) + 1
                if getattr(claim, "event_type_key", None) == key:
                    per_day_type[index] = per_day_type.get(index, 0) + 1
        if limits:
            full = {i for i, n in per_day.items() if host.daily_limit is not None and n >= host.daily_limit}
            type_limit = plan.event_type.daily_limit
            full |= {i for i, n in per_day_type.items() if type_limit is not None and n >= type_limit}
            for index in full:
                if 0 <= index < len(days.mids) - 1:
                    forbidden.append((days.mids[index], days.mids[index + 1] - 1))

    starts_f, ends_f = _merge_ranges(forbidden)
    starts: list[int] = []
    in_order = True
    overrides, weekly, mids, regular = host.overrides, host.weekly, days.mids, days.regular
    for index in range(days.count):
        ordinal = days.first + index
        ranges = overrides.get(ordinal)
        if ranges is None:
            ranges = weekly[(ordinal - 1) % 7]  # ordinal 1 (0001-01-01) was a Monday
        for item in ranges:
            emitted = len(starts)
            if regular[index] and (item.end <= MINUTES_PER_DAY or regular[index + 1]):
                anchor = mids[index] + item.start * 60
                _emit_regular(starts, anchor, mids[index] + item.end * 60, plan, starts_f, ends_f)
            else:
                _emit_exact(starts, ordinal, item.start, item.end, days.tz, plan, starts_f, ends_f)
            # Each range emits in increasing order; only overlapping ranges (an override and last
            # night's shift, say) can put a start at or before an earlier one.
            if emitted and len(starts) > emitted and starts[emitted] <= starts[emitted - 1]:
                in_order = False
    return starts if in_order else sorted(set(starts))


def _merge_ranges(ranges: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Sort and merge closed integer ranges (touching ones too) into parallel start/end lists."""
    ranges.sort()
    starts: list[int] = []
    ends: list[int] = []
    for first, last in ranges:
        if ends and first <= ends[-1] + 1:
            if last > ends[-1]:
                ends[-1] = last
        else:
            starts.append(first)
            ends.append(last)
    return starts, ends


def _emit_regular(out: list[int], anchor: int, end: int, plan: _Plan,
                  starts_f: list[int], ends_f: list[int]) -> None:
    """Grid points ``anchor + k*step`` in ``[max(anchor, lo), min(end - duration, hi)]`` outside forbidden ranges."""
    step = plan.step
    low = anchor if anchor > plan.lo else plan.lo
    high = end - plan.duration
    if high > plan.hi:
        high = plan.hi
    if low > high:
        return
    j = bisect_left(ends_f, low)  # first forbidden range that ends at or after low
    count = len(starts_f)
    while low <= high:
        if j < count and starts_f[j] <= high:
            gap_end = starts_f[j] - 1
            next_low = ends_f[j] + 1
            j += 1
        else:
            gap_end, next_low = high, high + 1
        if gap_end >= low:
            first = anchor + -((anchor - low) // step) * step  # first grid point >= low
            if first <= gap_end:
                out.extend(range(first, gap_end + 1, step))
        if next_low > low:
            low = next_low


def _emit_exact(out: list[int], ordinal: int, start_minute: int, end_minute: int, tz: ZoneInfo, plan: _Plan,
                starts_f: list[int], ends_f: list[int]) -> None:
    """The slow, exact path for a range on a day with a DST transition: convert every grid point."""
    day = date.fromordinal(ordinal)
    midnight = datetime(day.year, day.month, day.day)
    wall_start = midnight + timedelta(minutes=start_minute)
    wall_end = midnight + timedelta(minutes=end_minute)
    range_start = _wall_seconds(wall_start, tz)
    range_end = _wall_seconds(wall_end, tz)
    step = timedelta(seconds=plan.step)
    duration, lo, hi = plan.duration, plan.lo, plan.hi
    wall = wall_start
    while wall < wall_end:
        instant = wall.replace(tzinfo=tz)
        seconds = int(instant.timestamp())
        exists = datetime.fromtimestamp(seconds, tz).replace(tzinfo=None) == wall
        if (exists and range_start <= seconds and seconds + duration <= range_end and lo <= seconds <= hi
                and not _inside(seconds, starts_f, ends_f)):
            out.append(seconds)
        wall += step


def _wall_seconds(wall: datetime, tz: ZoneInfo) -> int:
    return int(wall.replace(tzinfo=tz).timestamp())


def _inside(value: int, starts_f: list[int], ends_f: list[int]) -> bool:
    j = bisect_right(starts_f, value) - 1
    return j >= 0 and ends_f[j] >= value


def _merge(plan: _Plan, per_host: list[tuple[str, list[int]]]) -> list[Slot]:
    """One slot per distinct start with the hosts that offer it, in host order."""
    duration = plan.duration
    if len(per_host) == 1:
        host_id, starts = per_host[0]
        ids = (host_id,)
        instant = _instant
        return [Slot(instant(s), instant(s + duration), ids) for s in starts]
    by_start: defaultdict[int, list[str]] = defaultdict(list)
    for host_id, starts in per_host:
        # by_start[s].append(host_id) for every s, iterated in C: this loop is the pool's hot spot.
        deque(map(list.append, map(by_start.__getitem__, starts), repeat(host_id)), maxlen=0)
    return [Slot(_instant(s), _instant(s + duration), tuple(by_start[s])) for s in sorted(by_start)]


def _instant(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
