"""The availability service on its own, against the stack's Graph emulator and Azurite: what it caches and what not."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from shared.domain.claims import granules
from shared.services.availability import AvailabilityService
from shared.services.container import get_services

UTC = timezone.utc


def _window(days_ahead: int):
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=3)


async def test_busy_times_are_cached_for_seconds_then_read_again(clean_stack):
    service = AvailabilityService(get_services(), busy_cache_seconds=0.5)
    start, end = _window(6)
    clean_stack.graph.clear_requests()
    first = await service.slots("plumbing-repair", start, end)
    await asyncio.gather(*(service.slots("plumbing-repair", start, end) for _ in range(5)))
    assert len(clean_stack.graph.requests("getSchedule")) == 1, "concurrent and repeated reads share one request"
    await asyncio.sleep(0.6)
    again = await service.slots("plumbing-repair", start, end)
    assert len(clean_stack.graph.requests("getSchedule")) == 2, "after the lifetime, Outlook is asked again"
    assert again.slots == first.slots


async def test_claims_are_read_live_even_within_the_cache_lifetime(clean_stack):
    service = AvailabilityService(get_services(), busy_cache_seconds=60)
    start, end = _window(7)
    before = await service.slots("plumbing-repair", start, end, host_id="priya")
    slot = before.slots[0]
    repair = get_services().business.event_type("plumbing-repair")
    taken = granules(slot.start, slot.end, repair.buffer_before, repair.buffer_after)
    now = datetime.now(UTC)
    assert (await get_services().claims.claim("priya", taken, "bk_live_claim", "booking", now=now)).won
    after = await service.slots("plumbing-repair", start, end, host_id="priya")
    assert slot.start not in {s.start for s in after.slots}
    assert len(clean_stack.graph.requests("getSchedule")) == 1


async def test_a_graph_outage_is_503_with_retry_after_never_an_empty_calendar(clean_stack, anonymous):
    clean_stack.graph.add_fault(status=503, operation="getSchedule", count=20)
    start = (datetime.now(UTC) + timedelta(days=25)).replace(microsecond=0)
    response = await anonymous.get("availability", params={"eventType": "drain-cleaning", "start": start.isoformat(),
                                                           "end": (start + timedelta(days=2)).isoformat()})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable" and int(response.headers["Retry-After"]) >= 1


async def test_query_values_that_look_like_odata_reach_no_query(anonymous):
    for params in ({"eventType": "plumbing-repair", "hostId": "dana' or PartitionKey ne '"},
                   {"eventType": "plumbing-repair' or '1' eq '1"}):
        response = await anonymous.get("availability", params=params)
        assert response.status_code == 422, response.text
