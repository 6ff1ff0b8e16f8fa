"""Reschedule and cancel sagas end to end: the new time claimed first, Outlook, Dynamics, the customer's text
and the webhooks brought up to date; a conflict leaves the old booking exactly as it was."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from saga_support import (CUSTOMER, DANA, REPAIR, book, claims_of, confirm, finished, free_slots, new_booking_id,
                          ours, run, saga_input, services, sms_to, stage_reached, start, stored_booking)

from shared.services.contracts import BOOKING_SAGA, CANCEL_SAGA, RESCHEDULE_SAGA, CancelInput, RescheduleInput

UTC = timezone.utc
DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"
SAM_MAILBOX = "sam.whitfield@lakeshore-ph.example.com"
DANA_USER = "5d1c3f0e-8a2b-4c6d-9e1f-0a1b2c3d4e01"


def _reschedule(booking_id: str, start: datetime, host_id: str | None = None) -> dict:
    return RescheduleInput(booking_id=booking_id, start=start, host_id=host_id,
                           requested_at=datetime.now(UTC)).model_dump(mode="json")


def _cancel(booking_id: str, notify_customer: bool = True) -> dict:
    return CancelInput(booking_id=booking_id, reason="customer called", notify_customer=notify_customer,
                       requested_at=datetime.now(UTC)).model_dump(mode="json")


async def _booked(stack, config, index: int = 0, **options) -> tuple[str, datetime, dict]:
    when = free_slots(config, REPAIR, DANA)[index]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when, **options))
    assert result["outcome"] == "confirmed"
    stack.acs.reset()
    return booking_id, when, result["booking"]


async def test_rescheduling_moves_claims_event_appointment_and_tells_the_customer(clean_stack, config,
                                                                                  webhook_sink):
    stack = clean_stack
    booking_id, old_time, before = await _booked(stack, config)
    new_time = free_slots(config, REPAIR, DANA)[4]
    result = await run(stack, RESCHEDULE_SAGA, f"{booking_id}-move-1", _reschedule(booking_id, new_time))

    assert result["outcome"] == "rescheduled"
    booking = result["booking"]
    assert booking["start"] == new_time.isoformat().replace("+00:00", "Z") and booking["hostId"] == DANA
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["id"] == before["outlookEventId"]  # the same Outlook event, moved
    assert event["start"]["dateTime"].startswith(new_time.strftime("%Y-%m-%dT%H:%M:%S"))
    claimed = {(c.start, c.end, c.kind) for around in (old_time, new_time)
               for c in await claims_of(DANA, booking_id, around)}
    assert claimed == {(new_time - timedelta(minutes=15), new_time + timedelta(minutes=75), "booking")}
    [text] = sms_to(stack, CUSTOMER["phone"])
    assert "has moved to" in text["message"] and "(was " in text["message"]
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["scheduledstart"] == new_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    kinds = [json.loads(d["body"])["type"] for d in webhook_sink.deliveries()]
    assert kinds == ["booking.created", "booking.rescheduled"]
    notifications = booking["notifications"]
    assert notifications["sms"]["status"] == "sent" and notifications["sms"]["attempts"] == 2
    assert notifications["email"]["attempts"] == 1  # the owner heard about the booking once


async def test_rescheduling_onto_a_taken_time_leaves_the_booking_as_it_was(clean_stack, config):
    stack = clean_stack
    booking_id, old_time, before = await _booked(stack, config)
    taken = free_slots(config, REPAIR, DANA)[4]
    other = await book(stack, saga_input(new_booking_id(), taken))
    assert other["outcome"] == "confirmed"
    stack.acs.reset()
    result = await run(stack, RESCHEDULE_SAGA, f"{booking_id}-move-2", _reschedule(booking_id, taken, DANA))

    assert result["outcome"] == "conflict" and result["conflict"]["reason"] in ("busy", "held")
    after = await stored_booking(booking_id)
    assert after.start == old_time and after.status.value == "confirmed" and after.version == before["version"]
    assert len(await claims_of(DANA, booking_id, old_time)) == 1
    events = {e["transactionId"]: e for e in stack.graph.events(DANA_MAILBOX)}
    assert events[booking_id]["start"]["dateTime"].startswith(old_time.strftime("%Y-%m-%dT%H:%M:%S"))
    assert stack.acs.outbox() == []


async def test_a_move_that_loses_the_new_time_in_a_race_keeps_the_old_one(clean_stack, config):
    from shared.services import booking as booking_service
    from shared.services.booking import Plan
    stack = clean_stack
    booking_id, old_time, before = await _booked(stack, config)
    new_time = free_slots(config, REPAIR, DANA)[4]
    new = Plan(DANA, new_time, new_time + timedelta(hours=1), 15, 15)
    claims = services().claims
    now = datetime.now(UTC)
    # Someone claims the new time between the reschedule's check and its move.
    won = await claims.claim(DANA, new.granules(claims.granule), "bk_someone_else", "hold",
                             now + timedelta(minutes=5), now=now)
    assert won.won
    outcome = await booking_service.apply_reschedule(services(), booking_id, Plan.of(await stored_booking(booking_id)),
                                                     new, None, now)

    assert outcome["outcome"] == "conflict" and outcome["conflict"]["reason"] == "held"
    after = await stored_booking(booking_id)
    assert after.start == old_time and after.version == before["version"]
    claimed = {(c.start, c.kind) for around in (old_time, new_time) for c in await claims_of(DANA, booking_id, around)}
    assert claimed == {(old_time - timedelta(minutes=15), "booking")}


async def test_rescheduling_to_another_host_moves_the_event_to_their_calendar(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, "teams-consult", DANA)[0]
    booking_id = new_booking_id()
    first = await book(stack, saga_input(booking_id, when, event_type="teams-consult", host_id=DANA))
    assert first["outcome"] == "confirmed"
    new_time = free_slots(config, "teams-consult", "sam")[3]
    result = await run(stack, RESCHEDULE_SAGA, f"{booking_id}-to-sam", _reschedule(booking_id, new_time, "sam"))

    assert result["outcome"] == "rescheduled" and result["booking"]["hostId"] == "sam"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    [event] = ours(stack.graph.events(SAM_MAILBOX), booking_id)
    assert result["booking"]["outlookEventId"] == event["id"]
    assert result["booking"]["outlookMailbox"] == SAM_MAILBOX
    assert [a["emailAddress"]["address"] for a in event["attendees"]] == [CUSTOMER["email"]]  # Teams invite
    assert await claims_of(DANA, booking_id, when) == []
    assert len(await claims_of("sam", booking_id, new_time)) == 1
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["_ownerid_value"] == config.host("sam").dynamics_systemuser_id


async def test_cancelling_frees_the_time_and_tells_everyone(clean_stack, config, webhook_sink):
    stack = clean_stack
    booking_id, when, before = await _booked(stack, config)
    result = await run(stack, CANCEL_SAGA, f"{booking_id}-cancel", _cancel(booking_id))

    assert result["outcome"] == "cancelled" and result["booking"]["status"] == "cancelled"
    assert result["booking"]["cancelReason"] == "customer called"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    [text] = sms_to(stack, CUSTOMER["phone"])
    assert "has been cancelled" in text["message"]
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["statecode"] == 2  # Canceled
    assert [json.loads(d["body"])["type"] for d in webhook_sink.deliveries()] == ["booking.created",
                                                                                   "booking.cancelled"]
    # The freed time can be booked again at once.
    assert (await book(stack, saga_input(new_booking_id(), when)))["outcome"] == "confirmed"


async def test_cancelling_twice_changes_nothing_more(clean_stack, config, webhook_sink):
    stack = clean_stack
    booking_id, _, _ = await _booked(stack, config)
    await run(stack, CANCEL_SAGA, f"{booking_id}-cancel", _cancel(booking_id))
    again = await run(stack, CANCEL_SAGA, f"{booking_id}-cancel-again", _cancel(booking_id))

    assert again["outcome"] == "cancelled"
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1
    assert len(webhook_sink.deliveries()) == 2


async def test_a_quiet_cancel_does_not_text_the_customer(clean_stack, config):
    stack = clean_stack
    booking_id, _, _ = await _booked(stack, config)
    result = await run(stack, CANCEL_SAGA, f"{booking_id}-cancel", _cancel(booking_id, notify_customer=False))

    assert result["outcome"] == "cancelled"
    assert stack.acs.outbox() == []
    assert result["booking"]["notifications"]["sms"]["status"] == "skipped"
    assert result["booking"]["notifications"]["crm"]["status"] == "sent"


async def test_cancelling_a_hold_awaiting_its_yes_ends_the_booking_saga(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    payload = saga_input(new_booking_id(), when, confirmation="await")
    booking_id = payload["bookingId"]
    await start(stack, BOOKING_SAGA, booking_id, payload)
    await stage_reached(stack, booking_id, "held")
    cancelled = await run(stack, CANCEL_SAGA, f"{booking_id}-cancel", _cancel(booking_id))
    await confirm(stack, booking_id, yes=True)  # too late: the booking is gone
    result = await finished(stack, booking_id)

    assert cancelled["outcome"] == "cancelled"
    assert result["outcome"] == "cancelled"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    assert stack.acs.outbox() == []  # a hold never confirmed was never announced, nor its cancellation
    notifications = (await stored_booking(booking_id)).notifications
    assert notifications.sms.status == notifications.crm.status == notifications.webhooks.status == "skipped"


async def test_reschedule_and_cancel_of_an_unknown_booking_say_not_found(clean_stack):
    stack = clean_stack
    moved = await run(stack, RESCHEDULE_SAGA, "bk_nope-move", _reschedule("bk_nope", datetime.now(UTC)))
    cancelled = await run(stack, CANCEL_SAGA, "bk_nope-cancel", _cancel("bk_nope"))
    assert moved["outcome"] == cancelled["outcome"] == "not_found"
