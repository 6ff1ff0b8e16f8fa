"""The slot engine, rule by rule, on cases a dispatcher would recognise (times read in local time)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.availability import Claim, check_slot, find_slots, host_availability, render_slots
from shared.domain.business import EventType, Host
from shared.ports import BusyBlock

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")


def host(host_id="dana", zone="America/Chicago", hours=None, **fields) -> Host:
    working_hours = hours if hours is not None else [{"days": "mon-fri", "hours": ["08:00-17:00"]}]
    return Host(id=host_id, display_name=host_id.title(), mailbox=f"{host_id}@example.com", time_zone=zone,
                working_hours=working_hours, **fields)


def event(duration=60, interval=None, before=0, after=0, notice=0, advance=365, limit=None) -> EventType:
    return EventType(key="visit", name="Visit", location_kind="phone", duration_minutes=duration,
                     slot_interval_minutes=interval, buffer_before_minutes=before, buffer_after_minutes=after,
                     minimum_notice_minutes=notice, maximum_advance_days=advance, daily_limit=limit)


def local(text: str, tz: ZoneInfo = CHICAGO, fold: int = 0) -> datetime:
    """'2026-03-02 09:00' on a wall clock in ``tz`` -> aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=tz, fold=fold).astimezone(UTC)


def starts(slots, tz: ZoneInfo = CHICAGO) -> list[str]:
    """Slot starts as local 'YYYY-MM-DD HH:MM±HH' strings (the offset shows which side of a DST change)."""
    return [s.start.astimezone(tz).strftime("%Y-%m-%d %H:%M%z")[:-2] for s in slots]


def day_of(date_text: str, tz: ZoneInfo = CHICAGO) -> tuple[datetime, datetime]:
    return local(f"{date_text} 00:00", tz), local(f"{date_text} 00:00", tz) + timedelta(days=1, hours=6)


EARLY = datetime(2026, 2, 20, tzinfo=UTC)  # "now" well before every window below


# ---------------------------------------------------------------- the grid and working hours

def test_a_plain_day_offers_the_grid_from_the_start_of_working_hours():
    slots = find_slots(event(60, 30), [host()], {}, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots) == [f"2026-03-03 {h:02d}:{m:02d}-06" for h in range(8, 16) for m in (0, 30)] + \
        ["2026-03-03 16:00-06"]
    assert all(s.end - s.start == timedelta(hours=1) and s.host_ids == ("dana",) for s in slots)


def test_interval_defaults_to_the_duration():
    slots = find_slots(event(90), [host()], {}, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots) == ["2026-03-03 08:00-06", "2026-03-03 09:30-06", "2026-03-03 11:00-06",
                             "2026-03-03 12:30-06", "2026-03-03 14:00-06", "2026-03-03 15:30-06"]  # ends 17:00


def test_a_lunch_break_splits_the_day_and_each_half_has_its_own_grid():
    lunch = host(hours=[{"days": "tue", "hours": ["08:00-12:00", "12:45-17:00"]}])
    slots = find_slots(event(60), [lunch], {}, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots) == ["2026-03-03 08:00-06", "2026-03-03 09:00-06", "2026-03-03 10:00-06",
                             "2026-03-03 11:00-06", "2026-03-03 12:45-06", "2026-03-03 13:45-06",
                             "2026-03-03 14:45-06", "2026-03-03 15:45-06"]


def test_weekends_without_hours_offer_nothing():
    assert find_slots(event(), [host()], {}, {}, *day_of("2026-03-07"), EARLY) == []


def test_a_night_shift_runs_past_midnight_and_belongs_to_the_evening_it_starts():
    night = host(hours=[{"days": "fri", "hours": ["22:00-02:00"]}])
    window = (local("2026-03-06 00:00"), local("2026-03-09 00:00"))
    slots = find_slots(event(60), [night], {}, {}, *window, EARLY)
    assert starts(slots) == ["2026-03-06 22:00-06", "2026-03-06 23:00-06", "2026-03-07 00:00-06",
                             "2026-03-07 01:00-06"]


def test_a_date_override_replaces_the_weekly_hours_and_an_empty_one_is_a_day_off():
    overridden = host(date_overrides=[{"date": "2026-03-03", "hours": ["13:00-15:00"]},
                                      {"date": "2026-03-04", "hours": []}])
    slots = find_slots(event(60), [overridden], {}, {}, local("2026-03-03 00:00"), local("2026-03-05 00:00"), EARLY)
    assert starts(slots) == ["2026-03-03 13:00-06", "2026-03-03 14:00-06"]


def test_an_override_overlapping_last_nights_shift_offers_each_start_once_in_order():
    shifts = host(hours=[{"days": "mon", "hours": ["22:00-03:00"]}],
                  date_overrides=[{"date": "2026-03-03", "hours": ["01:00-04:00"]}])
    slots = find_slots(event(60), [shifts], {}, {}, local("2026-03-02 00:00"), local("2026-03-04 00:00"), EARLY)
    assert starts(slots) == ["2026-03-02 22:00-06", "2026-03-02 23:00-06", "2026-03-03 00:00-06",
                             "2026-03-03 01:00-06", "2026-03-03 02:00-06", "2026-03-03 03:00-06"]


# ---------------------------------------------------------------- DST: gaps are skipped, repeats offered once

@pytest.mark.parametrize("zone, day, hours, expected", [
    # Chicago springs forward at 02:00 -> 03:00.
    ("America/Chicago", "2026-03-08", "00:00-06:00",
     ["00:00-06", "01:00-06", "03:00-05", "04:00-05", "05:00-05"]),
    # London springs forward at 01:00 -> 02:00.
    ("Europe/London", "2026-03-29", "00:00-04:00", ["00:00+00", "02:00+01", "03:00+01"]),
    # Sydney springs forward at 02:00 -> 03:00 (October).
    ("Australia/Sydney", "2026-10-04", "01:00-05:00", ["01:00+10", "03:00+11", "04:00+11"]),
])
def test_spring_forward_skips_the_starts_that_do_not_exist(zone, day, hours, expected):
    tz = ZoneInfo(zone)
    worker = host(zone=zone, hours=[{"days": "mon-sun", "hours": [hours]}])
    slots = find_slots(event(60), [worker], {}, {}, *day_of(day, tz), EARLY)
    assert [s[11:] for s in starts(slots, tz) if s.startswith(day)] == expected
    # Ends are real elapsed time: an hour after each start, even across the jump.
    assert all(s.end - s.start == timedelta(hours=1) for s in slots)


@pytest.mark.parametrize("zone, day, hours, expected", [
    # Chicago falls back at 02:00 -> 01:00: 01:00 happens twice and is offered once (the first time).
    ("America/Chicago", "2026-11-01", "00:00-04:00", ["00:00-05", "01:00-05", "02:00-06", "03:00-06"]),
    ("Europe/London", "2026-10-25", "00:00-03:00", ["00:00+01", "01:00+01", "02:00+00"]),
    # Sydney falls back at 03:00 -> 02:00 (April).
    ("Australia/Sydney", "2026-04-05", "01:00-05:00", ["01:00+11", "02:00+11", "03:00+10", "04:00+10"]),
])
def test_fall_back_offers_a_repeated_start_once(zone, day, hours, expected):
    tz = ZoneInfo(zone)
    worker = host(zone=zone, hours=[{"days": "mon-sun", "hours": [hours]}])
    slots = find_slots(event(60), [worker], {}, {}, *day_of(day, tz), EARLY)
    assert [s[11:] for s in starts(slots, tz) if s.startswith(day)] == expected


def test_a_night_shift_across_fall_back_keeps_real_hours_and_offers_the_repeated_hour_once():
    night = host(hours=[{"days": "sat", "hours": ["22:00-04:00"]}])
    slots = find_slots(event(60), [night], {}, {}, local("2026-10-31 12:00"), local("2026-11-01 12:00"), EARLY)
    assert starts(slots) == ["2026-10-31 22:00-05", "2026-10-31 23:00-05", "2026-11-01 00:00-05",
                             "2026-11-01 01:00-05", "2026-11-01 02:00-06", "2026-11-01 03:00-06"]


def test_working_hours_starting_inside_the_gap_start_when_the_clock_jumps_plus_the_gap():
    # 02:30 does not exist on 8 March 2026 in Chicago; like java.time it reads as 03:30 CDT.
    early = host(hours=[], date_overrides=[{"date": "2026-03-08", "hours": ["02:30-05:00"]}])
    slots = find_slots(event(30), [early], {}, {}, *day_of("2026-03-08"), EARLY)
    assert starts(slots) == ["2026-03-08 03:30-05", "2026-03-08 04:00-05", "2026-03-08 04:30-05"]


def test_midnight_that_does_not_exist_santiago():
    # Chile springs forward at 24:00 -> 01:00 (6 September 2026): the day starts at 01:00.
    tz = ZoneInfo("America/Santiago")
    worker = host(zone="America/Santiago", hours=[{"days": "mon-sun", "hours": ["00:00-03:00"]}])
    slots = find_slots(event(60), [worker], {}, {}, *day_of("2026-09-06", tz), EARLY)
    assert [s for s in starts(slots, tz) if s.startswith("2026-09-06")] == \
        ["2026-09-06 01:00-03", "2026-09-06 02:00-03"]


# ---------------------------------------------------------------- notice, advance, window

def test_minimum_notice_cuts_into_today():
    now = local("2026-03-03 10:10")
    slots = find_slots(event(60, 30, notice=120), [host()], {}, {}, local("2026-03-03 00:00"),
                       local("2026-03-04 00:00"), now)
    assert starts(slots)[0] == "2026-03-03 12:30-06"  # 12:10 is the earliest; 12:00 is too soon


def test_a_start_exactly_at_the_notice_boundary_is_offered():
    now = local("2026-03-03 10:00")
    slots = find_slots(event(60, 30, notice=120), [host()], {}, {}, *day_of("2026-03-03"), now)
    assert starts(slots)[0] == "2026-03-03 12:00-06"


def test_maximum_advance_stops_offering_beyond_it():
    now = local("2026-03-02 09:00")
    slots = find_slots(event(60, advance=2), [host()], {}, {}, local("2026-03-02 00:00"),
                       local("2026-03-10 00:00"), now)
    assert starts(slots)[-1] == "2026-03-04 08:00-06"  # 09:00 on the 4th is exactly two days out: excluded


def test_window_is_on_starts_and_a_slot_may_end_after_it():
    slots = find_slots(event(60), [host()], {}, {}, local("2026-03-03 09:00"), local("2026-03-03 10:30"), EARLY)
    assert starts(slots) == ["2026-03-03 09:00-06", "2026-03-03 10:00-06"]
    assert find_slots(event(60), [host()], {}, {}, local("2026-03-03 10:00"), local("2026-03-03 09:00"), EARLY) == []


# ---------------------------------------------------------------- busy time, buffers, holds

def busy(start: str, end: str, show_as="busy") -> BusyBlock:
    return BusyBlock(local(start), local(end), show_as)


def test_busy_blocks_with_zero_buffers_allow_back_to_back():
    blocks = {"dana": [busy("2026-03-03 10:00", "2026-03-03 11:00")]}
    slots = find_slots(event(60), [host()], blocks, {}, *day_of("2026-03-03"), EARLY)
    assert "2026-03-03 09:00-06" in starts(slots) and "2026-03-03 11:00-06" in starts(slots)
    assert "2026-03-03 10:00-06" not in starts(slots)


def test_buffers_keep_distance_from_busy_time_on_both_sides():
    blocks = {"dana": [busy("2026-03-03 11:00", "2026-03-03 12:00")]}
    slots = find_slots(event(60, 15, before=15, after=30), [host()], blocks, {}, *day_of("2026-03-03"), EARLY)
    offered = starts(slots)
    assert "2026-03-03 09:30-06" in offered and "2026-03-03 09:45-06" not in offered  # 10:45 + 30 min after
    assert "2026-03-03 12:00-06" not in offered and "2026-03-03 12:15-06" in offered  # 15 min before


def test_buffers_may_fall_outside_working_hours():
    slots = find_slots(event(60, before=30, after=30), [host()], {}, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots)[0] == "2026-03-03 08:00-06" and starts(slots)[-1] == "2026-03-03 16:00-06"


def test_adjacent_busy_blocks_form_one_wall():
    blocks = {"dana": [busy("2026-03-03 09:00", "2026-03-03 10:00"), busy("2026-03-03 10:00", "2026-03-03 11:00"),
                       busy("2026-03-03 11:00", "2026-03-03 11:30")]}
    slots = find_slots(event(30, 30), [host()], blocks, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots)[:3] == ["2026-03-03 08:00-06", "2026-03-03 08:30-06", "2026-03-03 11:30-06"]


def test_only_blocking_show_as_values_make_time_busy():
    blocks = {"dana": [busy("2026-03-03 08:00", "2026-03-03 09:00", "free"),
                       busy("2026-03-03 09:00", "2026-03-03 10:00", "workingElsewhere"),
                       busy("2026-03-03 10:00", "2026-03-03 11:00", "tentative"),
                       busy("2026-03-03 11:00", "2026-03-03 12:00", "oof")]}
    offered = starts(find_slots(event(60), [host()], blocks, {}, *day_of("2026-03-03"), EARLY))
    assert offered[:3] == ["2026-03-03 08:00-06", "2026-03-03 09:00-06", "2026-03-03 12:00-06"]
    only_busy = starts(find_slots(event(60), [host()], blocks, {}, *day_of("2026-03-03"), EARLY,
                                  blocking_show_as=("busy",)))
    assert "2026-03-03 10:00-06" in only_busy and "2026-03-03 11:00-06" in only_busy


def test_holds_and_bookings_block_with_their_own_buffers():
    booked = {"dana": [Claim(local("2026-03-03 12:00"), local("2026-03-03 13:00"),
                             buffer_before=timedelta(minutes=30), buffer_after=timedelta(minutes=60))]}
    offered = starts(find_slots(event(60), [host()], {}, booked, *day_of("2026-03-03"), EARLY))
    # blocked: 11:30-14:00 -> an hour slot may end at 11:30 at the latest and start at 14:00.
    assert offered == ["2026-03-03 08:00-06", "2026-03-03 09:00-06", "2026-03-03 10:00-06",
                       "2026-03-03 14:00-06", "2026-03-03 15:00-06", "2026-03-03 16:00-06"]


def test_a_hold_off_the_granule_blocks_the_granules_it_touches():
    # A hold ending at 10:02 claims the 10:00-10:05 granule, so a 10:00 start would collide in storage.
    held = {"dana": [Claim(local("2026-03-03 09:00"), local("2026-03-03 10:02"))]}
    offered = starts(find_slots(event(60, 5), [host()], {}, held, *day_of("2026-03-03"), EARLY))
    assert "2026-03-03 10:00-06" not in offered and "2026-03-03 10:05-06" in offered


def test_time_off_blocks_the_slot_but_not_its_buffers():
    away = host(time_off=[{"start": "2026-03-03T12:00", "end": "2026-03-03T13:00"}])
    offered = starts(find_slots(event(60, before=30, after=30), [away], {}, {}, *day_of("2026-03-03"), EARLY))
    assert "2026-03-03 11:00-06" in offered and "2026-03-03 13:00-06" in offered
    assert "2026-03-03 12:00-06" not in offered


def test_daily_limits_count_bookings_on_the_hosts_local_date():
    # 23:30 Chicago on the 3rd is the 4th in UTC: it counts for the 3rd.
    late = Claim(local("2026-03-03 23:30"), local("2026-03-04 00:00"), event_type_key="visit")
    limited = host(daily_limit=1)
    offered = starts(find_slots(event(60), [limited], {}, {"dana": [late]}, local("2026-03-03 00:00"),
                                local("2026-03-05 00:00"), EARLY))
    assert all(s.startswith("2026-03-04") for s in offered) and offered


def test_event_type_limit_counts_only_its_own_bookings():
    other = Claim(local("2026-03-03 08:00"), local("2026-03-03 09:00"), event_type_key="estimate")
    mine = Claim(local("2026-03-03 09:00"), local("2026-03-03 10:00"), event_type_key="visit")
    window = day_of("2026-03-03")
    assert find_slots(event(60, limit=1), [host()], {}, {"dana": [other]}, *window, EARLY)
    assert find_slots(event(60, limit=1), [host()], {}, {"dana": [other, mine]}, *window, EARLY) == []


# ---------------------------------------------------------------- pools, rendering, check_slot

def test_a_pool_lists_per_slot_the_hosts_that_can_take_it():
    dana, luis = host("dana"), host("luis", hours=[{"days": "tue", "hours": ["10:00-12:00"]}])
    blocks = {"dana": [busy("2026-03-03 10:00", "2026-03-03 11:00")]}
    slots = find_slots(event(60), [dana, luis], blocks, {}, local("2026-03-03 09:00"), local("2026-03-03 12:00"),
                       EARLY)
    assert [(starts([s])[0][11:16], s.host_ids) for s in slots] == [
        ("09:00", ("dana",)), ("10:00", ("luis",)), ("11:00", ("dana", "luis"))]


def test_hosts_in_other_zones_keep_their_own_wall_clock():
    sam = host("sam", zone="America/Indiana/Indianapolis", hours=[{"days": "tue", "hours": ["09:00-10:00"]}])
    slots = find_slots(event(60), [sam], {}, {}, *day_of("2026-03-03"), EARLY)
    assert starts(slots) == ["2026-03-03 08:00-06"]  # 09:00 Eastern


def test_slots_render_in_any_zone_with_offsets():
    slots = find_slots(event(60), [host()], {}, {}, local("2026-03-03 08:00"), local("2026-03-03 09:00"), EARLY)
    assert render_slots(slots, "Europe/London") == [
        {"start": "2026-03-03T14:00:00+00:00", "end": "2026-03-03T15:00:00+00:00", "hostIds": ["dana"]}]
    assert slots[0].to_json("Pacific Standard Time")["start"] == "2026-03-03T06:00:00-08:00"
    assert slots[0].in_zone("Asia/Kolkata")[0].isoformat() == "2026-03-03T19:30:00+05:30"


@pytest.mark.parametrize("start, claims, blocks, now, expected", [
    ("2026-03-03 09:00", [], [], EARLY, None),
    ("2026-03-03 09:10", [], [], EARLY, "outside_working_hours"),
    ("2026-03-03 16:30", [], [], EARLY, "outside_working_hours"),
    ("2026-03-03 09:00", [], [], local("2026-03-03 08:30"), "notice"),
    ("2026-05-29 09:00", [], [], EARLY, "advance"),
    ("2026-03-03 09:00", [], [("2026-03-03 09:30", "2026-03-03 10:00")], EARLY, "busy"),
    ("2026-03-03 09:00", [("2026-03-03 10:00", "2026-03-03 11:00")], [], EARLY, "held"),
    ("2026-03-03 14:00", [("2026-03-03 10:00", "2026-03-03 11:00"), ("2026-03-03 11:00", "2026-03-03 12:00")],
     [], EARLY, "daily_limit"),
    ("2026-03-04 12:00", [], [], EARLY, "time_off"),
])
def test_check_slot_says_which_rule_a_start_breaks(start, claims, blocks, now, expected):
    worker = host(daily_limit=2, time_off=[{"start": "2026-03-04T11:30", "end": "2026-03-04T12:30"}])
    held = [Claim(local(a), local(b)) for a, b in claims]
    busy_blocks = [busy(a, b) for a, b in blocks]
    visit = event(60, 30, after=15, notice=60, advance=60)
    assert check_slot(visit, worker, local(start), busy_blocks, held, now=now) == expected


def test_host_availability_maps_each_host_to_free_or_why_not():
    dana, luis = host("dana"), host("luis", hours=[])
    assert host_availability(event(60), [dana, luis], local("2026-03-03 09:00"), now=EARLY) == \
        {"dana": None, "luis": "outside_working_hours"}


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        find_slots(event(), [host()], {}, {}, datetime(2026, 3, 3), datetime(2026, 3, 4), EARLY)


def test_naive_busy_blocks_are_refused_rather_than_read_as_local_time():
    blocks = {"dana": [BusyBlock(datetime(2026, 3, 3, 10), datetime(2026, 3, 3, 11))]}
    with pytest.raises(ValueError, match="naive"):
        find_slots(event(), [host()], blocks, {}, *day_of("2026-03-03"), EARLY)


def test_stored_bookings_can_be_passed_as_claims():
    from shared.domain.booking import Booking
    booking = Booking(id="bk-1", event_type_key="visit", host_id="dana", start=local("2026-03-03 10:00"),
                      end=local("2026-03-03 11:00"), buffer_after_minutes=30,
                      customer={"name": "Pat Doe", "phone": "+13125550123"}, context={"channel": "api"},
                      created_at=EARLY)
    offered = starts(find_slots(event(60, limit=1), [host()], {}, {"dana": [booking]},
                                *day_of("2026-03-03"), EARLY))
    assert offered == []  # the daily limit of one is taken by the booking
    offered = starts(find_slots(event(60), [host()], {}, {"dana": [booking]}, *day_of("2026-03-03"), EARLY))
    assert "2026-03-03 11:00-06" not in offered and "2026-03-03 11:30-06" not in offered
    assert "2026-03-03 12:00-06" in offered  # 11:00 + its 30-minute buffer
