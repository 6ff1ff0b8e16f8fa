"""The booking saga end to end on the local stack: what the customer, the technician and the office see.

Each test starts ``booking_saga`` through the development host's Durable client (as the booking API
and the voice dialog do) and checks the emulated Outlook calendar, the SMS outbox, the Graph mail
outbox, the Dataverse appointments, the webhook receiver and Frontdesk's stores.
"""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

from saga_support import (CUSTOMER, DANA, REPAIR, book, claims_of, confirm, custom, finished, free_slots,
                          new_booking_id, ours, saga_input, sms_to, stage_reached, start, stored_booking)

from shared.services.contracts import BOOKING_SAGA
from shared.services.webhooks import EVENT_HEADER, SIGNATURE_HEADER, verify_signature

DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"
OFFICE = "office@lakeshore-ph.example.com"


async def test_an_immediate_booking_lands_everywhere_once(clean_stack, config, webhook_sink):
    stack = clean_stack
    lead = stack.dataverse.seed_record("leads", fullname="Jordan Lee")
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when, context={
        "channel": "dynamics", "dynamicsRecordType": "lead", "dynamicsRecordId": lead,
        "source": {"utm_campaign": "spring"}, "initiatedBy": "office staff"}))

    assert result["outcome"] == "confirmed"
    booking = result["booking"]
    assert booking["status"] == "confirmed" and booking["hostId"] == DANA
    assert booking["routing"]["policy"] == "territory" and booking["routing"]["hostId"] == DANA
    assert {c: n["status"] for c, n in booking["notifications"].items()} == {
        "sms": "sent", "email": "sent", "crm": "sent", "webhooks": "sent"}

    # Dana's Outlook: exactly one busy event with the customer's details, written idempotently.
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["showAs"] == "busy" and event["transactionId"] == booking_id
    assert event["subject"] == "Plumbing repair visit - Jordan Lee"
    assert event["location"]["displayName"] == CUSTOMER["address"]
    assert "&lt;script&gt;" in event["body"]["content"] and "<script>" not in event["body"]["content"]
    assert booking["outlookEventId"] == event["id"]

    # The customer's text: business, date and time on their clock, address, how to change it.
    [text] = sms_to(stack, CUSTOMER["phone"])
    local = when.astimezone(ZoneInfo("America/Chicago"))
    assert "Lakeshore Plumbing & Heating" in text["message"]
    assert f"{local.strftime('%b')} {local.day} at {local.hour % 12 or 12}:{local.minute:02d}" in text["message"]
    assert CUSTOMER["address"] in text["message"]
    assert f"Manage your visit: {stack.env['PUBLIC_BASE_URL']}/api/manage/" in text["message"]  # the link

    # The owner's and Dana's e-mail: every detail, customer text escaped.
    [mail] = stack.graph.outbox()
    assert mail["from"] == OFFICE and set(mail["to"]) == {DANA_MAILBOX, OFFICE}
    content = mail["body"]["content"]
    assert "Jordan Lee" in content and "(312) 555-0188" in content and "utm_campaign=spring" in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; dripping" in content and "<script>" not in content

    # Dynamics: one appointment regarding the lead, owned by Dana's user, saying why Dana.
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["activityid"] == booking["crmAppointmentId"]
    assert appointment["_ownerid_value"] == config.host(DANA).dynamics_systemuser_id
    assert appointment["_regardingobjectid_value"] == lead
    assert "Routing decision: territory" in appointment["description"]

    # The business's other systems: one signed booking.created delivery.
    [delivery] = webhook_sink.deliveries()
    assert delivery["headers"][EVENT_HEADER] == "booking.created"
    assert verify_signature(webhook_sink.secret, delivery["headers"][SIGNATURE_HEADER], delivery["body"])
    assert not verify_signature("another-secret-entirely", delivery["headers"][SIGNATURE_HEADER], delivery["body"])
    assert json.loads(delivery["body"])["data"]["booking"]["id"] == booking_id

    # The time is Frontdesk's: claimed as a booking (no expiry), and the stored booking says confirmed.
    [claim] = await claims_of(DANA, booking_id, when)
    assert claim.kind == "booking" and claim.expires_at is None
    assert claim.start == when - timedelta(minutes=15) and claim.end == when + timedelta(minutes=75)
    assert (await stored_booking(booking_id)).status.value == "confirmed"


async def test_a_repeated_saga_for_the_same_booking_answers_it_and_sends_nothing_again(clean_stack, config,
                                                                                        webhook_sink):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[1]
    payload = saga_input(new_booking_id(), when)
    first = await book(stack, payload)
    # A second orchestration for the same booking (a client retry after the instance was purged, say).
    again = await start(stack, BOOKING_SAGA, payload["bookingId"] + "-again", payload)
    second = await finished(stack, again)

    assert first["outcome"] == second["outcome"] == "confirmed"
    assert second["booking"]["id"] == first["booking"]["id"]
    assert len(ours(stack.graph.events(DANA_MAILBOX), payload["bookingId"])) == 1
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1
    assert len(stack.graph.outbox()) == 1
    assert len(stack.dataverse.records("appointments")) == 1
    assert len(webhook_sink.deliveries()) == 1


async def test_the_same_booking_id_with_a_different_request_is_refused(clean_stack, config):
    stack = clean_stack
    first_time, other_time = free_slots(config, REPAIR, DANA)[:2]
    payload = saga_input(new_booking_id(), first_time)
    await book(stack, payload)
    different = saga_input(payload["bookingId"], other_time)
    result = await finished(stack, await start(stack, BOOKING_SAGA, payload["bookingId"] + "-b", different))
    assert result["outcome"] == "invalid" and "different request" in result["reason"]
    assert len(ours(stack.graph.events(DANA_MAILBOX), payload["bookingId"])) == 1


async def test_a_time_busy_in_outlook_is_a_conflict_and_leaves_nothing_behind(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    stack.graph.add_event(DANA_MAILBOX, {
        "subject": "Dentist", "showAs": "busy",
        "start": {"dateTime": (when + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (when + timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    booking_id = new_booking_id()
    # Dana asked for by name: left to routing, Priya or Luis would take the time whenever they are free then.
    result = await book(stack, saga_input(booking_id, when, host_id=DANA))

    assert result["outcome"] == "conflict" and result["conflict"]["reason"] == "busy"
    assert result["conflict"]["hostIds"] == [DANA]
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    assert stack.acs.outbox() == [] and stack.graph.outbox() == []


async def test_a_time_not_offered_is_a_conflict_with_the_engines_reason(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    result = await book(stack, saga_input(new_booking_id(), when + timedelta(minutes=10)))
    assert result["outcome"] == "conflict" and result["conflict"]["reason"] == "outside_working_hours"


async def test_many_sagas_for_one_slot_make_exactly_one_booking(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[2]
    payloads = [saga_input(new_booking_id(), when, host_id=DANA) for _ in range(6)]
    for payload in payloads:
        await start(stack, BOOKING_SAGA, payload["bookingId"], payload)
    results = [await finished(stack, payload["bookingId"], timeout=60) for payload in payloads]

    outcomes = sorted(result["outcome"] for result in results)
    assert outcomes == ["confirmed"] + ["conflict"] * 5
    assert {r["conflict"]["reason"] for r in results if r["outcome"] == "conflict"} <= {"held", "busy"}
    winner = next(r for r in results if r["outcome"] == "confirmed")["bookingId"]
    events = stack.graph.events(DANA_MAILBOX)
    assert [e["transactionId"] for e in events] == [winner]
    for result in results:
        held = await claims_of(DANA, result["bookingId"], when)
        assert bool(held) == (result["bookingId"] == winner)
    assert len(stack.acs.outbox()) == 1


async def test_an_awaited_hold_is_tentative_until_the_customer_says_yes(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    payload = saga_input(new_booking_id(), when, confirmation="await", hold_seconds=120)
    booking_id = payload["bookingId"]
    await start(stack, BOOKING_SAGA, booking_id, payload)
    status = await stage_reached(stack, booking_id, "held")

    assert status["hostId"] == DANA and status["holdExpiresAt"]
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["showAs"] == "tentative" and event["subject"].startswith("HOLD: ")
    [claim] = await claims_of(DANA, booking_id, when)
    assert claim.kind == "hold" and claim.expires_at is not None
    assert stack.acs.outbox() == []  # nothing is announced before the customer confirms

    await confirm(stack, booking_id, yes=True)
    result = await finished(stack, booking_id)
    assert result["outcome"] == "confirmed"
    [event] = ours(stack.graph.events(DANA_MAILBOX), booking_id)
    assert event["showAs"] == "busy" and not event["subject"].startswith("HOLD")
    [claim] = await claims_of(DANA, booking_id, when)
    assert claim.kind == "booking"
    assert len(sms_to(stack, CUSTOMER["phone"])) == 1


async def test_a_declined_hold_is_released(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    payload = saga_input(new_booking_id(), when, confirmation="await")
    booking_id = payload["bookingId"]
    await start(stack, BOOKING_SAGA, booking_id, payload)
    await stage_reached(stack, booking_id, "held")
    await confirm(stack, booking_id, yes=False)
    result = await finished(stack, booking_id)

    assert result["outcome"] == "declined"
    assert result["booking"]["status"] == "cancelled"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    assert stack.acs.outbox() == [] and stack.dataverse.records("appointments") == []


async def test_a_hold_nobody_confirms_expires_and_is_released(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    payload = saga_input(new_booking_id(), when, confirmation="await", hold_seconds=30)
    booking_id = payload["bookingId"]
    await start(stack, BOOKING_SAGA, booking_id, payload)
    await stage_reached(stack, booking_id, "held")
    stack.host.clock.advance(timedelta(seconds=31))
    result = await finished(stack, booking_id)

    assert result["outcome"] == "expired"
    assert (await stored_booking(booking_id)).status.value == "expired"
    assert ours(stack.graph.events(DANA_MAILBOX), booking_id) == []
    assert await claims_of(DANA, booking_id, when) == []
    # The time is free again: someone else can book it straight away.
    assert (await book(stack, saga_input(new_booking_id(), when)))["outcome"] == "confirmed"


async def test_someone_booking_over_the_hold_in_outlook_releases_it(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    # Slow the hold's event creation so a person can put a meeting there in between.
    stack.graph.add_fault(operation="events.create", latency_ms=1500)
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    await stage_reached(stack, booking_id, "holding")
    stack.graph.add_event(DANA_MAILBOX, {
        "subject": "Site visit", "showAs": "busy",
        "start": {"dateTime": when.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (when + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    result = await finished(stack, booking_id)

    assert result["outcome"] == "conflict" and result["conflict"]["reason"] == "busy"
    assert result["booking"]["status"] == "failed"
    assert [e["subject"] for e in stack.graph.events(DANA_MAILBOX)] == ["Site visit"]
    assert await claims_of(DANA, booking_id, when) == []


async def test_an_opted_out_customer_is_skipped_and_the_booking_stands(clean_stack, config):
    stack = clean_stack
    stack.acs.opt_out(CUSTOMER["phone"])
    when = free_slots(config, REPAIR, DANA)[0]
    result = await book(stack, saga_input(new_booking_id(), when))

    assert result["outcome"] == "confirmed"
    notifications = result["booking"]["notifications"]
    assert notifications["sms"]["status"] == "skipped" and notifications["email"]["status"] == "sent"
    assert stack.acs.outbox() == []


async def test_a_confirmed_booking_in_the_customers_own_time_zone(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    result = await book(stack, saga_input(new_booking_id(), when, time_zone="America/New_York"))
    [text] = sms_to(stack, CUSTOMER["phone"])
    local = when.astimezone(ZoneInfo("America/New_York"))
    assert result["booking"]["timeZone"] == "America/New_York"
    clock = f"{local.hour % 12 or 12}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {local.tzname()}"
    assert f"at {clock}" in text["message"] and local.tzname() in ("EST", "EDT")


async def test_the_custom_status_ends_done_with_the_outcome(clean_stack, config):
    stack = clean_stack
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    await finished(stack, booking_id)
    status = stack.host.get_status(booking_id)
    assert custom(status) == {"stage": "done", "bookingId": booking_id, "hostId": DANA, "holdExpiresAt": None,
                              "outcome": "confirmed"}


async def test_the_logs_of_a_booking_never_carry_the_customers_details(clean_stack, config, caplog):
    stack = clean_stack
    caplog.set_level("DEBUG")
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await book(stack, saga_input(booking_id, when))
    lines = [record.getMessage() for record in caplog.records]
    assert any(booking_id in line or getattr(r, "booking_id", None) == booking_id
               for line, r in zip(lines, caplog.records))
    text = "\n".join(lines)
    for secret in ("Jordan", "Lincoln", "5550188", "jordan.lee@"):
        assert secret not in text
