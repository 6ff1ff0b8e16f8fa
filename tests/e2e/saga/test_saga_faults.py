"""The booking saga when things go wrong: Graph failing, activities cut off after their side effects, the
host restarting, notification channels failing for a while or for good, Dynamics not configured.

Whatever happens, nothing is booked twice and nothing is left behind: no orphan hold, claim or event.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

from saga_support import (CUSTOMER, DANA, REPAIR, book, claims_of, confirm, finished, free_slots, new_booking_id,
                          ours, restart_host, saga_input, services, sms_to, stage_reached, start, stored_booking)

from shared.services import booking as booking_service
from shared.services.contracts import BOOKING_SAGA
from shared.services.webhooks import DELIVERY_HEADER

DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"


async def _advance_until_done(stack, instance_id: str, step: timedelta, rounds: int = 40):
    """Move the host clock forward (firing retry timers) until the saga completes."""
    for _ in range(rounds):
        status = stack.host.get_status(instance_id)
        if status and status.runtime_status.value in ("Completed", "Failed"):
            break
        stack.host.clock.advance(step)
        await asyncio.sleep(0.15)
    return await finished(stack, instance_id)


# ---------------------------------------------------------------- Graph failing during hold and confirm

async def test_graph_failing_while_holding_compensates_and_leaves_nothing(clean_stack, config):
    stack = clean_stack
    stack.graph.add_fault(operation="events.create", status=500, retry_after=0.05, count=20)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when))

    assert result["outcome"] == "failed" and "could not hold the time" in result["reason"]
    assert result["booking"]["status"] == "failed"
    assert len(stack.graph.requests("events.create")) == 4  # the adapter's own retries, then give up
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    assert stack.acs.outbox() == [] and stack.graph.outbox() == []


async def test_graph_throttling_while_confirming_is_waited_out(clean_stack, config):
    stack = clean_stack
    stack.graph.add_fault(operation="events.update", status=429, retry_after=0.2, count=1)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when))

    assert result["outcome"] == "confirmed"
    assert len(stack.graph.requests("events.update")) == 2
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["showAs"] == "busy"


async def test_graph_failing_while_confirming_undoes_the_hold(clean_stack, config):
    stack = clean_stack
    stack.graph.add_fault(operation="events.update", status=503, retry_after=0.05, count=20)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when))

    assert result["outcome"] == "failed" and "could not confirm" in result["reason"]
    assert (await stored_booking(booking_id)).status.value == "failed"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    assert stack.acs.outbox() == [] and stack.dataverse.records("appointments") == []


# ---------------------------------------------------------------- crashes and restarts

async def test_a_host_dying_after_the_hold_event_was_made_does_not_make_a_second_one(clean_stack, config):
    stack = clean_stack
    # The calendar re-read hangs, so the host dies inside the hold step, after its event exists in Outlook.
    stack.graph.add_fault(operation="calendarView", latency_ms=2500)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    for _ in range(200):
        if ours(stack.graph.events(DANA_MAILBOX), booking_id):
            break
        await asyncio.sleep(0.05)
    assert len(ours(stack.graph.events(DANA_MAILBOX), booking_id)) == 1

    restart_host(stack)  # the hold step runs again from the start on the new host
    result = await finished(stack, booking_id)

    assert result["outcome"] == "confirmed"
    assert len(stack.graph.requests("events.create")) == 2  # repeated with the same transactionId ...
    assert len(ours(stack.graph.events(DANA_MAILBOX), booking_id)) == 1  # ... so Outlook has one event
    assert len(await claims_of(DANA, booking_id, when)) == 1
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1


async def test_a_restarted_host_still_takes_the_customers_yes(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    payload = saga_input(new_booking_id(), when, confirmation="await", hold_seconds=300)
    booking_id = payload["bookingId"]
    await start(stack, BOOKING_SAGA, booking_id, payload)
    await stage_reached(stack, booking_id, "held")

    restart_host(stack)
    await confirm(stack, booking_id, yes=True)
    result = await finished(stack, booking_id)

    assert result["outcome"] == "confirmed"
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["showAs"] == "busy"
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1


async def test_running_the_notifications_again_sends_nothing_twice(clean_stack, config, webhook_sink):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await book(stack, saga_input(booking_id, when))
    # An activity run a second time (Durable's at-least-once), channel by channel.
    for channel in ("sms", "email", "crm", "webhooks"):
        again = await booking_service.notify(services(), channel, booking_id, "created", booking_id)
        assert again["status"] == "sent" and again["note"] == "already done for this change"

    assert len(sms_to(stack, CUSTOMER["phone"])) == 1
    assert len(stack.graph.outbox()) == 1
    assert len(stack.dataverse.records("appointments")) == 1
    assert len(webhook_sink.deliveries()) == 1
    assert (await stored_booking(booking_id)).notifications.sms.attempts == 1


# ---------------------------------------------------------------- notification channels failing

async def test_a_text_that_fails_at_first_is_retried_durably_and_sent_once(clean_stack, config):
    stack = clean_stack
    stack.acs.fault(500, times=2)  # the SDK's own retry fails too: the first activity attempt fails
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    result = await _advance_until_done(stack, booking_id, timedelta(seconds=5))

    assert result["outcome"] == "confirmed"
    sms = result["booking"]["notifications"]["sms"]
    assert sms["status"] == "sent" and sms["attempts"] == 2 and sms["lastError"] is None
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1


async def test_a_webhook_receiver_failing_for_a_while_gets_the_same_delivery_later(clean_stack, config,
                                                                                   webhook_sink):
    stack = clean_stack
    webhook_sink.answer_next(500, 503)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    result = await _advance_until_done(stack, booking_id, timedelta(seconds=5))

    assert result["booking"]["notifications"]["webhooks"]["status"] == "sent"
    attempts = webhook_sink.deliveries(accepted_only=False)
    assert [a["status"] for a in attempts] == [500, 503, 204]
    assert len({a["headers"][DELIVERY_HEADER] for a in attempts}) == 1  # receivers can drop repeats
    assert {json.loads(a["body"])["type"] for a in attempts} == {"booking.created"}


async def test_a_channel_that_keeps_failing_is_recorded_and_never_undoes_the_booking(clean_stack, config):
    stack = clean_stack
    stack.dataverse.inject_fault(500, times=1000)
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    result = await _advance_until_done(stack, booking_id, timedelta(seconds=300), rounds=60)
    stack.dataverse.clear_faults()

    assert result["outcome"] == "confirmed" and result["booking"]["status"] == "confirmed"
    crm = result["booking"]["notifications"]["crm"]
    assert crm["status"] == "failed" and crm["attempts"] == 8 and "500" in (crm["lastError"] or "")
    assert result["booking"]["notifications"]["sms"]["status"] == "sent"
    assert len(ours(stack.graph.events(DANA_MAILBOX), booking_id)) == 1
    assert len(await claims_of(DANA, booking_id, when)) == 1


async def test_without_dynamics_the_crm_step_is_skipped(clean_stack, config):
    from shared.config import DataverseSettings
    from shared.services.container import Services
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await book(stack, saga_input(booking_id, when))
    stack.dataverse.state.tables["appointments"].clear()
    # The same app with DATAVERSE__URL unset: a reschedule's CRM step finds no Dynamics to write to.
    without = Services(services().settings.model_copy(update={"dataverse": DataverseSettings()}))
    assert without.crm is None
    await booking_service.update_booking(without, booking_id,
                                         lambda b: booking_service._pending_notifications(b, "rescheduled"))
    outcome = await booking_service.notify(without, "crm", booking_id, "rescheduled", "change-1")

    assert outcome == {"channel": "crm", "status": "skipped", "note": "Dynamics 365 is not configured"}
    assert stack.dataverse.records("appointments") == []
    recorded = (await stored_booking(booking_id)).notifications.crm
    assert recorded.status == "skipped" and recorded.last_error == "Dynamics 365 is not configured"


async def test_a_dynamics_record_that_no_longer_exists_still_gets_its_appointment(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    gone = "0b5e7a6c-1d2e-4f30-8a9b-0c1d2e3f4a5b"
    result = await book(stack, saga_input(new_booking_id(), when, context={
        "channel": "dynamics", "dynamicsRecordType": "lead", "dynamicsRecordId": gone}))

    assert result["outcome"] == "confirmed"
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["_regardingobjectid_value"] is None
    assert appointment["_ownerid_value"] == config.host(DANA).dynamics_systemuser_id
    assert "does not exist; written without it" in appointment["description"]
    assert result["booking"]["notifications"]["crm"]["status"] == "sent"


async def test_an_office_address_that_is_not_a_mailbox_still_gets_the_owner_email(clean_stack, config):
    from shared.services.container import Services
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await book(stack, saga_input(booking_id, when))
    stack.graph.clear_outbox()
    # The same app with the business e-mail set to a distribution list Graph cannot send from.
    group = "owners@lakeshore-ph.example.com"
    listed = Services(services().settings)
    listed.business = config.model_copy(update={"business": config.business.model_copy(update={"email": group})})
    await booking_service.update_booking(listed, booking_id, lambda b: b.model_copy(update={
        "notifications": b.notifications.model_copy(update={"email": b.notifications.email.model_copy(
            update={"status": "pending"})})}))
    outcome = await booking_service.notify(listed, "email", booking_id, "created", booking_id)

    assert outcome["status"] == "sent" and outcome["note"] == "sent from the host's mailbox"
    [mail] = stack.graph.outbox()
    assert mail["from"] == DANA_MAILBOX and set(mail["to"]) == {DANA_MAILBOX, group}
