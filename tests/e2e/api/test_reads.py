"""The anonymous reads: event types, availability (live busy + live claims), the OpenAPI document, rate limits."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from tests.e2e.api.helpers import REPAIR, error_of, fields_of, future_slots, instant, slots

UTC = timezone.utc


async def test_event_types_list_what_can_be_booked_and_what_it_needs(anonymous):
    response = await anonymous.get("event-types")
    assert response.status_code == 200
    body = response.json()
    assert body["business"] == {"name": "Lakeshore Plumbing & Heating", "timeZone": "America/Chicago",
                                "phone": "+13125550100"}
    by_key = {item["key"]: item for item in body["eventTypes"]}
    repair = by_key[REPAIR]
    assert repair["durationMinutes"] == 60 and repair["slotIntervalMinutes"] == 30
    assert repair["locationKind"] == "onsite"
    assert repair["requiredFields"] == ["name", "phone", "address", "postalCode"]
    assert set(repair["hostIds"]) == {"dana", "priya", "luis"}
    assert by_key["teams-consult"]["locationKind"] == "teams"
    assert by_key["estimate-call"]["requiredFields"] == ["name", "phone"]


async def test_availability_is_shown_in_the_requested_zone_with_offsets(anonymous):
    offered = await future_slots(anonymous, hostId="dana", timeZone="America/Los_Angeles")
    assert offered, "Dana works weekdays; ten days ahead must offer something"
    first = offered[0]
    assert first["start"].endswith(("-08:00", "-07:00")) and first["hostIds"] == ["dana"]
    assert instant(first["end"]) - instant(first["start"]) == timedelta(hours=1)
    # Dana works 07:30-16:30 Chicago time: no slot starts before 05:30 Los Angeles time.
    assert all(datetime.fromisoformat(slot["start"]).hour >= 5 for slot in offered)


async def test_a_bare_date_window_means_local_days(anonymous):
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    offered = await slots(anonymous, REPAIR, start=day.isoformat(), end=day.isoformat(), timeZone="America/Chicago")
    assert {slot["start"][:10] for slot in offered} <= {day.isoformat()}


@pytest.mark.parametrize("params, field", [
    ({"eventType": REPAIR, "start": "2026-03-02T10:00"}, "start"),
    ({"eventType": REPAIR, "start": "tomorrow"}, "start"),
    ({"eventType": REPAIR, "timeZone": "Mars/Olympus_Mons"}, "timeZone"),
    ({}, "eventType"),
])
async def test_availability_rejects_bad_parameters_naming_the_field(anonymous, params, field):
    response = await anonymous.get("availability", params=params)
    assert response.status_code == 422
    assert field in fields_of(response)


async def test_availability_rejects_backwards_and_huge_windows(anonymous):
    now = datetime.now(UTC).replace(microsecond=0)
    backwards = await anonymous.get("availability", params={"eventType": REPAIR, "start": now.isoformat(),
                                                            "end": (now - timedelta(days=1)).isoformat()})
    huge = await anonymous.get("availability", params={"eventType": REPAIR, "start": now.isoformat(),
                                                       "end": (now + timedelta(days=90)).isoformat()})
    assert backwards.status_code == huge.status_code == 422
    assert "after start" in error_of(backwards)["details"][0]["message"]
    assert "31 days" in error_of(huge)["details"][0]["message"]


async def test_unknown_event_types_and_hosts_are_422_naming_the_field(anonymous):
    unknown = await anonymous.get("availability", params={"eventType": "time-travel"})
    assert unknown.status_code == 422 and error_of(unknown)["code"] == "unknown_event_type"
    assert REPAIR in error_of(unknown)["details"][0]["known"]
    wrong_host = await anonymous.get("availability", params={"eventType": REPAIR, "hostId": "marcus"})
    assert wrong_host.status_code == 422 and fields_of(wrong_host) == {"hostId": "is not a host of this event type"}


async def test_a_slot_frontdesk_claimed_is_never_offered_even_with_outlook_busy_times_cached(clean_stack, anonymous):
    from shared.domain.claims import granules
    from shared.services.container import get_services

    offered = await future_slots(anonymous, hostId="dana")  # also warms the Graph busy cache for these days
    target = offered[len(offered) // 2]
    start = instant(target["start"])
    repair = get_services().business.event_type(REPAIR)
    claims = get_services().claims
    taken = granules(start, start + repair.duration, repair.buffer_before, repair.buffer_after)
    outcome = await claims.claim("dana", taken, "bk_someone_else", "hold", datetime.now(UTC) + timedelta(minutes=5),
                                 now=datetime.now(UTC))
    assert outcome.won
    graph_reads = len(clean_stack.graph.requests("getSchedule"))

    after = await future_slots(anonymous, hostId="dana")
    starts = {instant(slot["start"]) for slot in after}
    assert start not in starts
    # Neighbours whose padded interval (15 min buffers) overlaps the hold are gone too; one clear of it stays.
    assert start - timedelta(minutes=30) not in starts and start + timedelta(minutes=30) not in starts
    assert len(clean_stack.graph.requests("getSchedule")) == graph_reads, "busy times came from the cache"

    await claims.release("dana", "bk_someone_else", taken)
    again = {instant(slot["start"]) for slot in await future_slots(anonymous, hostId="dana")}
    assert start in again


async def test_an_outlook_meeting_hides_the_slots_it_overlaps(clean_stack, anonymous, business):
    offered = await future_slots(anonymous, hostId="priya", days_ahead=12, span_days=7)
    target = instant(offered[0]["start"])
    mailbox = business.host("priya").mailbox
    clean_stack.graph.add_event(mailbox, {
        "subject": "Dentist", "showAs": "busy",
        "start": {"dateTime": target.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (target + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}})
    # A different window than any earlier query: its busy times are read fresh from Outlook.
    fresh = await future_slots(anonymous, hostId="priya", days_ahead=12, span_days=6)
    assert target not in {instant(slot["start"]) for slot in fresh}


async def test_availability_reads_of_a_pool_take_one_graph_request(clean_stack, anonymous):
    clean_stack.graph.clear_requests()
    offered = await future_slots(anonymous, days_ahead=20, span_days=5)
    assert {host for slot in offered for host in slot["hostIds"]} <= {"dana", "priya", "luis"}
    schedule = clean_stack.graph.requests("getSchedule")
    assert len(schedule) == 1, "one getSchedule call covers the whole pool's mailboxes"
    await asyncio.gather(*(future_slots(anonymous, days_ahead=20, span_days=5) for _ in range(5)))
    assert len(clean_stack.graph.requests("getSchedule")) == 1, "repeated reads within seconds use the cache"


async def test_anonymous_reads_are_rate_limited_per_address(stack):
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=30,
                                 headers={"X-Forwarded-For": "192.0.2.77"}) as flood, \
            httpx.AsyncClient(base_url=stack.host.url(""), timeout=30,
                              headers={"X-Forwarded-For": "192.0.2.78"}) as neighbour:
        answers = await asyncio.gather(*(flood.get("event-types") for _ in range(90)))
        statuses = [answer.status_code for answer in answers]
        assert statuses.count(200) >= 60 and 429 in statuses
        limited = next(answer for answer in answers if answer.status_code == 429)
        assert error_of(limited)["code"] == "rate_limited" and int(limited.headers["Retry-After"]) >= 1
        assert (await neighbour.get("event-types")).status_code == 200, "other addresses are not affected"


async def test_the_openapi_document_describes_every_json_route(stack, anonymous):
    response = await anonymous.get("openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.1")
    served = {(f"/{function.route.template}", method.lower()) for function in stack.host.functions
              if function.route for method in (function.methods or ["GET", "POST"])}
    # Twilio's webhooks (voice, SMS) speak form posts and TwiML, the widget and manage pages HTML: not JSON routes.
    json_routes = {(path, method) for path, method in served
                   if not path.startswith(("/voice", "/widget", "/sms/twilio"))}
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert json_routes <= documented, sorted(json_routes - documented)
    schemas = document["components"]["schemas"]
    request = schemas["BookingRequest"]
    assert {"eventType", "start", "customer"} <= set(request["required"])
    assert "phone" in schemas["Customer"]["properties"] and "hostIds" in schemas["SlotView"]["properties"]
    post = document["paths"]["/bookings"]["post"]
    assert {"201", "202", "409", "422"} <= set(post["responses"])
    schema = post["requestBody"]["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/BookingRequest"}
    assert document["paths"]["/availability"]["get"]["security"] == []

