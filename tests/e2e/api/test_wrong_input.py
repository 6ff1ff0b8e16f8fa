"""Input that is well-formed but wrong: dates at the calendar's limits, control characters, numbers that
cannot be texted. Each is a 422 naming the field (or, for free text with line breaks, a documented
normalisation) -- never a 500, never a booking, and nothing of it reaches SMS, e-mail, Dynamics or storage.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.api.helpers import REPAIR, book, booking_body, customer, error_of, fields_of, future_slots, new_key

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # all but \t \n
INJECTED = "Bob\u0000\r\nX-Injected: 1"


def nothing_was_sent_or_booked(stack, business) -> None:
    assert stack.acs.outbox() == [] and stack.twilio.outbox() == []
    assert stack.graph.outbox() == []
    assert all(stack.graph.events(host.mailbox) == [] for host in business.hosts)
    assert stack.dataverse.records("appointments") == []


@pytest.mark.parametrize(("query", "field"), [
    ({"start": "9999-12-31"}, "start"),
    ({"start": "0001-01-01"}, "start"),
    ({"end": "9999-12-31"}, "end"),
    ({"start": "9999-12-31T23:00:00-06:00"}, "start"),
    ({"start": "0001-01-01T00:00:00+14:00"}, "start"),
    ({"start": "9999-12-25T00:00:00Z"}, "start"),
    ({"start": "1969-12-31T23:59:59Z", "end": "1970-01-02"}, "start"),
    ({"start": "2026-02-30"}, "start"),
    ({"end": "2020-01-01"}, "end"),  # before now, the default start
    ({"end": "2999-12-31"}, "end"),  # more than 31 days after now
])
async def test_availability_dates_out_of_range_are_422_naming_the_field(anonymous, query, field):
    response = await anonymous.get("availability", params={"eventType": REPAIR, **query})
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "validation_failed" and field in fields_of(response), error
    assert "Traceback" not in response.text


async def test_an_empty_host_id_is_422_not_an_unknown_host(anonymous):
    response = await anonymous.get("availability", params={"eventType": REPAIR, "hostId": ""})
    assert response.status_code == 422 and error_of(response)["code"] == "validation_failed"
    assert "hostId" in fields_of(response)


@pytest.mark.parametrize("start", ["9999-12-31T23:00:00-06:00", "0001-01-01T00:00:00+14:00", "3000-01-01T00:00:00Z",
                                   "1970-01-01T00:59:59+01:00"])
async def test_a_booking_at_the_calendars_limits_is_422_and_books_nothing(clean_stack, api, business, start):
    response = await book(api, booking_body(start))
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"start": "must be between 1970-01-01 and 3000-01-01 (UTC)"}
    nothing_was_sent_or_booked(clean_stack, business)


async def test_a_move_to_the_calendars_limits_is_422_and_the_booking_stays(clean_stack, api, anonymous):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    booked = await book(api, booking_body(slot["start"], hostId="dana"))
    assert booked.status_code in (200, 201), booked.text  # 200: the answer came through the status URL
    booking_id = booked.json()["id"]
    for start in ("9999-12-31T23:00:00-06:00", "0001-01-01T00:00:00+14:00"):
        response = await api.post(f"bookings/{booking_id}/reschedule", json={"start": start})
        assert response.status_code == 422, response.text
        assert fields_of(response) == {"start": "must be between 1970-01-01 and 3000-01-01 (UTC)"}
    assert (await api.get(f"bookings/{booking_id}")).json()["start"] == slot["start"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": INJECTED}, "customer.name"),
    ({"name": "Bob\u202eoj"}, "customer.name"),  # a right-to-left override that makes a name read differently
    ({"email": "bob@example.com\r\nBcc: all@example.com"}, "customer.email"),
    ({"postalCode": "606\u000014"}, "customer.postalCode"),
    ({"address": "1 Main St\u001b[2J"}, "customer.address"),  # an escape code: line breaks alone are fine here
    ({"notes": "Sink drips\u0007\u0008"}, "customer.notes"),
])
async def test_control_characters_in_customer_fields_are_422_and_book_nothing(clean_stack, api, business,
                                                                              anonymous, changes, field):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    response = await book(api, booking_body(slot["start"], hostId="dana", customer=customer(**changes)))
    assert response.status_code == 422, response.text
    assert field in fields_of(response) and "control characters" in fields_of(response)[field]
    assert "X-Injected" not in response.text and "\\u0000" not in response.text, "the input is never echoed"
    nothing_was_sent_or_booked(clean_stack, business)


async def test_control_characters_in_the_booking_context_are_422(api, anonymous):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    body = booking_body(slot["start"], hostId="dana",
                        context={"channel": "api", "initiatedBy": "office\r\nX-Injected: 1",
                                 "source": {"utm_source": "news\u0000letter"}})
    response = await book(api, body)
    assert response.status_code == 422, response.text
    assert {"context.initiatedBy", "context.source.utm_source"} <= set(fields_of(response)), fields_of(response)


async def test_line_breaks_in_address_and_notes_are_normalised_before_anything_sees_them(clean_stack, api,
                                                                                       anonymous, business):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    person = customer(address="1200 W Fullerton Ave\r\nApt 2\tRear door", notes="Kitchen sink drips.\r\n\tUnder it.\u2028Thanks")
    response = await book(api, booking_body(slot["start"], hostId="dana", customer=person))
    assert response.status_code == 201, response.text
    stored = (await api.get(f"bookings/{response.json()['id']}")).json()["customer"]
    assert stored["address"] == "1200 W Fullerton Ave Apt 2 Rear door"
    assert stored["notes"] == "Kitchen sink drips.\n Under it.\nThanks"

    event = clean_stack.graph.events(business.host("dana").mailbox)[0]
    reached = {"sms": [m["message"] for m in clean_stack.acs.outbox()],
               "e-mail": [json.dumps(m) for m in clean_stack.graph.outbox()],
               "outlook": [json.dumps(event)],
               "dynamics": [json.dumps(a) for a in clean_stack.dataverse.records("appointments")]}
    assert all(reached.values()), reached
    for where, texts in reached.items():
        for text in texts:
            # json.dumps escapes control characters, so look for both the raw and the escaped forms.
            assert not CONTROL.search(text) and "\\r" not in text and "\\t" not in text, (where, text)
            assert "\r" not in text, where


async def test_a_phone_number_that_cannot_exist_is_422_before_anything_is_booked(clean_stack, api, anonymous,
                                                                                  business):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    for phone, message in (("+10000000000", "is not a valid phone number for country code +1"),
                           ("+15551234567", "is not a valid phone number for country code +1"),
                           ("+1312555014", "is not a possible phone number for country code +1 (wrong length)"),
                           ("+112345678901", "is not written as E.164 (no national prefix after the country code)")):
        response = await api.post("bookings", json=booking_body(slot["start"], hostId="dana",
                                                                customer=customer(phone=phone)),
                                  headers={"Idempotency-Key": new_key()})
        assert response.status_code == 422, response.text
        assert fields_of(response) == {"customer.phone": message}
    nothing_was_sent_or_booked(clean_stack, business)


async def test_a_cancel_reason_with_line_breaks_becomes_one_line(clean_stack, api, anonymous):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    booked = await book(api, booking_body(slot["start"], hostId="dana"))
    assert booked.status_code in (200, 201), booked.text  # 200: the answer came through the status URL
    refused = await api.post(f"bookings/{booked.json()['id']}/cancel", json={"reason": "no\u0000thanks"})
    assert refused.status_code == 422 and "reason" in fields_of(refused)
    cancelled = await api.post(f"bookings/{booked.json()['id']}/cancel", json={"reason": "Customer called:\r\nno longer needed"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelReason"] == "Customer called: no longer needed"


async def test_graph_webhooks_answer_get_without_a_token_as_the_document_says(anonymous):
    document = (await anonymous.get("openapi.json")).json()
    for route in ("graph/notifications", "graph/lifecycle"):
        response = await anonymous.get(route)
        assert response.status_code == 405 and response.headers["Allow"] == "POST"
        operation = document["paths"][f"/{route}"]["get"]
        assert "405" in operation["responses"] and "Allow" in operation["responses"]["405"]["headers"]
        empty = await anonymous.get(route, params={"validationToken": ""})
        assert empty.status_code == 400 and "400" in operation["responses"]


async def test_the_document_states_the_idempotency_key_rule_and_the_server_applies_it(anonymous, api):
    document = (await anonymous.get("openapi.json")).json()
    header = next(p for p in document["paths"]["/bookings"]["post"]["parameters"] if p["name"] == "Idempotency-Key")
    rule = re.compile(header["schema"]["pattern"])
    assert header["schema"]["minLength"] == 1 and header["schema"]["maxLength"] == 200
    for key, accepted in (("a" * 200, True), ("a" * 201, False), ("two words", False), ("caf\u00e9", False)):
        assert bool(rule.fullmatch(key)) is accepted
        if not accepted and key.isascii():
            response = await api.post("bookings", json={}, headers={"Idempotency-Key": key})
            assert response.status_code == 400 and error_of(response)["code"] == "invalid_idempotency_key"
    host_id = next(p for p in document["paths"]["/availability"]["get"]["parameters"] if p["name"] == "hostId")
    assert host_id["schema"]["minLength"] == 1
