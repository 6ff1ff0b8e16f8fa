"""The freed slot offered again, end to end on the local stack: customers join through ``POST /api/waitlist``,
a booking is cancelled through the cancel saga, the time is texted to the matching waitlisted customers,
the first YES gets it through the sagas' claims (a customer with a later booking is moved), the other is
told it was taken, and an offer nobody takes in 30 minutes expires. Customers reply by texting the business
through Twilio's signed inbound webhook; texts are read from the ACS emulator's outbox."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

# The reminder tests' helpers (booking, cancelling, the frozen clock) serve these tests too.
_SUPPORT = Path(__file__).resolve().parents[1] / "reminders" / "reminder_support.py"
if "reminder_support" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("reminder_support", _SUPPORT)
    sys.modules["reminder_support"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["reminder_support"])
from reminder_support import (CHICAGO, CUSTOMER, book, cancel, decoded, eventually, freeze_at,  # noqa: E402
                              local, next_monday_morning, services, texts_to)

FIRST = {"name": "Riley Park", "phone": "+13125550177", "address": "2500 N Clark St, Chicago, IL",
         "postalCode": "60614"}
SECOND = {"name": "Sam Ortiz", "phone": "+13125550166", "address": "2100 N Halsted St, Chicago, IL",
          "postalCode": "60614"}


@pytest.fixture
async def api(stack):
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.function_key()}) as client:
        yield client


async def _join(api, person: dict, start, end, booking_id: str | None = None) -> dict:
    body = {"eventType": "plumbing-repair", "customer": person, "windowStart": start.isoformat(),
            "windowEnd": end.isoformat(), "timeZone": "America/Chicago"}
    if booking_id:
        body["bookingId"] = booking_id
    response = await api.post("waitlist", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def _reply(stack, phone: str, text: str = "YES") -> str | None:
    """Text the business from ``phone`` through Twilio's signed inbound webhook; its reply, if any."""
    stack.twilio.set_sms_url(stack.host.url("sms/twilio/incoming"))
    answer = await asyncio.to_thread(stack.twilio.text, phone, text)
    assert answer["webhook"]["status"] == 200, answer
    return answer["replies"][0] if answer["replies"] else None


async def _offer_done(stack, cancelled_id: str) -> dict:
    from shared.services.waitlist import offer_instance_id
    status = await stack.host.wait_for_instance_async(offer_instance_id(cancelled_id), timeout=30)
    assert status.runtime_status.value == "Completed", (status.runtime_status, status.output)
    return decoded(status.output)


async def _week(stack):
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    return wednesday, local(wednesday, "14:00")


async def test_the_first_yes_gets_the_freed_time_and_the_other_hears_it_was_taken(clean_stack, api):
    stack = clean_stack
    wednesday, freed = await _week(stack)
    cancelled_id = await book(stack, freed)
    later_id = await book(stack, local(wednesday + timedelta(days=1), "15:00"), customer=SECOND)
    await _join(api, FIRST, local(wednesday, "08:00"), local(wednesday, "18:00"))
    await _join(api, SECOND, local(wednesday, "08:00"), local(wednesday + timedelta(days=1), "12:00"),
                booking_id=later_id)

    assert (await cancel(stack, cancelled_id))["outcome"] == "cancelled"
    for person in (FIRST, SECOND):
        [offer] = await eventually(lambda p=person: texts_to(stack, p["phone"], "opened up"))
        assert "Wed, " in offer and "2:00 PM" in offer and "Reply YES" in offer
    assert texts_to(stack, CUSTOMER["phone"], "opened up") == []  # not offered back to who cancelled it

    second_says = await _reply(stack, SECOND["phone"])
    first_says = await _reply(stack, FIRST["phone"])
    assert "If you were first" in second_says
    outcome = await _offer_done(stack, cancelled_id)
    assert outcome["outcome"] == "taken"

    stored = (await services().bookings.get(later_id)).value  # the later booking was moved, not a new one
    assert stored.start == freed and stored.status.value == "confirmed"
    assert await eventually(lambda: texts_to(stack, SECOND["phone"], "has moved to"))
    told = [first_says] + texts_to(stack, FIRST["phone"], "just taken")
    assert any("just taken" in (text or "") for text in told)
    assert texts_to(stack, FIRST["phone"], "confirmed") == []
    assert "just taken" in await _reply(stack, FIRST["phone"])  # a later YES hears it at once


async def test_an_offer_nobody_takes_expires_and_a_late_yes_is_told_so(clean_stack, api):
    stack = clean_stack
    wednesday, freed = await _week(stack)
    cancelled_id = await book(stack, freed)
    await _join(api, FIRST, local(wednesday, "08:00"), local(wednesday, "18:00"))
    assert (await cancel(stack, cancelled_id))["outcome"] == "cancelled"
    await eventually(lambda: texts_to(stack, FIRST["phone"], "opened up"))

    stack.host.clock.advance(timedelta(minutes=29))
    await asyncio.sleep(0.2)
    from shared.services.waitlist import offer_instance_id
    status = await stack.host.with_client(lambda client: client.get_status(offer_instance_id(cancelled_id)))
    assert status.runtime_status.value == "Running"  # still open at 29 minutes
    stack.host.clock.advance(timedelta(minutes=2))
    assert (await _offer_done(stack, cancelled_id))["outcome"] == "expired"
    assert "has expired" in await _reply(stack, FIRST["phone"])
    other = await _reply(stack, FIRST["phone"], "what time is it?")  # not a YES: an ordinary text, not the offer's
    assert other is None or not any(word in other for word in ("expired", "taken", "If you were first"))
    assert texts_to(stack, FIRST["phone"], "confirmed") == []


async def test_joining_is_validated_like_the_booking_api(clean_stack, api):
    stack = clean_stack
    wednesday, _ = await _week(stack)
    body = {"eventType": "plumbing-repair", "customer": FIRST, "windowStart": local(wednesday, "18:00").isoformat(),
            "windowEnd": local(wednesday, "08:00").isoformat()}
    response = await api.post("waitlist", json=body)
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_failed"
    body.update(windowStart=local(wednesday, "08:00").isoformat(), windowEnd=local(wednesday, "18:00").isoformat(),
                customer={"name": "No Address", "phone": FIRST["phone"]})
    response = await api.post("waitlist", json=body)
    assert response.status_code == 422 and "address" in response.json()["error"]["message"]
    body["customer"], body["bookingId"] = FIRST, "bk_000000000000000000000000"
    assert (await api.post("waitlist", json=body)).status_code == 404
    async with httpx.AsyncClient(base_url=stack.host.url("")) as anonymous:  # no function key
        assert (await anonymous.post("waitlist", json=body)).status_code == 401


async def test_a_customer_without_a_booking_gets_a_new_one_with_its_confirmation(clean_stack, api):
    stack = clean_stack
    wednesday, freed = await _week(stack)
    cancelled_id = await book(stack, freed)
    await _join(api, FIRST, local(wednesday, "12:00"), local(wednesday, "16:00"))
    await cancel(stack, cancelled_id)
    await eventually(lambda: texts_to(stack, FIRST["phone"], "opened up"))

    assert "If you were first" in await _reply(stack, FIRST["phone"], "Yes!")
    assert (await _offer_done(stack, cancelled_id))["outcome"] == "taken"
    [confirmation] = await eventually(lambda: texts_to(stack, FIRST["phone"], "is confirmed for"))
    assert "2:00 PM" in confirmation
    from shared.services.contracts import booking_id_for
    from shared.services.waitlist import entry_id_for, offer_instance_id
    entry_id = entry_id_for(FIRST["phone"], "plumbing-repair")
    new_id = booking_id_for("waitlist", f"{offer_instance_id(cancelled_id)}:{entry_id}")
    booked = (await services().bookings.get(new_id)).value  # booked by the booking saga, claims and all
    assert (booked.start, booked.status.value, booked.customer.name) == (freed, "confirmed", FIRST["name"])


async def test_an_offer_freed_at_night_waits_for_the_morning(clean_stack, api):
    stack = clean_stack
    wednesday, freed = await _week(stack)
    cancelled_id = await book(stack, freed)
    await _join(api, FIRST, local(wednesday, "08:00"), local(wednesday, "18:00"))
    from reminder_support import advance_to
    advance_to(stack, local(wednesday - timedelta(days=2), "22:30"))  # Monday night
    await cancel(stack, cancelled_id)
    await asyncio.sleep(1.0)
    assert texts_to(stack, FIRST["phone"], "opened up") == []  # not at 22:30
    advance_to(stack, local(wednesday - timedelta(days=1), "07:59"))
    assert texts_to(stack, FIRST["phone"], "opened up") == []
    advance_to(stack, local(wednesday - timedelta(days=1), "08:00"))
    assert await eventually(lambda: texts_to(stack, FIRST["phone"], "opened up"))
