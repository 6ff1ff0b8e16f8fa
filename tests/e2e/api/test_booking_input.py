"""Bad input to the booking routes gets a clear answer with the right status, and books nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.e2e.api.helpers import booking_body, customer, error_of, fields_of, future_slots, instant, new_key

UTC = timezone.utc


@pytest.fixture
async def open_start(anonymous) -> str:
    """A start Dana really offers (a few days out)."""
    return (await future_slots(anonymous, hostId="dana"))[0]["start"]


async def post(api: httpx.AsyncClient, body, key: str | None = "fresh", **headers) -> httpx.Response:
    sent = {"Idempotency-Key": new_key()} if key == "fresh" else ({"Idempotency-Key": key} if key else {})
    sent.update(headers)
    content = body if isinstance(body, (bytes, str)) else json.dumps(body)
    sent.setdefault("Content-Type", "application/json")
    return await api.post("bookings", content=content, headers=sent)


async def test_writes_need_a_function_key(anonymous, open_start):
    response = await anonymous.post("bookings", json=booking_body(open_start), headers={"Idempotency-Key": new_key()})
    assert response.status_code == 401
    assert (await anonymous.get("bookings/bk_0123456789abcdef01234567")).status_code == 401


async def test_a_missing_or_unusable_idempotency_key_is_400(api, open_start):
    missing = await post(api, booking_body(open_start), key=None)
    assert missing.status_code == 400 and error_of(missing)["code"] == "missing_idempotency_key"
    spaced = await post(api, booking_body(open_start), key="two words")
    assert spaced.status_code == 400 and error_of(spaced)["code"] == "invalid_idempotency_key"
    too_long = await post(api, booking_body(open_start), key="k" * 201)
    assert too_long.status_code == 400


async def test_malformed_json_is_400_with_where_it_broke(api):
    response = await post(api, b'{"eventType": "plumbing-repair", "start": ')
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "malformed_json" and "position" in error["details"][0]
    assert "Traceback" not in response.text


async def test_an_oversized_body_is_413_and_other_media_types_415(api, open_start):
    body = booking_body(open_start, customer=customer(notes="x" * 70_000))
    assert (await post(api, body)).status_code == 413
    form = await post(api, "eventType=plumbing-repair", **{"Content-Type": "application/x-www-form-urlencoded"})
    assert form.status_code == 415 and error_of(form)["code"] == "unsupported_media_type"


async def test_wrong_types_are_422_naming_each_field(api):
    body = {"eventType": 42, "start": "next tuesday", "customer": {"name": ["Alex"], "phone": 3125550142},
            "timeZone": None, "surprise": True}
    response = await post(api, body)
    assert response.status_code == 422
    fields = fields_of(response)
    assert {"eventType", "start", "customer.name", "customer.phone", "surprise"} <= set(fields)
    assert fields["surprise"] == "is not a known field (check the spelling)"


async def test_a_body_that_is_not_an_object_is_422(api):
    response = await post(api, [1, 2, 3])
    assert response.status_code == 422 and fields_of(response) == {"(body)": "should be a JSON object"}


async def test_a_missing_or_invalid_phone_is_422(api, open_start):
    missing = await post(api, booking_body(open_start, customer=customer(phone=None)))
    assert missing.status_code == 422
    assert fields_of(missing) == {"customer.phone": "is required for Plumbing repair visit"}
    invalid = await post(api, booking_body(open_start, customer=customer(phone="555-0142")))
    assert invalid.status_code == 422
    assert fields_of(invalid) == {"customer.phone": "must be an E.164 number such as +15551234567"}


async def test_an_unknown_event_type_is_422(api, open_start):
    response = await post(api, booking_body(open_start, event_type="time-travel"))
    assert response.status_code == 422 and error_of(response)["code"] == "unknown_event_type"
    assert fields_of(response) == {"eventType": "is not a configured event type"}


async def test_an_unknown_host_is_422(api, open_start):
    response = await post(api, booking_body(open_start, hostId="marcus"))
    assert response.status_code == 422 and fields_of(response) == {"hostId": "is not a host of this event type"}


async def test_a_start_without_an_offset_is_422(api):
    response = await post(api, booking_body("2030-03-05T10:00:00"))
    assert response.status_code == 422
    assert fields_of(response) == {"start": "must include a UTC offset (e.g. 2026-03-02T15:00:00Z)"}


async def test_a_time_in_the_past_is_422(api):
    past = (datetime.now(UTC) - timedelta(days=2)).replace(hour=15, minute=0, second=0, microsecond=0)
    response = await post(api, booking_body(past.isoformat()))
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "time_not_bookable" and error["details"][0]["type"] == "past"


async def test_a_start_off_the_slot_grid_is_422(api, open_start):
    off_grid = instant(open_start) + timedelta(minutes=7)
    response = await post(api, booking_body(off_grid.isoformat(), hostId="dana"))
    assert response.status_code == 422
    assert error_of(response)["details"][0]["type"] == "not_a_start_time"


async def test_a_time_outside_working_hours_is_422(api):
    # 03:00 in Chicago: nobody repairs plumbing then except Luis on call; Dana certainly does not.
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    night = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)  # 03:00 or 04:00 Chicago
    response = await post(api, booking_body(night.isoformat(), hostId="dana"))
    assert response.status_code == 422 and error_of(response)["details"][0]["type"] == "not_a_start_time"


async def test_a_time_beyond_the_maximum_advance_is_422(api, anonymous):
    far = (datetime.now(UTC) + timedelta(days=45)).replace(microsecond=0)
    response = await post(api, booking_body(far.isoformat()))
    assert response.status_code == 422
    assert error_of(response)["details"][0]["type"] == "beyond_advance"
    assert "30 days" in error_of(response)["details"][0]["message"]


def _too_soon_start(business, now: datetime):
    """A real start of some event type (on its grid, in working hours) that lies inside its minimum notice."""
    from shared.domain.availability import find_slots
    for event_type in sorted(business.event_types, key=lambda t: -t.minimum_notice_minutes):
        hosts = business.eligible_hosts(event_type)
        # Seen from an earlier "now", the notice no longer hides the next hours' starts.
        starts = find_slots(event_type, hosts, window_start=now + timedelta(minutes=5),
                            window_end=now + event_type.minimum_notice, now=now - event_type.minimum_notice)
        if starts:
            return event_type, starts[0].start
    pytest.skip("no event type has a start inside its notice right now")


async def test_a_start_sooner_than_the_notice_is_409_with_later_alternatives(api, business):
    now = datetime.now(UTC)
    event_type, start = _too_soon_start(business, now)
    body = booking_body(start.isoformat(), event_type=event_type.key, customer=customer(email="alex@example.com"))
    response = await post(api, body)
    assert response.status_code == 409, response.text
    error = error_of(response)
    assert error["code"] == "slot_unavailable" and error["details"][0]["type"] == "too_soon"
    assert str(event_type.minimum_notice_minutes) in error["details"][0]["message"]
    earliest = now + event_type.minimum_notice
    assert error["alternatives"], "something is free in the next days"
    assert all(instant(slot["start"]) >= earliest for slot in error["alternatives"])


async def test_confirmation_await_is_refused_through_the_api(api, open_start):
    response = await post(api, booking_body(open_start, confirmation="await"))
    assert response.status_code == 422 and "confirmation" in fields_of(response)


async def test_nothing_was_booked_by_any_bad_request(clean_stack, api, open_start):
    for body in (booking_body(open_start, customer=customer(phone="12")),
                 booking_body(open_start, event_type="nope"),
                 booking_body("2001-01-01T10:00:00Z")):
        assert (await post(api, body)).status_code == 422
    assert clean_stack.graph.requests("events.create") == []
    assert clean_stack.acs.outbox() == []
