"""A technician changes a Frontdesk booking in Outlook; Graph really notifies the development host, and
the booking, its claims, its Dynamics appointment and the customer follow what Outlook now says."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from reconcile_support import (CUSTOMER, appointment, book, booking, claims_of, free_slots, graph_time,
                               move_in_outlook, reconcile_outputs, settle, sms_to)

UTC = timezone.utc


async def test_a_booking_moved_in_outlook_moves_its_claims_dynamics_and_tells_the_customer(rstack, business):
    start = free_slots(business, "dana")[0]
    made = await book(rstack, business, start)
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))
    new_start = start + timedelta(days=1, hours=1)

    move_in_outlook(rstack, made, new_start)
    await settle(rstack)

    moved = await booking(made.id)
    assert (moved.start, moved.end, moved.status.value) == (new_start, new_start + timedelta(hours=1), "confirmed")
    assert moved.outlook_sync.applied_action == "moved" and moved.outlook_sync.conflicts_with == ()
    held = await claims_of(moved)
    padded_start, padded_end = moved.padded
    assert [(c.start, c.end, c.kind) for c in held] == [(padded_start, padded_end, "booking")]  # old time freed
    crm = appointment(rstack, made.id)
    assert crm["scheduledstart"].startswith(new_start.strftime("%Y-%m-%dT%H:%M"))
    texts = sms_to(rstack, CUSTOMER["phone"])[texts_before:]
    assert len(texts) == 1 and "has moved to" in texts[0]["message"], texts
    assert moved.notifications.sms.status == "sent"


async def test_a_booking_deleted_in_outlook_is_cancelled_everywhere(rstack, business):
    start = free_slots(business, "dana")[1]
    made = await book(rstack, business, start)
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))

    rstack.graph.delete_event(made.outlook_mailbox, made.outlook_event_id)
    await settle(rstack)

    cancelled = await booking(made.id)
    assert cancelled.status.value == "cancelled" and cancelled.cancel_reason == "Cancelled in Outlook"
    assert await claims_of(cancelled) == []
    assert appointment(rstack, made.id)["statecode"] == 2  # Canceled in Dynamics
    texts = sms_to(rstack, CUSTOMER["phone"])[texts_before:]
    assert len(texts) == 1 and "has been cancelled" in texts[0]["message"], texts


async def test_details_edited_in_outlook_update_dynamics_only(rstack, business):
    start = free_slots(business, "dana")[2]
    made = await book(rstack, business, start)
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))

    rstack.graph.edit_event(made.outlook_mailbox, made.outlook_event_id,
                            {"subject": "Repair - bring the long wrench", "location": {"displayName": "Rear entrance"}})
    await settle(rstack)

    edited = await booking(made.id)
    assert (edited.start, edited.end, edited.status.value) == (made.start, made.end, "confirmed")
    assert edited.outlook_sync.applied_action == "edited"
    crm = appointment(rstack, made.id)
    assert (crm["subject"], crm["location"]) == ("Repair - bring the long wrench", "Rear entrance")
    assert len(sms_to(rstack, CUSTOMER["phone"])) == texts_before  # nothing the customer needs to hear


async def test_an_event_frontdesk_did_not_make_is_left_alone(rstack, business):
    mailbox = business.host("dana").mailbox
    since = datetime.now(UTC)
    start = free_slots(business, "dana")[0]
    event = rstack.graph.add_event(mailbox, {"subject": "Dentist", "start": graph_time(start),
                                             "end": graph_time(start + timedelta(hours=1))})
    rstack.graph.edit_event(mailbox, event["id"], {"start": graph_time(start + timedelta(hours=2)),
                                                   "end": graph_time(start + timedelta(hours=3))})
    rstack.graph.delete_event(mailbox, event["id"])
    await settle(rstack)

    decided = [d for d in await reconcile_outputs(rstack, since) if d.get("eventId") == event["id"]]
    assert [d["action"] for d in decided] == ["not_ours", "not_ours"], decided  # the edit and the deletion
    assert rstack.acs.outbox() == [] and rstack.dataverse.records("appointments") == []
    assert rstack.graph.outbox() == []
