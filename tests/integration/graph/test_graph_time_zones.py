"""Windows time zones at the Graph boundary, on both sides of the March and November DST switches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shared.ports import EventDraft

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
# US DST 2026: starts Sunday 8 March, ends Sunday 1 November. 09:00 in Los Angeles is 17:00 UTC in
# winter (PST, -8) and 16:00 UTC in summer (PDT, -7).
NINE_AM_LA = [
    ("2026-03-06", datetime(2026, 3, 6, 17, tzinfo=UTC)),
    ("2026-03-09", datetime(2026, 3, 9, 16, tzinfo=UTC)),
    ("2026-10-30", datetime(2026, 10, 30, 16, tzinfo=UTC)),
    ("2026-11-02", datetime(2026, 11, 2, 17, tzinfo=UTC)),
]


@pytest.mark.parametrize(("day", "utc_start"), NINE_AM_LA)
async def test_an_event_written_in_pacific_time_in_outlook_reads_back_in_utc(dana, graph, adapter, day, utc_start):
    made = graph.add_event(MAILBOX, {"subject": "Site visit",
                                     "start": {"dateTime": f"{day}T09:00:00", "timeZone": "Pacific Standard Time"},
                                     "end": {"dateTime": f"{day}T10:30:00", "timeZone": "Pacific Standard Time"}})

    read = await adapter.get_event(MAILBOX, made["id"])

    assert (read.start, read.end) == (utc_start, utc_start + timedelta(minutes=90))
    assert read.start.tzinfo is UTC


@pytest.mark.parametrize(("day", "utc_start"), NINE_AM_LA)
async def test_frontdesk_writes_local_wall_time_under_the_windows_zone_name(dana, graph, adapter, day, utc_start):
    created = await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=utc_start,
                                                              end=utc_start + timedelta(hours=1),
                                                              time_zone="America/Los_Angeles", show_as="tentative"))

    sent = graph.requests("events.create")[0]["body"]
    assert sent["start"] == {"dateTime": f"{day}T09:00:00", "timeZone": "Pacific Standard Time"}
    assert sent["end"] == {"dateTime": f"{day}T10:00:00", "timeZone": "Pacific Standard Time"}
    assert created.start == utc_start
    # What Outlook shows the technician: 09:00 in Pacific time, whichever side of the switch.
    shown = httpx.get(f"{graph.graph_url}/users/{MAILBOX}/events/{created.id}",
                      headers={"Authorization": "Bearer t", "Prefer": 'outlook.timezone="Pacific Standard Time"'}).json()
    assert shown["start"] == {"dateTime": f"{day}T09:00:00.0000000", "timeZone": "Pacific Standard Time"}


async def test_a_weekly_series_keeps_its_wall_time_across_the_switch(dana, graph, adapter):
    graph.add_event(MAILBOX, {"subject": "Crew meeting",
                              "start": {"dateTime": "2026-02-23T07:30:00", "timeZone": "Pacific Standard Time"},
                              "end": {"dateTime": "2026-02-23T08:00:00", "timeZone": "Pacific Standard Time"},
                              "recurrence": {"pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]},
                                             "range": {"type": "noEnd", "startDate": "2026-02-23"}}})

    busy = await adapter.get_busy([MAILBOX], datetime(2026, 2, 23, tzinfo=UTC), datetime(2026, 3, 24, tzinfo=UTC))

    assert [b.start for b in busy[MAILBOX]] == [
        datetime(2026, 2, 23, 15, 30, tzinfo=UTC), datetime(2026, 3, 2, 15, 30, tzinfo=UTC),
        datetime(2026, 3, 9, 14, 30, tzinfo=UTC), datetime(2026, 3, 16, 14, 30, tzinfo=UTC),
        datetime(2026, 3, 23, 14, 30, tzinfo=UTC)]


async def test_a_zone_without_windows_equivalent_still_lands_at_the_right_instant(dana, graph, adapter):
    start = datetime(2026, 5, 5, 12, tzinfo=UTC)
    created = await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=start, end=start + timedelta(hours=1),
                                                              time_zone="Antarctica/Troll"))  # not in CLDR's table
    assert (await adapter.get_event(MAILBOX, created.id)).start == start
    assert graph.requests("events.create")[0]["body"]["start"] == {"dateTime": "2026-05-05T12:00:00", "timeZone": "UTC"}


def test_times_graph_writes_in_another_zone_are_converted_too():
    """getSchedule answered in Pacific time (an app-wide Prefer, or Graph ignoring ours) still reads right."""
    from shared.adapters.graph_convert import from_date_time_time_zone
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone

    assert from_date_time_time_zone(DateTimeTimeZone(date_time="2026-11-01T01:30:00.0000000",
                                                     time_zone="Pacific Standard Time")) == \
        datetime(2026, 11, 1, 8, 30, tzinfo=UTC)  # the first 01:30 of the fall-back night (PDT)
    assert from_date_time_time_zone(DateTimeTimeZone(date_time="2026-07-01T09:00:00.1234567",
                                                     time_zone="America/Chicago")) == \
        datetime(2026, 7, 1, 14, 0, 0, 123456, tzinfo=UTC)
