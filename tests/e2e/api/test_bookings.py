"""Booking through the API end to end: the saga runs on the development host against Azurite and the emulators."""

from __future__ import annotations

import asyncio
import html
from datetime import timedelta

from tests.e2e.api.helpers import book, booking_body, customer, error_of, future_slots, instant, new_key, settle


async def test_a_booking_lands_in_outlook_sms_email_and_dynamics(clean_stack, api, anonymous, business):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    record = clean_stack.dataverse.seed_record("contacts", fullname="Alex Morgan")  # the form's record
    body = booking_body(slot["start"], hostId="dana", context={
        "channel": "dynamics", "dynamicsRecordType": "contact", "dynamicsRecordId": record,
        "source": {"utm_source": "newsletter"}, "initiatedBy": "office@lakeshore"})
    response = await book(api, body)

    assert response.status_code == 201, response.text
    booking = response.json()
    assert response.headers["Location"].endswith(f"/api/bookings/{booking['id']}")
    assert booking["status"] == "confirmed" and booking["hostId"] == "dana"
    assert booking["start"] == slot["start"] and booking["start"].endswith(("-06:00", "-05:00"))
    assert booking["context"]["dynamicsRecordId"] == record
    assert booking["context"]["source"] == {"utm_source": "newsletter"}
    assert booking["routing"]["hostId"] == "dana" and booking["routing"]["reason"]

    fetched = await api.get(response.headers["Location"])
    assert fetched.status_code == 200 and fetched.json()["id"] == booking["id"]

    events = clean_stack.graph.events(business.host("dana").mailbox)
    assert len(events) == 1 and events[0]["showAs"] == "busy"
    assert instant(events[0]["start"]["dateTime"] + "+00:00") == instant(slot["start"])
    texts = [message for message in clean_stack.acs.outbox() if message["to"] == "+13125550142"]
    assert len(texts) == 1 and "Lakeshore" in texts[0]["message"]
    mails = clean_stack.graph.outbox()
    assert len(mails) == 1, "the owner is e-mailed about the new booking"
    appointments = clean_stack.dataverse.records("appointments")
    assert len(appointments) == 1
    assert instant(appointments[0]["scheduledstart"]) == instant(slot["start"])
    assert appointments[0]["_regardingobjectid_value"] == record, "written regarding the Dynamics record"
    assert booking["routing"]["reason"] in appointments[0]["description"], "with the routing decision"
    # The booked time is no longer offered.
    assert slot["start"] not in {s["start"] for s in await future_slots(anonymous, hostId="dana")}


async def test_a_retried_request_gets_the_same_booking_and_books_once(clean_stack, api, anonymous, business):
    slot = (await future_slots(anonymous, hostId="priya"))[0]
    body, key = booking_body(slot["start"], hostId="priya"), new_key()
    first = await book(api, body, key)
    second, third = await asyncio.gather(book(api, body, key), book(api, body, key))
    assert first.status_code == second.status_code == third.status_code == 201
    assert first.json()["id"] == second.json()["id"] == third.json()["id"]
    assert len(clean_stack.graph.events(business.host("priya").mailbox)) == 1
    assert len(clean_stack.acs.outbox()) == 1


async def test_a_reused_key_with_another_body_is_422_and_changes_nothing(clean_stack, api, anonymous):
    slot, other = (await future_slots(anonymous, hostId="dana"))[:2]
    key = new_key()
    first = await book(api, booking_body(slot["start"], hostId="dana"), key)
    assert first.status_code == 201
    reused = await book(api, booking_body(other["start"], hostId="dana"), key)
    assert reused.status_code == 422 and error_of(reused)["code"] == "idempotency_key_reused"
    again = await api.get(f"bookings/{first.json()['id']}")
    assert again.json()["start"] == slot["start"]


async def test_the_same_key_from_another_client_is_another_booking(clean_stack, api, anonymous, stack):
    import httpx
    slots = await future_slots(anonymous, hostId="dana")
    key = new_key()
    mine = await book(api, booking_body(slots[0]["start"], hostId="dana"), key)
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.master_key}) as other_client:
        theirs = await book(other_client, booking_body(slots[4]["start"], hostId="dana"), key)
    # 201, or 200 from the status URL when a busy host answered 202 first: either way both were booked.
    assert {mine.status_code, theirs.status_code} <= {200, 201}
    assert mine.json()["status"] == theirs.json()["status"] == "confirmed"
    assert mine.json()["id"] != theirs.json()["id"], "idempotency keys are scoped per client"


async def test_a_taken_time_is_409_with_the_nearest_open_alternatives(clean_stack, api, anonymous):
    slot = (await future_slots(anonymous, hostId="dana"))[2]
    assert (await book(api, booking_body(slot["start"], hostId="dana"))).status_code == 201
    response = await book(api, booking_body(slot["start"], hostId="dana"))
    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "slot_unavailable"
    alternatives = error["alternatives"]
    assert len(alternatives) == 5 and all(a["hostIds"] == ["dana"] for a in alternatives)
    taken = instant(slot["start"])
    padded = (taken - timedelta(minutes=15), taken + timedelta(minutes=75))
    for alternative in alternatives:
        start = instant(alternative["start"])
        assert start + timedelta(minutes=75) <= padded[0] or start - timedelta(minutes=15) >= padded[1]
        assert abs(start - taken) < timedelta(days=3), "alternatives are near the requested time"
    # Its status URL tells the same story.
    again = await api.get(f"bookings/{error['details'][0]['bookingId']}")
    assert again.status_code == 409 and error_of(again)["alternatives"]


async def test_injection_attempts_are_stored_verbatim_and_rendered_harmless(clean_stack, api, anonymous, business):
    slot = (await future_slots(anonymous, hostId="dana"))[3]
    hostile = customer(name="<script>alert('x')</script> Bobby'); DROP TABLE bookings;--",
                       address="1 Main St' or PartitionKey ne '", postalCode="60614",
                       notes="<img src=x onerror=alert(1)>\r\nBcc: everyone@example.com {{7*7}} $(rm -rf /)")
    response = await book(api, booking_body(slot["start"], hostId="dana", customer=hostile))
    assert response.status_code == 201, response.text
    stored = (await api.get(f"bookings/{response.json()['id']}")).json()["customer"]
    # Verbatim but for the line break, which notes keep as a bare \n (docs/API.md, text rules).
    assert stored["name"] == hostile["name"] and stored["notes"] == hostile["notes"].strip().replace("\r\n", "\n")
    assert stored["address"] == hostile["address"]

    event = clean_stack.graph.events(business.host("dana").mailbox)[0]
    mail = clean_stack.graph.outbox()[0]
    for rendered in (event["body"]["content"], _mail_body(mail)):
        assert "<script>" not in rendered and "<img" not in rendered
        assert html.escape("<script>alert('x')</script>", quote=False) in rendered or "&lt;script&gt;" in rendered
    text = clean_stack.acs.outbox()[0]["message"]
    assert "\r" not in text and "Bcc:" not in text.split("\n")[0]
    # The OData-looking address did not widen any query: the slot is taken by exactly this booking.
    assert slot["start"] not in {s["start"] for s in await future_slots(anonymous, hostId="dana")}


def _mail_body(mail: dict) -> str:
    message = mail.get("message", mail)
    return message["body"]["content"]


async def test_unknown_bookings_are_404(api):
    assert (await api.get("bookings/bk_000000000000000000000000")).status_code == 404
    assert (await api.get("bookings/..%2F..%2Fetc")).status_code == 404
    missing = await api.post("bookings/bk_000000000000000000000000/cancel", json={})
    assert missing.status_code == 404 and error_of(missing)["code"] == "not_found"
    assert (await api.post("bookings/bk_000000000000000000000000/reschedule",
                           json={"start": "2030-01-01T15:00:00Z"})).status_code == 404


async def test_cancelling_frees_the_time_and_tells_the_customer(clean_stack, api, anonymous, business):
    slot = (await future_slots(anonymous, hostId="dana"))[1]
    booking = (await book(api, booking_body(slot["start"], hostId="dana"))).json()
    response = await settle(api, await api.post(f"bookings/{booking['id']}/cancel",
                                                json={"reason": "customer fixed it themselves"}))
    assert response.status_code == 200, response.text
    cancelled = response.json()
    assert cancelled["status"] == "cancelled" and cancelled["cancelReason"] == "customer fixed it themselves"
    live = [e for e in clean_stack.graph.events(business.host("dana").mailbox) if not e.get("isCancelled")]
    assert live == []
    assert slot["start"] in {s["start"] for s in await future_slots(anonymous, hostId="dana")}
    assert len(clean_stack.acs.outbox()) == 2, "a confirmation, then a cancellation"
    again = await api.post(f"bookings/{booking['id']}/cancel")
    assert again.status_code == 200 and again.json()["status"] == "cancelled"
    moved = await api.post(f"bookings/{booking['id']}/reschedule", json={"start": slot["start"]})
    assert moved.status_code == 409 and error_of(moved)["code"] == "booking_not_confirmed"


async def test_rescheduling_moves_the_booking_and_frees_the_old_time(clean_stack, api, anonymous, business):
    offered = await future_slots(anonymous, hostId="dana")
    old, new = offered[0], offered[6]
    booking = (await book(api, booking_body(old["start"], hostId="dana"))).json()
    response = await settle(api, await api.post(f"bookings/{booking['id']}/reschedule",
                                                json={"start": new["start"]}))
    assert response.status_code == 200, response.text
    moved = response.json()
    assert moved["id"] == booking["id"] and moved["start"] == new["start"] and moved["status"] == "confirmed"
    events = [e for e in clean_stack.graph.events(business.host("dana").mailbox) if not e.get("isCancelled")]
    assert [instant(e["start"]["dateTime"] + "+00:00") for e in events] == [instant(new["start"])]
    now_offered = {s["start"] for s in await future_slots(anonymous, hostId="dana")}
    assert old["start"] in now_offered and new["start"] not in now_offered


async def test_rescheduling_onto_a_taken_or_impossible_time_is_refused(clean_stack, api, anonymous):
    offered = await future_slots(anonymous, hostId="dana")
    mine = (await book(api, booking_body(offered[0]["start"], hostId="dana"))).json()
    theirs = await book(api, booking_body(offered[8]["start"], hostId="dana"))
    assert theirs.status_code == 201
    taken = await settle(api, await api.post(f"bookings/{mine['id']}/reschedule",
                                             json={"start": offered[8]["start"]}))
    assert taken.status_code == 409 and error_of(taken)["alternatives"], taken.text
    past = await api.post(f"bookings/{mine['id']}/reschedule", json={"start": "2020-01-07T15:00:00Z"})
    assert past.status_code == 422 and error_of(past)["details"][0]["type"] == "past"
    wrong = await api.post(f"bookings/{mine['id']}/reschedule", json={"start": "soon"})
    assert wrong.status_code == 422 and error_of(wrong)["details"][0]["field"] == "start"
    still = (await api.get(f"bookings/{mine['id']}")).json()
    assert still["start"] == offered[0]["start"], "a refused move leaves the booking where it was"
