"""Hold and booking events through msgraph-sdk: idempotent creation, confirmation, reading, deleting."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.errors import NotFoundError
from shared.ports import Attendee, EventDraft

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
START = datetime(2026, 7, 14, 16, 0, tzinfo=UTC)  # 09:00 in Los Angeles (PDT)
END = START + timedelta(hours=1)


def hold(**changes) -> EventDraft:
    values = dict(subject="Hold: water heater", start=START, end=END, time_zone="America/Los_Angeles",
                  show_as="tentative", transaction_id="booking-42-hold", booking_id="booking-42",
                  categories=("Frontdesk",))
    values.update(changes)
    return EventDraft(**values)


async def test_a_hold_is_tentative_and_marked_as_frontdesks_own(dana, graph, adapter):
    created = await adapter.create_event(MAILBOX, hold())

    read = await adapter.get_event(MAILBOX, created.id)
    assert (read.start, read.end, read.show_as) == (START, END, "tentative")
    assert read.booking_id == "booking-42"
    assert read.transaction_id == "booking-42-hold"
    assert read.time_zone == "America/Los_Angeles"
    assert read.categories == ("Frontdesk",)
    stored = graph.events(MAILBOX)[0]
    assert stored["originalStartTimeZone"] == "Pacific Standard Time"


async def test_retrying_a_creation_with_the_same_transaction_id_returns_the_first_event(dana, graph, adapter):
    first = await adapter.create_event(MAILBOX, hold())
    again = await adapter.create_event(MAILBOX, hold())

    assert again.id == first.id
    assert len(graph.events(MAILBOX)) == 1
    assert [r["status"] for r in graph.requests("events.create")] == [201, 201]
    other = await adapter.create_event(MAILBOX, hold(transaction_id="booking-43-hold", booking_id="booking-43"))
    assert other.id != first.id
    assert len(graph.events(MAILBOX)) == 2


async def test_confirming_turns_the_hold_into_the_booking_with_customer_and_teams_meeting(dana, graph, adapter):
    created = await adapter.create_event(MAILBOX, hold())

    confirmed = await adapter.update_event(MAILBOX, created.id, hold(
        subject="Water heater repair - J. Doe", show_as="busy", body_html="<p>Leaking tank, side gate code 1234</p>",
        location="12 Elm Street, Springfield", attendees=(Attendee("Jane Doe", "jane@example.com"),),
        online_meeting=True))

    assert confirmed.id == created.id
    read = await adapter.get_event(MAILBOX, created.id)
    assert (read.subject, read.show_as, read.location) == ("Water heater repair - J. Doe", "busy",
                                                           "12 Elm Street, Springfield")
    assert read.attendees == (Attendee("Jane Doe", "jane@example.com"),)
    assert read.online_meeting_url and read.online_meeting_url.startswith("https://teams.microsoft.com/")
    assert read.transaction_id == "booking-42-hold"  # never sent again on update: Graph refuses to change it
    assert "transactionId" not in graph.requests("events.update")[0]["body"]
    assert read.booking_id == "booking-42"


async def test_moving_the_booking_keeps_its_identity(dana, adapter):
    created = await adapter.create_event(MAILBOX, hold(show_as="busy"))

    moved = await adapter.update_event(MAILBOX, created.id, hold(start=START + timedelta(days=1),
                                                                  end=END + timedelta(days=1), show_as="busy"))

    assert (moved.id, moved.start, moved.end) == (created.id, START + timedelta(days=1), END + timedelta(days=1))
    assert moved.change_key != created.change_key


async def test_deleting_twice_is_fine_and_the_event_is_gone(dana, graph, adapter):
    created = await adapter.create_event(MAILBOX, hold())

    await adapter.delete_event(MAILBOX, created.id)
    await adapter.delete_event(MAILBOX, created.id)

    assert await adapter.get_event(MAILBOX, created.id) is None
    assert [r["status"] for r in graph.requests("events.delete")] == [204, 404]


async def test_list_events_pages_and_recognises_frontdesks_events_among_others(dana, graph, make_adapter):
    adapter = make_adapter(page_size=10)
    for n in range(24):
        graph.add_event(MAILBOX, {"subject": f"Job {n}", "start": {"dateTime": f"2026-07-{1 + n:02d}T09:00:00",
                                                                    "timeZone": "Pacific Standard Time"},
                                  "end": {"dateTime": f"2026-07-{1 + n:02d}T10:00:00",
                                          "timeZone": "Pacific Standard Time"}})
    ours = await adapter.create_event(MAILBOX, hold())

    listed = await adapter.list_events(MAILBOX, datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 8, 1, tzinfo=UTC))

    assert len(listed) == 25
    assert [e.start for e in listed] == sorted(e.start for e in listed)
    assert [e.id for e in listed if e.booking_id] == [ours.id]
    assert len(graph.requests("calendarView")) == 3


async def test_updating_or_reading_in_an_unknown_mailbox_is_not_found(graph, adapter):
    with pytest.raises(NotFoundError) as caught:
        await adapter.update_event("nobody@contoso.com", "AAMkAD-nothing", hold())
    assert caught.value.code == "ErrorInvalidUser"
    assert caught.value.request_id == graph.requests()[-1]["requestId"]
    assert await adapter.get_event("nobody@contoso.com", "AAMkAD-nothing") is None
