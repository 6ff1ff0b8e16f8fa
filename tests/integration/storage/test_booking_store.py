"""Bookings in real Table Storage (Azurite): round trips, optimistic concurrency, and the lookups."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.booking import Booking, BookingStatus
from shared.errors import ConflictError, NotFoundError, PermanentError

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 2, tzinfo=UTC)


async def test_a_created_booking_reads_back_identical_with_version_one(booking_store, make_booking):
    booking = make_booking()
    created = await booking_store.create(booking)
    stored = await booking_store.get(booking.id)

    assert stored.value == booking.model_copy(update={"version": 1}) == created.value
    assert stored.etag == created.etag
    assert stored.value.customer.phone == "+13125550147" and stored.value.routing["chosen"] == "dana"
    assert await booking_store.get("bk-unknown") is None


async def test_creating_the_same_booking_twice_is_a_conflict(booking_store, make_booking):
    await booking_store.create(make_booking())
    with pytest.raises(ConflictError) as raised:
        await booking_store.create(make_booking())
    assert raised.value.code == "BookingExists"


async def test_saving_with_a_stale_etag_is_a_conflict_and_loses_nothing(booking_store, make_booking):
    created = await booking_store.create(make_booking())
    confirmed = await booking_store.save(created.value.confirm(NOW), created.etag)

    with pytest.raises(ConflictError):
        await booking_store.save(created.value.cancel(NOW, "caller hung up"), created.etag)

    stored = await booking_store.get(created.value.id)
    assert stored.value.status is BookingStatus.CONFIRMED and stored.value.version == 2
    assert stored.etag == confirmed.etag != created.etag
    with pytest.raises(NotFoundError):
        await booking_store.save(make_booking("bk-never-created"), created.etag)


async def test_of_two_concurrent_saves_from_the_same_read_exactly_one_lands(booking_store, make_booking):
    created = await booking_store.create(make_booking())
    updates = [created.value.confirm(NOW), created.value.cancel(NOW, "declined"), created.value.expire(NOW)]

    results = await asyncio.gather(*(booking_store.save(b, created.etag) for b in updates), return_exceptions=True)

    saved = [r for r in results if not isinstance(r, Exception)]
    assert len(saved) == 1 and all(isinstance(r, ConflictError) for r in results if isinstance(r, Exception))
    assert (await booking_store.get(created.value.id)).value.status == saved[0].value.status


async def test_a_booking_is_found_by_its_outlook_event_id_and_only_the_current_one(booking_store, make_booking):
    event_id = "AAMkAGI2TG93AAA=/+weird#id?"  # Graph ids carry characters Table keys forbid
    created = await booking_store.create(make_booking())
    with_event = await booking_store.save(created.value.with_outlook_event(event_id, "dana@contoso.com", NOW),
                                          created.etag)

    found = await booking_store.find_by_event_id(event_id)
    assert found.value.id == created.value.id and found.etag == with_event.etag

    await booking_store.save(with_event.value.with_outlook_event("AAMk-new", "dana@contoso.com", NOW), with_event.etag)
    assert await booking_store.find_by_event_id(event_id) is None
    assert (await booking_store.find_by_event_id("AAMk-new")).value.id == created.value.id
    assert await booking_store.find_by_event_id("AAMk-unknown") is None


async def test_an_idempotency_key_finds_its_booking_and_a_reused_key_is_detected(booking_store, make_booking):
    booking = make_booking(idempotency_key="key-123", request_fingerprint="sha256:aaa")
    await booking_store.create(booking)

    found = await booking_store.find_by_idempotency_key("key-123")
    assert found.value.id == booking.id and found.value.request_fingerprint == "sha256:aaa"

    # The same key with a different body: the first use stands, and tells the caller what it was.
    record = await booking_store.reserve_idempotency_key("key-123", "bk-other", "sha256:bbb", now=NOW)
    assert (record.booking_id, record.fingerprint) == (booking.id, "sha256:aaa")
    with pytest.raises(ConflictError) as raised:
        await booking_store.create(make_booking("bk-other", idempotency_key="key-123",
                                                request_fingerprint="sha256:bbb"))
    assert raised.value.code == "IdempotencyKeyReused"
    assert await booking_store.get("bk-other") is None

    assert await booking_store.find_by_idempotency_key("key-unused") is None
    fresh = await booking_store.reserve_idempotency_key("key-new", "bk-2", "sha256:ccc", now=NOW)
    assert (fresh.booking_id, fresh.fingerprint) == ("bk-2", "sha256:ccc")
    assert (await booking_store.get_idempotency_record("key-new")).created_at == NOW


async def test_two_requests_racing_with_one_idempotency_key_make_one_booking(booking_store, make_booking):
    attempts = [make_booking(f"bk-{n}", idempotency_key="key-race", request_fingerprint=f"fp-{n}") for n in range(5)]
    results = await asyncio.gather(*(booking_store.create(b) for b in attempts), return_exceptions=True)

    created = [r for r in results if not isinstance(r, Exception)]
    assert len(created) == 1
    assert (await booking_store.find_by_idempotency_key("key-race")).value.id == created[0].value.id


async def test_list_by_host_counts_the_hosts_bookings_in_a_range(booking_store, make_booking):
    week = [MONDAY + timedelta(days=d, hours=15) for d in range(5)]
    for n, start in enumerate(week):
        await booking_store.create(make_booking(f"bk-{n}", start=start))
    await booking_store.create(make_booking("bk-lee", host_id="lee", start=week[0]))
    await booking_store.create(make_booking("bk-next-week", start=week[0] + timedelta(days=7)))
    cancelled = await booking_store.get("bk-3")
    await booking_store.save(cancelled.value.cancel(NOW, "changed plans"), cancelled.etag)

    listed = await booking_store.list_by_host("dana", MONDAY, MONDAY + timedelta(days=7))
    active = await booking_store.list_by_host("dana", MONDAY, MONDAY + timedelta(days=7),
                                              statuses=[BookingStatus.HELD, BookingStatus.CONFIRMED])
    tuesday = await booking_store.list_by_host("dana", MONDAY + timedelta(days=1), MONDAY + timedelta(days=2))

    assert [b.id for b in listed] == ["bk-0", "bk-1", "bk-2", "bk-3", "bk-4"]
    assert [b.id for b in active] == ["bk-0", "bk-1", "bk-2", "bk-4"]
    assert [b.id for b in tuesday] == ["bk-1"]
    assert [b.id for b in await booking_store.list_by_host("lee", MONDAY, MONDAY + timedelta(days=7))] == ["bk-lee"]


async def test_a_rescheduled_booking_is_listed_at_its_new_time_and_host_only(booking_store, make_booking):
    created = await booking_store.create(make_booking(start=MONDAY + timedelta(hours=15)))
    confirmed = await booking_store.save(created.value.confirm(NOW), created.etag)
    moved = confirmed.value.reschedule(MONDAY + timedelta(days=8, hours=9), MONDAY + timedelta(days=8, hours=10),
                                       NOW, host_id="lee")
    await booking_store.save(moved, confirmed.etag)

    assert await booking_store.list_by_host("dana", MONDAY, MONDAY + timedelta(days=14)) == []
    assert [(b.id, b.start) for b in await booking_store.list_by_host("lee", MONDAY, MONDAY + timedelta(days=14))] == [
        ("bk-1", MONDAY + timedelta(days=8, hours=9))]


async def test_large_bookings_are_split_across_columns_and_oversized_ones_refused(booking_store, make_booking):
    # 150,000 characters of routing detail: more than one 64 KiB string column can hold.
    routing = {"policy": "territory", "exclusions": [{"host": f"h{n}", "reason": "é" * 140} for n in range(1000)]}
    big = make_booking("bk-big", routing=routing, customer={"name": "Zoë 🚐 Ortiz", "notes": "𝔘" * 3000})
    await booking_store.create(big)
    assert (await booking_store.get("bk-big")).value == big.model_copy(update={"version": 1})

    huge = make_booking("bk-huge", routing={"blob": "x" * 1_000_000})
    with pytest.raises(PermanentError, match="too large"):
        await booking_store.create(huge)
    assert await booking_store.get("bk-huge") is None


def test_the_api_json_is_camel_case_and_round_trips(make_booking):
    booking = make_booking(outlook_event_id="AAMk1", outlook_mailbox="dana@contoso.com")
    body = booking.model_dump(mode="json")

    assert {"eventTypeKey", "hostId", "bufferBeforeMinutes", "outlookEventId", "idempotencyKey",
            "requestFingerprint", "createdAt", "updatedAt", "version"} <= set(body)
    assert body["customer"]["postalCode"] == "60601" and body["context"]["initiatedBy"] == "caller"
    assert body["start"] == "2026-03-02T15:00:00Z" and body["notifications"]["sms"]["status"] == "pending"
    assert Booking.model_validate(body) == booking
    assert Booking.model_validate_json(booking.model_dump_json()) == booking
