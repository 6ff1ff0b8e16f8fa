"""calendarView delta round trips: a full first round, then only what was created, changed or removed."""

from __future__ import annotations

from datetime import datetime, timezone

from shared.ports import EventDraft

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
WINDOW = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))


def job(subject: str, day: int, hour: int = 9) -> dict:
    return {"subject": subject, "start": {"dateTime": f"2026-10-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2026-10-{day:02d}T{hour + 1:02d}:00:00", "timeZone": "UTC"}}


async def test_a_delta_round_trip_sees_creations_moves_and_deletions(dana, graph, adapter):
    kept, moved, deleted = (graph.add_event(MAILBOX, job(name, day)) for name, day in
                            (("Kept", 5), ("Moved", 6), ("Deleted", 7)))

    first = await adapter.delta(MAILBOX, *WINDOW)
    assert {e.subject for e in first.changed} == {"Kept", "Moved", "Deleted"}
    assert first.removed_ids == ()

    graph.edit_event(MAILBOX, moved["id"], {"start": job("", 8, 14)["start"], "end": job("", 8, 14)["end"]})
    graph.delete_event(MAILBOX, deleted["id"])
    ours = await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=datetime(2026, 10, 9, 9, tzinfo=UTC),
                                                          end=datetime(2026, 10, 9, 10, tzinfo=UTC),
                                                          transaction_id="tx-hold", booking_id="b-1"))
    second = await adapter.delta(MAILBOX, *WINDOW, delta_link=first.delta_link)

    assert {e.id: e.start for e in second.changed} == {moved["id"]: datetime(2026, 10, 8, 14, tzinfo=UTC),
                                                      ours.id: datetime(2026, 10, 9, 9, tzinfo=UTC)}
    assert second.removed_ids == (deleted["id"],)
    assert kept["id"] not in {e.id for e in second.changed}
    assert [e.transaction_id for e in second.changed if e.id == ours.id] == ["tx-hold"]

    third = await adapter.delta(MAILBOX, *WINDOW, delta_link=second.delta_link)
    assert (third.changed, third.removed_ids) == ((), ())


async def test_an_event_moved_out_of_the_window_is_reported_removed(dana, graph, adapter):
    leaving = graph.add_event(MAILBOX, job("Leaving", 20))
    first = await adapter.delta(MAILBOX, *WINDOW)

    graph.edit_event(MAILBOX, leaving["id"], {"start": {"dateTime": "2026-12-01T09:00:00", "timeZone": "UTC"},
                                              "end": {"dateTime": "2026-12-01T10:00:00", "timeZone": "UTC"}})
    second = await adapter.delta(MAILBOX, *WINDOW, delta_link=first.delta_link)

    assert second.removed_ids == (leaving["id"],) and second.changed == ()


async def test_a_round_follows_next_links_until_the_delta_link(dana, graph, make_adapter):
    adapter = make_adapter(page_size=4)
    for day in range(1, 11):
        graph.add_event(MAILBOX, job(f"Job {day}", day))

    first = await adapter.delta(MAILBOX, *WINDOW)

    assert len(first.changed) == 10
    calls = graph.requests("calendarView.delta")
    assert len(calls) == 3  # 4 + 4 + 2
    assert all(c["headers"]["Prefer"].count("odata.maxpagesize=4") == 1 for c in calls)
    assert "$deltatoken=" in first.delta_link
