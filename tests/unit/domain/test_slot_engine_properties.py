"""Property tests: the slot engine offers exactly what the brute-force reference offers.

Equality means both halves of the contract: every offered slot satisfies every rule, and every
grid point not offered breaks at least one. Inputs are drawn around real DST transitions of zones
with unusual rules (30-minute DST, transitions at midnight, negative DST, +05:45 offsets).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.availability import Claim, check_slot, find_slots
from shared.domain.business import EventType, Host
from shared.ports import BusyBlock
from slot_reference import broken_rules, grid_points, reference_slots

UTC = timezone.utc
ZONES = ["America/Chicago", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "America/Santiago",
         "America/Havana", "Asia/Kathmandu", "Pacific/Chatham", "Europe/Dublin", "America/St_Johns", "UTC"]
SHOW_AS = ["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]


def _transition_dates(name: str) -> list[date]:
    tz = ZoneInfo(name)
    found = []
    day = date(2025, 1, 1)
    while day < date(2027, 1, 1):
        a = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
        following = day + timedelta(days=1)
        b = datetime(following.year, following.month, following.day, tzinfo=tz).utcoffset()
        if a != b:
            found.append(day)
        day = following
    return found


TRANSITIONS = {name: _transition_dates(name) for name in ZONES}


def minutes(low: int, high: int) -> st.SearchStrategy[int]:
    """Mostly quarter hours (so blocks touch slots and each other exactly), sometimes any minute."""
    return st.one_of(st.integers(low // 15, high // 15).map(lambda q: q * 15), st.integers(low, high))


@st.composite
def clock_ranges(draw, granule: int = 15) -> list[list[str]]:
    """Per weekday 0-2 ranges; some days end with a shift running past midnight into the next day."""
    days: list[list[tuple[int, int]]] = []
    for _ in range(7):
        quarter = st.one_of(st.just(0), st.integers(0, 96)).map(lambda q: q * granule)  # midnight is common
        cuts = sorted(set(draw(st.lists(quarter, min_size=0, max_size=4))))
        pairs = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
        days.append(pairs)
    rendered: list[list[str]] = []
    for index, pairs in enumerate(days):
        following = days[(index + 1) % 7]
        cap = following[0][0] if following else 1440
        out = []
        for position, (start, end) in enumerate(pairs):
            last = position == len(pairs) - 1
            if last and end == 1440 and start > 0 and cap > 0 and draw(st.booleans()):
                extra = draw(st.integers(1, max(1, min(cap, start) // granule))) * granule
                if extra < start and extra <= cap:
                    end = 1440 + extra
            out.append(f"{start // 60:02d}:{start % 60:02d}-{(end % 1440) // 60:02d}:{end % 60:02d}"
                       if end != 1440 else f"{start // 60:02d}:{start % 60:02d}-24:00")
        rendered.append(out)
    return rendered


@st.composite
def hosts_and_times(draw):
    zone_name = draw(st.sampled_from(ZONES))
    pivots = TRANSITIONS[zone_name] or [date(2025, 6, 1)]
    pivot = draw(st.one_of(st.sampled_from(pivots), st.dates(date(2025, 1, 1), date(2026, 12, 1))))
    tz = ZoneInfo(zone_name)
    window_start = datetime(pivot.year, pivot.month, pivot.day, tzinfo=tz).astimezone(UTC) \
        + timedelta(hours=draw(st.integers(-30, 20)))
    window_end = window_start + timedelta(hours=draw(st.integers(1, 100)))
    now = window_start + timedelta(minutes=draw(st.integers(-36 * 60, 12 * 60)))
    hosts = []
    for index in range(draw(st.integers(1, 3))):
        host_zone = zone_name if index == 0 else draw(st.sampled_from(ZONES))
        weekly = draw(clock_ranges())
        working_hours = [{"days": [day], "hours": ranges}
                         for day, ranges in zip(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), weekly) if ranges]
        overrides = []
        for offset in sorted(set(draw(st.lists(st.sampled_from([0, 0, 0, 1, -1, 2, 3]), max_size=3)))):
            # Several start or end inside the spring-forward gap of some zone (01:00-03:00 local).
            hours = draw(st.sampled_from([[], ["00:00-06:00"], ["09:00-12:00", "13:00-17:00"], ["01:00-03:30"],
                                          ["02:30-05:00"], ["00:30-04:00"], ["22:00-02:15"], ["00:00-24:00"],
                                          ["01:45-02:15"]]))
            overrides.append({"date": pivot + timedelta(days=offset), "hours": hours})
        time_off = []
        for _ in range(draw(st.integers(0, 3))):
            start = datetime.combine(pivot, datetime.min.time()) + timedelta(minutes=draw(minutes(-1440, 4 * 1440)))
            time_off.append({"start": start, "end": start + timedelta(minutes=draw(minutes(1, 600)))})
        try:
            hosts.append(Host(id=f"h{index}", display_name=f"Host {index}", mailbox=f"h{index}@example.com",
                              time_zone=host_zone, working_hours=working_hours, date_overrides=overrides,
                              time_off=time_off, daily_limit=draw(st.sampled_from([None, None, 1, 2, 4]))))
        except ValidationError:
            assume(False)
    return hosts, window_start, window_end, now


@st.composite
def event_types(draw):
    duration = draw(st.sampled_from([15, 30, 45, 60, 90, 120, 240]))
    return EventType(key="visit", name="Visit", location_kind="phone", duration_minutes=duration,
                     slot_interval_minutes=draw(st.sampled_from([None, 15, 20, 30, 60, 45])),
                     buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 15, 30])),
                     buffer_after_minutes=draw(st.sampled_from([0, 0, 10, 15, 60])),
                     minimum_notice_minutes=draw(st.sampled_from([0, 0, 30, 120, 1440])),
                     maximum_advance_days=draw(st.sampled_from([1, 2, 3, 30])),
                     daily_limit=draw(st.sampled_from([None, None, 1, 2])))


@st.composite
def calendars(draw, hosts, window_start):
    busy, claims = {}, {}
    for host in hosts:
        blocks = []
        for _ in range(draw(st.integers(0, 12))):
            start = window_start + timedelta(minutes=draw(minutes(-48 * 60, 100 * 60)))
            end = start + timedelta(minutes=draw(minutes(0, 300)))
            blocks.append(BusyBlock(start, end, draw(st.sampled_from(SHOW_AS))))
        held = []
        for _ in range(draw(st.integers(0, 6))):
            start = window_start + timedelta(minutes=draw(minutes(-30 * 60, 100 * 60)))
            held.append(Claim(start, start + timedelta(minutes=draw(st.sampled_from([15, 30, 60, 90, 7]))),
                              timedelta(minutes=draw(st.sampled_from([0, 10, 15, 3]))),
                              timedelta(minutes=draw(st.sampled_from([0, 15, 30]))),
                              draw(st.sampled_from(["visit", "other", None]))))
        busy[host.id], claims[host.id] = blocks, held
    return busy, claims


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_engine_offers_exactly_what_the_reference_offers(data):
    hosts, window_start, window_end, now = data.draw(hosts_and_times())
    event_type = data.draw(event_types())
    busy, claims = data.draw(calendars(hosts, window_start))
    granule = data.draw(st.sampled_from([5, 15]))

    slots = find_slots(event_type, hosts, busy, claims, window_start, window_end, now, granule_minutes=granule)
    offered = {slot.start: list(slot.host_ids) for slot in slots}
    expected = reference_slots(event_type, hosts, busy, claims, window_start, window_end, now,
                               granule_minutes=granule)

    assert offered == expected
    assert [slot.start for slot in slots] == sorted(offered), "slots come sorted by start"
    assert all(slot.end - slot.start == timedelta(minutes=event_type.duration_minutes) for slot in slots)
    assert all(slot.start.tzinfo is UTC for slot in slots)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_check_slot_agrees_and_names_a_rule_the_start_really_breaks(data):
    hosts, window_start, window_end, now = data.draw(hosts_and_times())
    host = hosts[0]
    event_type = data.draw(event_types())
    busy, claims = data.draw(calendars([host], window_start))
    tz = ZoneInfo(host.time_zone)
    duration = timedelta(minutes=event_type.duration_minutes)
    interval = timedelta(minutes=event_type.slot_interval_minutes)
    first = window_start.astimezone(tz).date() - timedelta(days=1)
    last = window_end.astimezone(tz).date()
    fits_somewhere: dict[datetime, bool] = {}
    for start, fits in grid_points(host, first, last, interval, duration):
        fits_somewhere[start] = fits_somewhere.get(start, False) or fits
    offered = {s.start for s in find_slots(event_type, [host], busy, claims, window_start - timedelta(days=2),
                                           window_end + timedelta(days=2), now)}
    for start, fits in list(fits_somewhere.items())[:60]:
        reason = check_slot(event_type, host, start, busy[host.id], claims[host.id], now=now)
        broken = broken_rules(event_type, host, start, busy[host.id], claims[host.id], now,
                              ("busy", "tentative", "oof"), 5)
        if not fits:
            broken.add("outside_working_hours")
        assert (reason is None) == (start in offered) == (not broken)
        if reason is not None:
            assert reason in broken, f"{start}: said {reason}, but it breaks {sorted(broken)}"
