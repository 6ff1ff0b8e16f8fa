"""Export and erasure of one customer, end to end: book through the API, call the receptionist, text, erase.

One person does everything a customer can: calls from their mobile and books by voice, texts STOP, then
books again through the booking API (whose confirmation text the gateway now refuses, so Frontdesk records
the opt-out). IT exports what Frontdesk holds about them and erases it with the admin key. Afterwards no
table, Durable history, blob or queue anywhere in Azurite holds their name, number, e-mail or street,
while the bookings' skeletons still hold their hosts' time and the opt-out stays remembered.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from dev.phone import CallScript, place_call
from privacy_support import book, next_local, scan_azurite

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

    # 2. The confirmation text reached their phone; they text STOP back.
    assert [text for text in stack.acs.outbox() if text.get("to") == PHONE]
    stack.acs.inbound(PHONE, "STOP")

    # 3. They book again on the web (the booking API); the confirmation text is refused and remembered.
    slots = (await api.get("availability", params={
        "eventType": "plumbing-repair", "start": (now + timedelta(days=3)).isoformat(),
        "end": (now + timedelta(days=8)).isoformat()})).json()["slots"]
    web_booking = await book_by_api(api, slots[0]["start"], secrets.token_hex(8))
    web_saga = await stack.host.wait_for_instance_async(web_booking["id"], timeout=30)
    assert web_saga.runtime_status.value == "Completed"

    # The scan is not vacuous: before erasure, Azurite is full of this person.
    before = scan_azurite(stack.azurite.connection_string, TRACES)
    assert any("calls" in place for place in before) and any("DevHost" in place for place in before)
    assert any("bookings" in place for place in before)

    # 4. Only the admin key may export or erase.
    assert (await api.post("privacy/export", json={"phone": PHONE})).status_code == 401
    export = await admin.post("privacy/export", json={"phone": "(312) 555-0163"})
    assert export.status_code == 200, export.text
    found = export.json()
    ids = {booking["id"] for booking in found["bookings"]}
    assert {web_booking["id"], voice_booking.instance_id} <= ids
    assert all(booking["customer"]["phone"] == PHONE for booking in found["bookings"])
    assert [c["callSid"] for c in found["calls"]] == [call.sid]
    assert found["calls"][0]["state"]["dialog"]["details"]["name"].lower() == NAME.lower()
    assert {i["instanceId"] for i in found["durableInstances"]} >= ids
    masked = found["optOut"]["maskedNumber"]
    assert found["optOut"]["optedOut"] is True and masked.endswith("63") and "3125550163" not in masked
    outlook = found["systemsOfRecord"]["outlookEvents"]
    assert {event["bookingId"] for event in outlook} >= ids
    assert {n["bookingId"] for n in found["notifications"]} == ids
    by_email = (await admin.post("privacy/export", json={"email": EMAIL.upper()})).json()
    assert web_booking["id"] in {booking["id"] for booking in by_email["bookings"]}

    # 5. Erase.
    erased = await admin.post("privacy/erase", json={"phone": PHONE, "email": EMAIL})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["erased"]["bookings"] == len(ids) and report["erased"]["calls"] == 1
    assert report["erased"]["durableInstances"] >= len(ids) and report["pending"] == []
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
    assert after["optOut"]["optedOut"] is True
    mailbox_events = {e["id"] for mailbox in {o["mailbox"] for o in outlook} for e in stack.graph.events(mailbox)}
    assert {o["eventId"] for o in outlook} <= mailbox_events  # the business's own record, for IT to handle

    # Asking again finds nothing and changes nothing.
    again = await admin.post("privacy/erase", json={"phone": PHONE})
    assert again.status_code == 200 and again.json()["erased"] == {"bookings": 0, "calls": 0, "durableInstances": 0}


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
    assert midway.json()["erased"] == {"bookings": 0, "calls": 0, "durableInstances": 0}

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


async def place_call_as_customer(phone):
    return await place_call(phone, CallScript(CALL_LINES, caller=PHONE))


async def first_saga_of(call) -> str:
    from shared.services.voice.actions import booking_id_of
    return booking_id_of(f"{call.sid}/1")
