"""A move in Outlook onto another booking is flagged (nothing dropped); Frontdesk's own writes are not echoed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from reconcile_support import (CUSTOMER, appointment, book, booking, claims_of, free_slots, move_in_outlook,
                               on_a_later_day, reconcile_outputs, run_orchestration, settle, sms_to)

UTC = timezone.utc
OTHER = {**CUSTOMER, "name": "Casey Brandt", "phone": "+13125550166", "email": "casey.brandt@example.com"}


async def test_a_move_onto_another_booking_keeps_both_and_tells_the_owner(rstack, business):
    slots = free_slots(business, "dana")
    first = await book(rstack, business, slots[0])
    second = await book(rstack, business, slots[0] + timedelta(hours=3), customer=OTHER)
    rstack.graph.clear_outbox()
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))

    move_in_outlook(rstack, first, second.start + timedelta(minutes=30))  # half over the other job
    await settle(rstack)

    moved, other = await booking(first.id), await booking(second.id)
    assert moved.start == second.start + timedelta(minutes=30) and moved.status.value == "confirmed"
    assert moved.outlook_sync.conflicts_with == (second.id,)
    # Nothing dropped: the other booking, its claims, its event and its appointment are as they were.
    assert (other.start, other.status.value) == (second.start, "confirmed")
    assert [(c.start, c.end) for c in await claims_of(other)] == [other.padded]
    assert len(rstack.graph.events(business.host("dana").mailbox)) == 2
    untouched = appointment(rstack, second.id)
    assert untouched["statecode"] != 2  # not cancelled, and still at its own time
    assert untouched["scheduledstart"].startswith(second.start.strftime("%Y-%m-%dT%H:%M"))
    # The moved booking holds what is free of its new time, and nothing of its old time.
    held = await claims_of(moved)
    assert held and held[0].start >= other.padded[1] and held[-1].end == moved.padded[1]
    mails = rstack.graph.outbox()
    assert len(mails) == 1, mails
    mail = mails[0]
    recipients = {r["emailAddress"]["address"] for r in mail["message"]["toRecipients"]}
    assert recipients == {business.business.email, business.host("dana").mailbox}
    assert mail["message"]["subject"].startswith("Double booking for Dana Reyes")
    assert first.id in mail["message"]["body"]["content"] and second.id in mail["message"]["body"]["content"]
    assert len(sms_to(rstack, CUSTOMER["phone"])) == texts_before + 1  # the customer hears the new time
    assert appointment(rstack, first.id)["scheduledstart"].startswith(moved.start.strftime("%Y-%m-%dT%H:%M"))


async def test_frontdesk_own_outlook_writes_are_not_echoed(rstack, business):
    from shared.services.contracts import CANCEL_SAGA, RESCHEDULE_SAGA
    since = datetime.now(UTC)
    slots = free_slots(business, "dana")
    made = await book(rstack, business, slots[0])  # creates the hold event, then confirms it (an update)
    rescheduled_to = on_a_later_day(slots, slots[0])
    now = datetime.now(UTC).isoformat()

    moved = await run_orchestration(rstack, RESCHEDULE_SAGA, made.id + "-move", {
        "bookingId": made.id, "start": rescheduled_to.isoformat(), "requestedAt": now})
    await settle(rstack)
    cancelled = await run_orchestration(rstack, CANCEL_SAGA, made.id + "-cancel", {
        "bookingId": made.id, "reason": "customer called", "requestedAt": now})
    await settle(rstack)

    assert (moved["outcome"], cancelled["outcome"]) == ("rescheduled", "cancelled")
    decided = await reconcile_outputs(rstack, since)
    assert decided, "Outlook notified the app of Frontdesk's own writes"
    assert {d["action"] for d in decided} <= {"unchanged", "ignored"}, decided
    final = await booking(made.id)
    assert final.status.value == "cancelled" and final.cancel_reason == "customer called"
    assert final.outlook_sync is None or final.outlook_sync.applied_by is None
    texts = sms_to(rstack, CUSTOMER["phone"])
    assert len(texts) == 3, texts  # the confirmation, the reschedule, the cancellation: nothing more
    assert ["is confirmed" in texts[0]["message"], "has moved to" in texts[1]["message"],
            "has been cancelled" in texts[2]["message"]] == [True, True, True]
