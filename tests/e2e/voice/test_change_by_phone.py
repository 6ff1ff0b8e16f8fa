"""Customers who call about a booking they already have: cancel it, move it, ask when it is.

Each test books first through the booking API (as the widget or an integration would), then calls the
receptionist through the real Twilio webhooks. What the call did is read where people see it: the
technician's Outlook calendar, the Dynamics appointment, the customer's texts and the office's inbox.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from dev.phone import CallScript, place_call
from voice_support import (CALLER, DANA, UTC, appointments, eventually, events, graph_time, local, office_mail,
                           record_of, said, spoken_clock, spoken_day, stored_booking, texts_to)

OTHER_PHONE = "+17735550123"


@pytest.fixture
async def api(clean_stack):
    async with httpx.AsyncClient(base_url=clean_stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": clean_stack.host.function_key()}) as client:
        yield client


async def book(stack, api: httpx.AsyncClient, day: datetime, *, at_or_after: int = 10) -> dict:
    """A plumbing repair with Dana for the caller on ``day`` (local), the first open time from ``at_or_after``."""
    start = local(day).replace(hour=0, minute=0, second=0, microsecond=0)
    response = await api.get("availability", params={"eventType": "plumbing-repair", "hostId": "dana",
                                                     "start": start.astimezone(UTC).isoformat(),
                                                     "end": (start + timedelta(days=1)).astimezone(UTC).isoformat()})
    assert response.status_code == 200, response.text
    slot = next(s for s in response.json()["slots"] if local(s["start"]).hour >= at_or_after)
    body = {"eventType": "plumbing-repair", "start": slot["start"], "timeZone": "America/Chicago", "hostId": "dana",
            "customer": {"name": "Alex Morgan", "phone": CALLER, "address": "1200 W Fullerton Ave, Chicago, IL",
                         "postalCode": "60614"}}
    response = await api.post("bookings", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    deadline = asyncio.get_running_loop().time() + 60
    while response.status_code == 202:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.3)
        response = await api.get(response.json()["statusUrl"])
    assert response.status_code in (200, 201), response.text
    booking = response.json()
    assert booking["status"] == "confirmed", booking
    assert await eventually(lambda: any(e.get("transactionId") == booking["id"] for e in events(stack, DANA)))
    return booking


async def ended_with(call, outcome: str) -> None:
    """The call said goodbye and its record keeps the outcome (the last webhooks answered without error)."""
    assert call.said[-1].endswith("Goodbye."), call.said[-3:]
    record = await record_of(call)
    assert record.dialog.ended and record.dialog.outcome == outcome and record.outcome_recorded


def spoken(instant: datetime | str) -> str:
    return f"{spoken_day(local(instant))} at {spoken_clock(local(instant))}"


def reference_read_out(booking_id: str) -> str:
    """How a caller reads the reference from the text: letter by letter, digits as words."""
    words = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
             "8": "eight", "9": "nine"}
    return "it's b k underscore " + " ".join(words.get(ch, ch) for ch in booking_id[3:])


async def test_cancel_by_phone_tells_outlook_dynamics_the_office_and_the_customer(clean_stack, phone, receptionist,
                                                                                   api):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))
    assert len(events(stack, DANA)) == 1

    call = await place_call(phone, CallScript(["hi, I need to cancel my appointment", "60614", "yes", "no"]))

    assert f"Cancel your plumbing repair visit tomorrow, {spoken(booking['start'])}?" in call.said
    assert "is cancelled" in said(call)
    assert await eventually(lambda: events(stack, DANA) == [])
    assert (await stored_booking(booking["id"])).status.value == "cancelled"
    await ended_with(call, "changed")
    [appointment] = appointments(stack)
    assert appointment["statecode"] == 2  # Canceled in Dynamics
    assert await eventually(lambda: any("has been cancelled" in t["message"] for t in texts_to(stack, CALLER)))
    [mail] = office_mail(stack, subject_has="Cancelled by phone")
    assert "plumbing" in mail["subject"].lower()
    await ended_with(call, "changed")


async def test_move_by_phone_holds_the_new_time_and_updates_everything_in_place(clean_stack, phone, receptionist,
                                                                                api):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))
    [old_event] = events(stack, DANA)
    [before] = appointments(stack)

    call = await place_call(phone, CallScript(["I need to move my appointment", "six oh six one four",
                                               "thursday afternoon", "the first one", "yes", "no thanks"]))

    offered = next(line for line in call.said if line.startswith(("I have", "The closest I have")))
    assert "Thursday" in offered, call.said
    assert "You're all set. Your plumbing repair visit is now on Thursday" in said(call)
    moved = await stored_booking(booking["id"])
    assert moved.status.value == "confirmed" and local(moved.start).weekday() == 3 and local(moved.start).hour >= 12
    assert moved.host_id == "dana"  # the same technician first
    [event] = events(stack, DANA)
    assert graph_time(event["start"]) == moved.start
    assert event["id"] != old_event["id"] or graph_time(old_event["start"]) != moved.start
    [after] = appointments(stack)
    assert after["activityid"] == before["activityid"] and after["statecode"] != 2  # updated in place
    assert after["scheduledstart"].startswith(moved.start.strftime("%Y-%m-%dT%H:%M"))
    assert await eventually(lambda: any("has moved to" in t["message"] for t in texts_to(stack, CALLER)))
    assert office_mail(stack, subject_has="Moved by phone")
    await ended_with(call, "changed")


async def test_from_another_phone_the_reference_and_zip_find_and_cancel_it(clean_stack, phone, receptionist, api):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))

    call = await place_call(phone, CallScript(["cancel my visit", reference_read_out(booking["id"]), "60614", "yes",
                                               "no"], caller=OTHER_PHONE))

    assert any(line.startswith("I don't see an upcoming appointment under the number") for line in call.said)
    assert "is cancelled" in said(call)
    assert await eventually(lambda: events(stack, DANA) == [])
    assert (await stored_booking(booking["id"])).status.value == "cancelled"
    await ended_with(call, "changed")


async def test_from_another_phone_the_name_and_zip_find_it(clean_stack, phone, receptionist, api):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))

    call = await place_call(phone, CallScript(["I need to cancel my appointment", "it's under alex morgan", "60614",
                                               "yes", "no"], caller=OTHER_PHONE))

    assert f"Cancel your plumbing repair visit tomorrow, {spoken(booking['start'])}?" in call.said
    assert await eventually(lambda: events(stack, DANA) == [])
    assert (await stored_booking(booking["id"])).status.value == "cancelled"
    # The customer is texted at the booking's own number, not the phone that called.
    assert await eventually(lambda: any("has been cancelled" in t["message"] for t in texts_to(stack, CALLER)))
    assert texts_to(stack, OTHER_PHONE) == []


async def test_a_number_said_alone_reads_nothing_back(clean_stack, phone, receptionist, api):
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))

    call = await place_call(phone, CallScript(["when is my appointment", "three one two five five five oh one eight "
                                               "eight"], caller=OTHER_PHONE, hang_up=True))

    assert "ZIP code" in call.said[-1]
    assert spoken_clock(local(booking["start"])) not in said(call)


async def test_several_bookings_it_asks_which_then_says_when_and_who(clean_stack, phone, receptionist, api):
    now = receptionist.at("tue", "09:00")
    first = await book(clean_stack, api, now + timedelta(days=1))
    second = await book(clean_stack, api, now + timedelta(days=2))

    call = await place_call(phone, CallScript(["hi, when is my appointment?", "the second one", "no"]))

    question = next(line for line in call.said if line.startswith("I see 2 upcoming appointments"))
    assert spoken_clock(local(first["start"])) in question and "Thursday" in question
    answer = next(line for line in call.said if line.startswith("Your plumbing repair visit is"))
    assert spoken(second["start"]) in answer and "with Dana" in answer and "confirmed" in answer
    assert "Fullerton" not in said(call)  # a caller id alone never hears the address


async def test_is_the_technician_still_coming(clean_stack, phone, receptionist, api):
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))

    call = await place_call(phone, CallScript(["is the technician still coming?", "no"]))

    assert f"Your plumbing repair visit is tomorrow, {spoken(booking['start'])} with Dana." in said(call)


async def test_three_wrong_zip_codes_lock_changes_by_phone_and_tell_the_owner(clean_stack, phone, receptionist,
                                                                              api):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    booking = await book(clean_stack, api, now + timedelta(days=1))

    call = await place_call(phone, CallScript(["I want to cancel my appointment", "60601", "60602", "60603",
                                               "alex morgan", "yes"]))

    assert "paused for now" in said(call)
    assert (await stored_booking(booking["id"])).status.value == "confirmed"
    assert len(events(stack, DANA)) == 1
    [lock_mail] = office_mail(stack, subject_has="Phone changes locked")
    assert booking["id"] in lock_mail["subject"]
    assert office_mail(stack, subject_has="Call back")  # and the message taken for the office

    # Calling again, even with the right ZIP code, changes nothing while the lock holds.
    again = await place_call(phone, CallScript(["cancel my appointment", "60614", "yes"]))
    assert "paused for now" in said(again)
    assert (await stored_booking(booking["id"])).status.value == "confirmed"


async def test_after_booking_let_me_know_if_something_earlier_opens_up_joins_the_waitlist(clean_stack, phone,
                                                                                          receptionist):
    from shared.adapters.store_waitlist import WaitlistStore
    from shared.services import waitlist
    from voice_support import services, settle
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my kitchen sink is leaking", "2400 north lincoln avenue chicago 60614", "maria gonzalez", "yes",
        "thursday afternoon", "the second one", "yes", "yes, let me know if something earlier opens up", "no",
    ]))
    [result] = await settle(clean_stack, call)

    assert result["outcome"] == "confirmed"
    assert "If an earlier time opens up, we'll text the number ending in 0 1 8 8" in said(call)
    rows = await WaitlistStore(services().settings).find_entries([waitlist.entry_id_for(CALLER, "plumbing-repair")])
    assert rows, "no waitlist entry"
    [entry] = {json_key(doc) for _, _, doc in rows}
    assert entry == result["booking"]["id"]  # taking an earlier time moves this booking


def json_key(document: dict) -> str:
    return document.get("bookingId") or document.get("booking_id")
