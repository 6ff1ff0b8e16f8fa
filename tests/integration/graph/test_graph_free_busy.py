"""Free/busy for host pools through msgraph-sdk: getSchedule batches, long windows, recurring series."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

UTC = timezone.utc
MONDAY = datetime(2026, 6, 1, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def wall(value: datetime, zone: str = "UTC") -> dict:
    return {"dateTime": value.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": zone}


def event(subject: str, start: datetime, end: datetime, show_as: str = "busy", **extra) -> dict:
    return {"subject": subject, "start": wall(start), "end": wall(end), "showAs": show_as, **extra}


def pool(graph, size: int) -> list[str]:
    mailboxes = [f"tech{n:02d}@contoso.com" for n in range(size)]
    graph.add_users(mailboxes)
    return mailboxes


async def test_a_pool_larger_than_twenty_is_read_in_batches_of_twenty(graph, adapter):
    mailboxes = pool(graph, 25)
    for n, mailbox in enumerate(mailboxes):
        graph.add_event(mailbox, event(f"Job {n}", at(2, 9 + n % 8), at(2, 10 + n % 8)))

    busy = await adapter.get_busy(mailboxes, at(1, 0), at(8, 0))

    calls = graph.requests("getSchedule")
    assert len(calls) == 2
    assert sorted(len(c["body"]["Schedules"]) for c in calls) == [5, 20]
    assert set(busy) == set(mailboxes)
    for n, mailbox in enumerate(mailboxes):
        assert [(b.start, b.end, b.show_as) for b in busy[mailbox]] == [(at(2, 9 + n % 8), at(2, 10 + n % 8), "busy")]


async def test_every_show_as_comes_back_so_the_domain_can_decide_what_blocks(graph, adapter):
    mailbox = pool(graph, 1)[0]
    for n, show_as in enumerate(["free", "tentative", "busy", "oof", "workingElsewhere"]):
        graph.add_event(mailbox, event(show_as, at(3, 8 + n), at(3, 9 + n), show_as))

    busy = await adapter.get_busy([mailbox], at(3, 0), at(4, 0))

    assert [(b.start.hour, b.show_as) for b in busy[mailbox]] == [
        (8, "free"), (9, "tentative"), (10, "busy"), (11, "oof"), (12, "workingElsewhere")]


async def test_a_window_longer_than_graph_allows_is_split_and_an_event_across_the_cut_counted_once(graph, adapter):
    mailboxes = pool(graph, 3)
    # 100 days -> two getSchedule windows (61 + 39 days); the event straddles the cut at day 61.
    start = datetime(2026, 1, 1, tzinfo=UTC)
    straddling = (datetime(2026, 3, 2, 23, 0, tzinfo=UTC), datetime(2026, 3, 3, 1, 0, tzinfo=UTC))
    graph.add_event(mailboxes[0], event("Overnight job", *straddling))
    graph.add_event(mailboxes[1], event("Late job", datetime(2026, 4, 1, 9, tzinfo=UTC),
                                        datetime(2026, 4, 1, 10, tzinfo=UTC)))

    busy = await adapter.get_busy(mailboxes, start, datetime(2026, 4, 11, tzinfo=UTC))

    assert len(graph.requests("getSchedule")) == 2
    assert [(b.start, b.end) for b in busy[mailboxes[0]]] == [straddling]
    assert [b.start.month for b in busy[mailboxes[1]]] == [4]
    assert busy[mailboxes[2]] == []


async def test_recurring_series_are_expanded_into_their_occurrences(graph, adapter):
    mailbox = pool(graph, 1)[0]
    graph.add_event(mailbox, event("Standup", at(1, 16), at(1, 16, 15), recurrence={
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": ["monday", "wednesday", "friday"]},
        "range": {"type": "endDate", "startDate": "2026-06-01", "endDate": "2026-06-12"}}))
    graph.add_event(mailbox, event("Van service", at(2, 7), at(2, 8), recurrence={
        "pattern": {"type": "daily", "interval": 2},
        "range": {"type": "numbered", "startDate": "2026-06-02", "numberOfOccurrences": 3}}))

    busy = await adapter.get_busy([mailbox], at(1, 0), at(30, 0))
    listed = await adapter.list_events(mailbox, at(1, 0), at(30, 0))

    standups = [b.start.day for b in busy[mailbox] if b.start.hour == 16]
    vans = [b.start.day for b in busy[mailbox] if b.start.hour == 7]
    assert standups == [1, 3, 5, 8, 10, 12]
    assert vans == [2, 4, 6]
    assert sorted(e.start.day for e in listed) == sorted(standups + vans)
    assert len({e.id for e in listed}) == len(listed)  # each occurrence has its own id


async def test_an_unreadable_mailbox_is_busy_for_the_whole_window_instead_of_looking_free(graph, adapter):
    readable = pool(graph, 1)[0]

    busy = await adapter.get_busy([readable, "left.company@contoso.com"], at(1, 0), at(2, 0))

    assert busy[readable] == []
    assert [(b.start, b.end, b.show_as) for b in busy["left.company@contoso.com"]] == [(at(1, 0), at(2, 0), "busy")]


async def test_calendar_view_source_pages_through_every_event_and_keeps_event_ids(graph, make_adapter):
    mailboxes = pool(graph, 2)
    created = [graph.add_event(mailboxes[0], event(f"Job {n}", at(1 + n // 8, 8 + n % 8), at(1 + n // 8, 9 + n % 8)))
               for n in range(25)]
    adapter = make_adapter(busy_source="calendar_view", page_size=10)

    busy = await adapter.get_busy(mailboxes, at(1, 0), at(30, 0))

    assert [b.event_id for b in busy[mailboxes[0]]] == [e["id"] for e in created]
    assert busy[mailboxes[1]] == []
    views = graph.requests("calendarView")
    assert len([v for v in views if v["mailbox"] == mailboxes[0]]) == 3  # 10 + 10 + 5
    assert all("$skip" not in v["query"] for v in views[:1])


async def test_no_mailboxes_means_no_requests(graph, adapter):
    assert await adapter.get_busy([], at(1, 0), at(2, 0)) == {}
    assert graph.requests() == []


async def test_naive_or_backwards_windows_are_refused(adapter):
    with pytest.raises(ValueError):
        await adapter.get_busy(["a@contoso.com"], datetime(2026, 6, 1), datetime(2026, 6, 2))
    with pytest.raises(ValueError):
        await adapter.get_busy(["a@contoso.com"], at(2, 0), at(1, 0))
