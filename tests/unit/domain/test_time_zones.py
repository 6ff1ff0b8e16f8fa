"""Time zones: Windows <-> IANA over the whole CLDR table, and wall-clock rules around DST."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tzlocal.windows_tz import tz_win

from shared.domain.timezones import (UnknownTimeZoneError, iana_to_windows, in_zone, is_ambiguous, local_date,
                                     render, to_utc, wall_exists, wall_to_utc, windows_to_iana, windows_zone_table,
                                     zone)

UTC = timezone.utc
TABLE = windows_zone_table()


def test_the_cldr_table_is_the_whole_table():
    assert len(TABLE) >= 130
    assert TABLE["Pacific Standard Time"] == "America/Los_Angeles"
    assert TABLE["AUS Eastern Standard Time"] == "Australia/Sydney"


@pytest.mark.parametrize("windows_name", sorted(TABLE))
def test_every_windows_zone_round_trips_through_iana(windows_name):
    iana = windows_to_iana(windows_name)
    zone(iana)  # zoneinfo knows it
    assert iana_to_windows(iana) == windows_name


# Zones whose rules tzdata changed after the CLDR snapshot tzlocal ships (checked against tzdata 2026).
STALE_IN_CLDR = {"America/Scoresbysund", "Antarctica/Casey", "Antarctica/Vostok"}


def test_every_iana_zone_in_cldr_maps_to_a_windows_zone_with_the_same_clock():
    """IANA -> Windows -> IANA lands on the Windows zone's representative zone, which shows the same
    offsets in winter and summer (so an Outlook event keeps its wall time either way)."""
    probes = [datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC)]
    differing = set()
    for iana, windows_name in tz_win.items():
        if not iana:
            continue
        assert iana_to_windows(iana) == windows_name
        back = windows_to_iana(windows_name)
        assert iana_to_windows(back) == windows_name
        if [p.astimezone(zone(iana)).utcoffset() for p in probes] != \
                [p.astimezone(zone(back)).utcoffset() for p in probes]:
            differing.add(iana)
    assert len(tz_win) > 450
    assert differing <= STALE_IN_CLDR


def test_utc_and_its_aliases():
    for name in ("UTC", "Etc/UTC", "Etc/GMT"):
        assert iana_to_windows(name) == "UTC"
    assert windows_to_iana("UTC") == "Etc/UTC"
    assert windows_to_iana("Coordinated Universal Time") == "Etc/UTC"


def test_iana_names_pass_through_windows_to_iana():
    assert windows_to_iana("America/Chicago") == "America/Chicago"


@pytest.mark.parametrize("bad", ["", "Mars/Olympus_Mons", "Pacific Standard Tim", "../etc/passwd"])
def test_unknown_names_are_refused_clearly(bad):
    with pytest.raises(UnknownTimeZoneError):
        iana_to_windows(bad)
    with pytest.raises(UnknownTimeZoneError):
        windows_to_iana(bad)


def test_wall_times_in_the_spring_gap_do_not_exist_and_shift_forward():
    chicago = zone("America/Chicago")
    gap = datetime(2026, 3, 8, 2, 30)
    assert not wall_exists(gap, chicago)
    assert wall_to_utc(gap, chicago) == datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # 03:30 CDT
    assert wall_exists(datetime(2026, 3, 8, 3, 0), chicago)


def test_ambiguous_wall_times_are_their_first_occurrence():
    chicago = zone("America/Chicago")
    repeated = datetime(2026, 11, 1, 1, 30)
    assert is_ambiguous(repeated, chicago) and wall_exists(repeated, chicago)
    assert wall_to_utc(repeated, chicago) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 CDT
    assert not is_ambiguous(datetime(2026, 11, 1, 2, 30), chicago)


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(["America/Chicago", "Europe/London", "Australia/Sydney", "Australia/Lord_Howe",
                             "America/Santiago", "Asia/Kathmandu", "Europe/Dublin"]),
       instant=st.datetimes(datetime(2024, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC)))
def test_every_instant_round_trips_through_its_wall_time(name, instant):
    tz = ZoneInfo(name)
    wall = instant.astimezone(tz).replace(tzinfo=None)
    assert wall_exists(wall, tz)
    back = wall_to_utc(wall, tz)
    # The same instant, or (in a repeated hour) the first of the two that share the wall time.
    assert back == instant or (is_ambiguous(wall, tz) and back < instant <= back + timedelta(hours=1))


def test_render_and_local_date():
    instant = datetime(2026, 3, 3, 5, 30, tzinfo=UTC)
    assert render(instant, "America/Chicago") == "2026-03-02T23:30:00-06:00"
    assert render(instant, "Central Standard Time") == "2026-03-02T23:30:00-06:00"
    assert local_date(instant, zone("America/Chicago")).isoformat() == "2026-03-02"
    assert in_zone(instant, "Asia/Kathmandu").isoformat() == "2026-03-03T11:15:00+05:45"


def test_naive_values_are_refused():
    with pytest.raises(ValueError, match="naive"):
        to_utc(datetime(2026, 3, 3))
    with pytest.raises(ValueError):
        wall_to_utc(datetime(2026, 3, 3, tzinfo=UTC), zone("UTC"))
