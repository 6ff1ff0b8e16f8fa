"""Export and erasure of one customer, end to end: book through the API, call the receptionist, text, erase.

One person does everything a customer can: calls from their mobile and books by voice, texts the business
a free-text message and a ``C`` (which waits for its confirmation), texts STOP, books again through the
booking API (whose confirmation text the gateway now refuses, so Frontdesk records the opt-out; the
confirmed booking gets its reminder orchestration), and joins the waitlist for an earlier time. IT exports
what Frontdesk holds about them and erases it with the admin key. Afterwards no table, Durable history, blob
or queue anywhere in Azurite holds their name, number, e-mail or street, while the bookings' skeletons
still hold their hosts' time and the opt-out stays remembered.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from dev.phone import CallScript, place_call
from privacy_support import book, eventually, next_local, scan_azurite

NAME = "Zephyrine Marblewick"
PHONE = "+13125550163"
EMAIL = "zephyrine.marblewick@example.org"
STREET = "4471 North Quillfeather Avenue"
# What must be gone: the name (either half), the number as stored and as typed, the e-mail and the street.
TRACES = ["zephyrine", "marblewick", PHONE, "3125550163", EMAIL, "quillfeather"]


async def book_by_api(api, start: str, key: str) -> dict:
    body = {"eventType": "plumbing-repair", "start": start, "timeZone": "America/Chicago",
            "customer": {"name": NAME, "phone": PHONE, "email": EMAIL, "address": f"{STREET}, Chicago, IL",
                         "postalCode": "60614", "notes": f"Ask for {NAME.split()[0]}; gate code 4471."}}
    return await book(api, body, key)


async def test_one_customer_is_exported_then_erased_without_a_trace(clean_stack, api, admin, phone):
    stack = clean_stack
    now = stack.host.clock.travel_to(next_local("tue", "09:00"))

    # 1. A call from the customer's mobile that books Thursday afternoon.
    call = await place_call_as_customer(phone)
    said = " ".join(call.said)
    assert "Shall I book it?" in said and call.said[-1].endswith("Goodbye."), said
    voice_booking = await stack.host.wait_for_instance_async(await first_saga_of(call), timeout=30)
    assert voice_booking.runtime_status.value == "Completed", voice_booking.output

    # 2. The confirmation text reached their phone. They text the business (the real inbound SMS webhook):
    # a free-text message, forwarded to the owner, and a C, which asks them to confirm and is remembered.
    assert [text for text in stack.acs.outbox() if text.get("to") == PHONE]
    [thanks] = stack.twilio.text(PHONE, f"Hi, {NAME} here: please use the side gate at {STREET}")["replies"]
    assert thanks.startswith("Thanks, we've passed your message on")
    [question] = stack.twilio.text(PHONE, "C")["replies"]
    assert question.startswith("Reply C again to confirm cancelling your")
    # Then STOP.
    stack.acs.inbound(PHONE, "STOP")

    # 3. They book again on the web (the booking API); the confirmation text is refused and remembered.
    slots = (await api.get("availability", params={
        "eventType": "plumbing-repair", "start": (now + timedelta(days=3)).isoformat(),
        "end": (now + timedelta(days=8)).isoformat()})).json()["slots"]
    web_booking = await book_by_api(api, slots[0]["start"], secrets.token_hex(8))
    web_saga = await stack.host.wait_for_instance_async(web_booking["id"], timeout=30)
    assert web_saga.runtime_status.value == "Completed"
    reminders = reminder_instance_id(web_booking["id"])  # the confirmed booking's reminders wait for their time

    async def reminders_waiting():
        status = stack.host.get_status(reminders)
        return status and status.runtime_status.value in ("Running", "Pending")
    assert await eventually(reminders_waiting, timeout=30), stack.host.get_status(reminders)

    # 4. They would take an earlier time on the waitlist.
    joined = await api.post("waitlist", json={
        "eventType": "plumbing-repair", "windowStart": (now + timedelta(days=1)).isoformat(),
        "windowEnd": (now + timedelta(days=6)).isoformat(), "timeZone": "America/Chicago",
        "customer": {"name": NAME, "phone": PHONE, "email": EMAIL, "address": f"{STREET}, Chicago, IL",
                     "postalCode": "60614"}})
    assert joined.status_code == 201, joined.text

    # The scan is not vacuous: before erasure, Azurite is full of this person.
    before = scan_azurite(stack.azurite.connection_string, TRACES)
    assert any("calls" in place for place in before) and any("DevHost" in place for place in before)
    assert any("bookings" in place for place in before) and any("waitlist" in place for place in before)

    # 5. Only the admin key may export or erase.
    assert (await api.post("privacy/export", json={"phone": PHONE})).status_code == 401
    export = await admin.post("privacy/export", json={"phone": "(312) 555-0163"})
    assert export.status_code == 200, export.text
    found = export.json()
    ids = {booking["id"] for booking in found["bookings"]}
    assert {web_booking["id"], voice_booking.instance_id} <= ids
    assert all(booking["customer"]["phone"] == PHONE for booking in found["bookings"])
    assert [c["callSid"] for c in found["calls"]] == [call.sid]
    assert found["calls"][0]["state"]["dialog"]["details"]["name"].lower() == NAME.lower()
    assert {i["instanceId"] for i in found["durableInstances"]} >= ids | {reminders}
    [entry] = found["waitlist"]
    assert entry["entryId"] == joined.json()["entryId"] and entry["customer"]["name"] == NAME
    assert found["pendingSmsCancel"]["bookingId"] == voice_booking.instance_id
    masked = found["optOut"]["maskedNumber"]
    assert found["optOut"]["optedOut"] is True and masked.endswith("63") and "3125550163" not in masked
    outlook = found["systemsOfRecord"]["outlookEvents"]
    assert {event["bookingId"] for event in outlook} >= ids
    assert {n["bookingId"] for n in found["notifications"]} == ids
    by_email = (await admin.post("privacy/export", json={"email": EMAIL.upper()})).json()
    assert web_booking["id"] in {booking["id"] for booking in by_email["bookings"]}

    # 6. Erase.
    erased = await admin.post("privacy/erase", json={"phone": PHONE, "email": EMAIL})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["erased"]["bookings"] == len(ids) and report["erased"]["calls"] == 1
    assert report["erased"]["durableInstances"] >= len(ids) + 1 and report["pending"] == []
    assert report["erased"]["waitlistEntries"] == 1 and report["erased"]["smsConfirmations"] == 1
    assert not stack.host.get_status(reminders)  # terminated (it could only text a number now gone), purged
    assert report["kept"][0]["record"] == "smsOptOut"

    # No trace anywhere in Azurite: every table (Durable history included), every blob, every queue.
    assert scan_azurite(stack.azurite.connection_string, TRACES) == []

    # What stays: the bookings' skeletons (still holding the hosts' time), the opt-out, the Outlook events.
    skeleton = (await api.get(f"bookings/{web_booking['id']}")).json()
    assert skeleton["status"] == "confirmed" and skeleton["customer"]["name"] == "[erased]"
    assert not any(value for key, value in skeleton["customer"].items() if key != "name")
    assert skeleton["start"] == web_booking["start"] and skeleton["hostId"] == web_booking["hostId"]
    still_offered = (await api.get("availability", params={
        "eventType": "plumbing-repair", "hostId": web_booking["hostId"], "start": web_booking["start"],
        "end": web_booking["end"]})).json()["slots"]
    assert not [slot for slot in still_offered if slot["start"] == web_booking["start"]]
    after = (await admin.post("privacy/export", json={"phone": PHONE})).json()
    assert after["bookings"] == [] and after["calls"] == [] and after["durableInstances"] == []
    assert after["waitlist"] == [] and after["pendingSmsCancel"] is None
    assert after["optOut"]["optedOut"] is True
    mailbox_events = {e["id"] for mailbox in {o["mailbox"] for o in outlook} for e in stack.graph.events(mailbox)}
    assert {o["eventId"] for o in outlook} <= mailbox_events  # the business's own record, for IT to handle

    # Asking again finds nothing and changes nothing.
    again = await admin.post("privacy/erase", json={"phone": PHONE})
    assert again.status_code == 200 and not any(again.json()["erased"].values())


async def test_a_booking_still_being_decided_is_erased_once_its_call_and_saga_have_ended(clean_stack, admin, phone):
    stack = clean_stack
    stack.host.clock.travel_to(next_local("tue", "09:00"))
    call = await phone.call(PHONE)
    for line in CALL_LINES[:6]:
        await call.say(line)
    assert "Shall I book it?" in " ".join(call.said)  # the time is held; the saga awaits the caller's yes

    midway = await admin.post("privacy/erase", json={"phone": PHONE})
    assert midway.status_code == 202, midway.text
    pending = midway.json()["pending"]
    saga = await first_saga_of(call)
    assert {item.get("instanceId") for item in pending} >= {saga} and call.sid in {p.get("callSid") for p in pending}
    assert not any(midway.json()["erased"].values())

    for line in CALL_LINES[6:]:
        await call.say(line)
    await call.hang_up()
    done = await stack.host.wait_for_instance_async(saga, timeout=30)
    assert done.runtime_status.value == "Completed"

    finished = await admin.post("privacy/erase", json={"phone": PHONE})
    assert finished.status_code == 200, finished.text
    assert finished.json()["erased"]["bookings"] == 1 and finished.json()["erased"]["calls"] == 1
    assert scan_azurite(stack.azurite.connection_string, TRACES) == []


async def test_the_privacy_routes_refuse_what_is_not_a_person(admin):
    for body in ({}, {"phone": "not a number"}, {"email": "nobody"}, {"phone": 3125550163}, {"name": NAME}):
        response = await admin.post("privacy/export", json=body)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["error"]["code"] == "validation_failed"
    assert (await admin.post("privacy/erase", content=b"{oops",
                             headers={"content-type": "application/json"})).status_code == 400


CALL_LINES = [
    "hi my kitchen sink is leaking",
    "it's 4471 north quillfeather avenue chicago 60614",
    "zephyrine marblewick",
    "yeah that's fine",
    "thursday afternoon",
    "the first one",
    "yes please",
    "no that's all, thanks",
]


def reminder_instance_id(booking_id: str) -> str:
    from shared.services.reminders import reminder_instance_id as instance_id
    return instance_id(booking_id)


async def place_call_as_customer(phone):
    return await place_call(phone, CallScript(CALL_LINES, caller=PHONE))


async def first_saga_of(call) -> str:
    from shared.services.voice.actions import booking_id_of
    return booking_id_of(f"{call.sid}/1")
