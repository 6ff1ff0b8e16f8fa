"""The pure rules under reconciliation (no stack needed): how an event is compared with its booking,
how notifications are authenticated, and how repeats map onto one orchestration."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from shared.config import load_business_config
from shared.domain.booking import Booking, BookingContext, Customer
from shared.ports import CalendarEvent
from shared.services.notifications import event_location, event_subject
from shared.services.reconcile import classify, reconcile_instance_id
from shared.services.subscriptions import client_state_for, client_state_matches, client_state_hash

UTC = timezone.utc
START = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def config():
    return load_business_config("config/business.example.yaml")


@pytest.fixture
def booking():
    return Booking(id="bk_rules", status="confirmed", event_type_key="plumbing-repair", host_id="dana", start=START,
                   end=START + timedelta(hours=1), customer=Customer(name="Robin Okafor", address="1 Main St"),
                   context=BookingContext(channel="api"), outlook_event_id="AAMk1", created_at=START)


@pytest.fixture
def event(booking, config):
    """The event exactly as Frontdesk wrote it for the booking."""
    event_type = config.event_type(booking.event_type_key)
    return CalendarEvent(id="AAMk1", mailbox="dana@x", subject=event_subject(booking, event_type, held=False),
                         start=booking.start, end=booking.end, location=event_location(booking, event_type))


def test_frontdesks_own_write_is_unchanged_and_each_human_change_is_named(booking, event, config):
    assert classify(booking, event, config) == "unchanged"
    assert classify(booking, replace(event, start=START + timedelta(days=1), end=START + timedelta(days=1, hours=1)),
                    config) == "moved"
    assert classify(booking, replace(event, end=START + timedelta(hours=2)), config) == "moved"  # made longer
    assert classify(booking, replace(event, is_cancelled=True), config) == "cancelled"
    assert classify(booking, None, config) == "cancelled"
    assert classify(booking, replace(event, location="Back door"), config) == "edited"
    assert classify(booking, replace(event, subject="Bring a ladder"), config) == "edited"


def test_after_an_edit_was_applied_the_edited_text_is_the_new_normal(booking, event, config):
    edited = replace(event, location="Back door")
    applied = booking.with_outlook_sync(START, subject=edited.subject, location=edited.location, change_key="k2",
                                        applied_by="run-1", action="edited")
    assert classify(applied, edited, config) == "unchanged"
    assert classify(applied, event, config) == "edited"  # changing it back is a change too


def test_client_state_is_derived_from_the_secret_and_compared_exactly():
    state = client_state_for("a-secret")
    assert state != "a-secret" and len(state) <= 128 and state == client_state_for("a-secret")
    assert client_state_for("another-secret") != state
    assert client_state_matches(state, state)
    assert not client_state_matches(state[:-1], state) and not client_state_matches(state + "x", state)
    assert not client_state_matches(None, state) and not client_state_matches(123, state)
    assert not client_state_matches(state, None)  # no secret configured: nothing is accepted
    assert client_state_hash(state) != client_state_hash(client_state_for("another-secret"))


def test_a_repeated_change_maps_to_one_instance_and_a_new_change_to_another():
    one = reconcile_instance_id("Dana@X.com", "AAMk1/+=", "updated", 'W/"ck1"', START)
    assert one == reconcile_instance_id("dana@x.com", "AAMk1/+=", "updated", 'W/"ck1"', START + timedelta(hours=1))
    assert one != reconcile_instance_id("dana@x.com", "AAMk1/+=", "updated", 'W/"ck2"', START)
    assert one != reconcile_instance_id("dana@x.com", "AAMk1/+=", "deleted", 'W/"ck1"', START)
    assert not set("/\\#?") & set(one)  # a valid Durable instance id whatever the event id holds
    # Without an ETag, repeats within the same minute still collapse.
    assert reconcile_instance_id("d@x", "e", "updated", None, START) == \
        reconcile_instance_id("d@x", "e", "updated", None, START + timedelta(seconds=30))
