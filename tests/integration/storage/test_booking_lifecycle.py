"""The booking lifecycle (held -> confirmed -> rescheduled/cancelled), as stored and read back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.domain.booking import Booking, BookingStatus, IllegalTransition

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def test_a_booking_lives_through_hold_confirm_notify_reschedule_and_cancel(booking_store, make_booking):
    stored = await booking_store.create(make_booking())
    steps = [
        lambda b: b.with_outlook_event("AAMk-1", "dana@contoso.com", NOW),
        lambda b: b.confirm(NOW + timedelta(minutes=1)),
        lambda b: b.record_notification("sms", "failed", NOW + timedelta(minutes=2), error="gateway 503"),
        lambda b: b.record_notification("sms", "sent", NOW + timedelta(minutes=3)),
        lambda b: b.with_crm_appointment("appt-1", NOW + timedelta(minutes=3)),
        lambda b: b.reschedule(b.start + timedelta(days=1), b.end + timedelta(days=1), NOW + timedelta(hours=1)),
        lambda b: b.cancel(NOW + timedelta(hours=2), "customer called"),
    ]
    for step in steps:
        stored = await booking_store.save(step(stored.value), stored.etag)

    final = (await booking_store.get(stored.value.id)).value
    assert final.status is BookingStatus.CANCELLED and final.cancel_reason == "customer called"
    assert final.version == 1 + len(steps) and final.updated_at == NOW + timedelta(hours=2)
    assert final.start == datetime(2026, 3, 3, 15, 0, tzinfo=UTC) and final.hold_expires_at is None
    assert (final.notifications.sms.status, final.notifications.sms.attempts, final.notifications.sms.last_error) == (
        "sent", 2, None)
    assert final.notifications.email.status == "pending"
    assert (final.outlook_event_id, final.crm_appointment_id) == ("AAMk-1", "appt-1")


def test_repeating_a_transition_changes_nothing(make_booking):
    held = make_booking()
    confirmed = held.confirm(NOW)
    assert confirmed.confirm(NOW + timedelta(hours=1)) is confirmed
    cancelled = confirmed.cancel(NOW, "x")
    assert cancelled.cancel(NOW + timedelta(hours=1), "y") is cancelled
    assert held.expire(NOW).expire(NOW).status is BookingStatus.EXPIRED


@pytest.mark.parametrize("action", [
    lambda b: b.cancel(NOW).confirm(NOW),
    lambda b: b.expire(NOW).confirm(NOW),
    lambda b: b.confirm(NOW).expire(NOW),
    lambda b: b.confirm(NOW).fail(NOW, "late"),
    lambda b: b.reschedule(b.start + timedelta(hours=1), b.end + timedelta(hours=1), NOW),
    lambda b: b.fail(NOW, "x").with_outlook_event("AAMk", "dana@contoso.com", NOW),
    lambda b: b.record_notification("sms", "sent", NOW),
])
def test_illegal_transitions_raise_a_clear_domain_error(make_booking, action):
    message = r"^cannot .* booking bk-1: it is (held|cancelled|expired|confirmed|failed)$"
    with pytest.raises(IllegalTransition, match=message):
        action(make_booking())


def test_a_reschedule_cannot_end_before_it_starts(make_booking):
    confirmed = make_booking().confirm(NOW)
    with pytest.raises(ValidationError, match="end must be after start"):
        confirmed.reschedule(confirmed.end, confirmed.start, NOW)


@pytest.mark.parametrize("change, message", [
    ({"customer": {"name": "Ann", "phone": "555-1234"}}, "E.164"),
    ({"customer": {"name": "Ann", "email": "not-an-address"}}, "e-mail"),
    ({"customer": {"name": ""}}, "at least 1 character"),
    ({"start": datetime(2026, 3, 2, 15, 0)}, "UTC offset"),
    ({"end": datetime(2026, 3, 2, 14, 0, tzinfo=UTC)}, "end must be after start"),
    ({"time_zone": "Mars/Olympus"}, "unknown IANA time zone"),
    ({"context": {"channel": "fax"}}, "channel"),
    ({"context": {"channel": "dynamics", "dynamics_record_type": "lead"}}, "go together"),
    ({"id": "bad/id"}, "pattern"),
])
def test_invalid_bookings_are_refused_with_the_reason(make_booking, change, message):
    with pytest.raises(ValidationError, match=message):
        make_booking(**change)


def test_instants_are_normalised_to_utc_and_padding_comes_from_the_buffers(make_booking):
    chicago = timezone(timedelta(hours=-6))
    booking = make_booking(start=datetime(2026, 3, 2, 9, 0, tzinfo=chicago))
    assert booking.start == datetime(2026, 3, 2, 15, 0, tzinfo=UTC) and booking.start.tzinfo is UTC
    assert booking.padded == (datetime(2026, 3, 2, 14, 45, tzinfo=UTC), datetime(2026, 3, 2, 16, 15, tzinfo=UTC))
    assert len(booking.claim_granules()) == 18
    assert Booking.model_validate(booking.model_dump()).start.tzinfo is UTC
