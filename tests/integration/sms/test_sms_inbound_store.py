"""Two-way SMS state in real Table Storage (Azurite): bookings found by the sender's number through the hashed
index, and the ledger that makes each inbound message count once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

UTC = timezone.utc
NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
JORDAN, ALEX = "+13125550188", "+13125550147"


@pytest.fixture
def settings(base_env):
    from shared.config import load_settings
    return load_settings()


@pytest.fixture(autouse=True)
async def _close_table_service(base_env):
    yield
    from shared.adapters.storage import get_table_service
    from shared.config import load_settings
    await get_table_service(load_settings()).close()


def _booking(booking_id: str, phone: str, start: datetime):
    from shared.domain.booking import Booking
    return Booking.model_validate({
        "id": booking_id, "eventTypeKey": "repair", "hostId": "dana", "start": start,
        "end": start + timedelta(hours=1), "customer": {"name": "Jordan Lee", "phone": phone},
        "context": {"channel": "voice"}, "createdAt": NOW})


async def test_bookings_are_found_by_phone_and_a_changed_number_no_longer_finds_them(settings):
    from shared.adapters.stores import BookingStore
    store = BookingStore(settings)
    later = await store.create(_booking("bk-later", JORDAN, NOW + timedelta(days=3)))
    await store.create(_booking("bk-sooner", JORDAN, NOW + timedelta(days=1)))
    await store.create(_booking("bk-alex", ALEX, NOW + timedelta(days=2)))

    assert [s.value.id for s in await store.find_by_phone(JORDAN)] == ["bk-sooner", "bk-later"]
    moved = later.value.model_copy(update={"customer": later.value.customer.model_copy(update={"phone": ALEX})})
    await store.save(moved, later.etag)
    assert [s.value.id for s in await store.find_by_phone(JORDAN)] == ["bk-sooner"]
    assert [s.value.id for s in await store.find_by_phone(ALEX)] == ["bk-alex", "bk-later"]
    assert await store.find_by_phone("+13125550100") == []


async def test_of_many_deliveries_of_one_message_exactly_one_claims_it(settings):
    from shared.adapters.store_sms_inbound import SmsInboundLedger
    ledger = SmsInboundLedger(settings)
    claims = await asyncio.gather(*(ledger.claim("twilio", "SM1", now=NOW) for _ in range(8)))
    assert sorted(claims) == [False] * 7 + [True]
    assert await ledger.claim("acs", "SM1", now=NOW)  # another gateway's id space
    await ledger.release("twilio", "SM1")
    assert await ledger.claim("twilio", "SM1", now=NOW)  # a failed handling lets the retry in


async def test_a_pending_cancellation_is_consumed_once_and_once_markers_hold(settings):
    from shared.adapters.store_sms_inbound import PendingCancel, SmsInboundLedger
    ledger = SmsInboundLedger(settings)
    assert await ledger.pending_cancel(JORDAN) is None
    await ledger.ask_cancel(JORDAN, PendingCancel("bk-1", "SM1", NOW + timedelta(minutes=15)))
    assert await ledger.pending_cancel(JORDAN) == PendingCancel("bk-1", "SM1", NOW + timedelta(minutes=15))
    assert await ledger.pending_cancel(ALEX) is None
    taken = await asyncio.gather(*(ledger.take_cancel(JORDAN) for _ in range(5)))
    assert sorted(taken) == [False] * 4 + [True]
    assert await ledger.pending_cancel(JORDAN) is None

    assert await ledger.once("undeliverable:bk-1", now=NOW)
    assert not await ledger.once("undeliverable:bk-1", now=NOW)
    await ledger.forget_once("undeliverable:bk-1")
    assert await ledger.once("undeliverable:bk-1", now=NOW)


async def test_old_records_are_purged_and_recent_ones_kept(settings):
    from shared.adapters.store_sms_inbound import PendingCancel, SmsInboundLedger
    ledger = SmsInboundLedger(settings)
    await ledger.claim("twilio", "SM-old", now=NOW - timedelta(days=3))
    await ledger.claim("twilio", "SM-new", now=NOW)
    await ledger.ask_cancel(JORDAN, PendingCancel("bk-1", "SM-old", NOW - timedelta(days=2)))
    await ledger.once("old-marker", now=NOW - timedelta(days=40))
    assert await ledger.purge_before(NOW - timedelta(days=1), limit=100) == 3
    assert not await ledger.claim("twilio", "SM-new", now=NOW)
    assert await ledger.claim("twilio", "SM-old", now=NOW)  # purged: a day-old id is no longer remembered
    assert await ledger.pending_cancel(JORDAN) is None
