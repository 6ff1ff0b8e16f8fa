"""Fixtures for the Table Storage tests: settings against the session's Azurite, a fresh table prefix per test."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest


@pytest.fixture
def storage_settings(base_env):
    """Valid settings for Azurite with this test's own table prefix (so tables start empty)."""
    from shared.config import load_settings
    return load_settings()


@pytest.fixture(autouse=True)
async def _close_table_service(base_env):
    """Close this test's (event loop's) table client afterwards, so its connections do not outlive the loop."""
    yield
    from shared.adapters.storage import get_table_service
    from shared.config import load_settings
    await get_table_service(load_settings()).close()


@pytest.fixture
def claim_store(storage_settings):
    from shared.adapters.stores import ClaimStore
    return ClaimStore(storage_settings)


@pytest.fixture
def booking_store(storage_settings):
    from shared.adapters.stores import BookingStore
    return BookingStore(storage_settings)


@pytest.fixture
def call_store(storage_settings):
    from shared.adapters.stores import CallStore
    return CallStore(storage_settings)


@pytest.fixture
def subscription_store(storage_settings):
    from shared.adapters.stores import SubscriptionStore
    return SubscriptionStore(storage_settings)


@pytest.fixture
def now() -> datetime:
    """A fixed 'now' for claim expiry decisions (claims take the caller's clock, like an orchestrator's)."""
    return datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture
def make_booking():
    """A factory of valid held bookings; override any field by its Python name."""
    return _make_booking


def _make_booking(booking_id: str = "bk-1", *, host_id: str = "dana", start: datetime | None = None,
                  minutes: int = 60, **overrides):
    from datetime import timedelta

    from shared.domain.booking import Booking
    start = start or datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
    fields = dict(
        id=booking_id, event_type_key="repair", host_id=host_id, start=start, end=start + timedelta(minutes=minutes),
        buffer_before_minutes=15, buffer_after_minutes=15, time_zone="America/Chicago",
        customer={"name": "Ann Lee", "phone": "+13125550147", "email": "ann@example.com",
                  "address": "12 Elm St", "postal_code": "60601", "notes": "side door"},
        context={"channel": "voice", "source": {"utm_source": "google"}, "initiated_by": "caller"},
        routing={"policy": "round_robin", "candidates": ["dana", "lee"], "chosen": host_id},
        hold_expires_at=datetime(2026, 3, 2, 8, 5, tzinfo=timezone.utc),
        created_at=datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc),
    )
    fields.update(overrides)
    return Booking(**fields)
