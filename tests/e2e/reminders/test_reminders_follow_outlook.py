"""Reminders follow what a technician does in Outlook: reconciliation of a moved event re-plans them for the
new time, of a deleted event stops them and offers the freed time to the waitlist. Real Graph subscriptions
(the keeper's), real change notifications from the Graph emulator, the real clock."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from reminder_support import decoded, eventually, reminder_state, reminders_waiting_for, services, texts_to


def _reconcile_support():
    """The reconciliation tests' helpers (subscribing every mailbox, settling, moving events in Outlook)."""
    if "reconcile_support" not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "reconcile" / "reconcile_support.py"
        spec = importlib.util.spec_from_file_location("reconcile_support", path)
        sys.modules["reconcile_support"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules["reconcile_support"])
    return sys.modules["reconcile_support"]


@pytest.fixture
async def subscribed(stack, business):
    rs = _reconcile_support()
    rs.expire_all_subscriptions(stack)
    await rs.settle(stack)
    stack.reset()
    report = await rs.keep_subscriptions(stack)
    assert not report["failed"], report
    yield stack
    stack.host.clock.reset()
    rs.expire_all_subscriptions(stack)
    await rs.settle(stack)
    stack.graph.configure(duplicate_deliveries=1)


async def test_outlook_move_replans_and_outlook_delete_stops_reminders_and_offers_the_time(subscribed, business):
    rs = _reconcile_support()
    stack = subscribed
    slots = rs.free_slots(business, "dana", days_ahead=3)
    made = await rs.book(stack, business, slots[0])
    first = await reminders_waiting_for(stack, made.id)
    assert first["start"] == made.start.isoformat()

    new_start = slots[0] + timedelta(days=1)
    rs.move_in_outlook(stack, made, new_start)
    await rs.settle(stack)
    moved = await reminders_waiting_for(stack, made.id, not_at=first["at"])
    assert moved["start"] == new_start.isoformat()  # re-planned for the time Outlook now shows

    waiting = {"name": "Riley Park", "phone": "+13125550166", "address": "2500 N Clark St, Chicago, IL",
               "postalCode": "60614"}
    from shared.services.waitlist import WaitlistRequest, join_waitlist, offer_instance_id
    await join_waitlist(services(), WaitlistRequest.model_validate({
        "eventType": made.event_type_key, "customer": waiting, "timeZone": "America/Chicago",
        "windowStart": (new_start - timedelta(hours=6)).isoformat(),
        "windowEnd": (new_start + timedelta(hours=6)).isoformat()}), stack.host.clock.now())

    current = (await services().bookings.get(made.id)).value
    stack.graph.delete_event(current.outlook_mailbox, current.outlook_event_id)
    await rs.settle(stack)
    state = await eventually_completed(stack, made.id)
    assert state["output"]["why"] == "the booking is cancelled"
    _past_quiet_hours(stack, business)
    assert await eventually(lambda: texts_to(stack, waiting["phone"], "opened up"))
    stage = None
    for _ in range(200):  # the offer's texts go out just before it records that it waits for replies
        status = await stack.host.with_client(lambda client: client.get_status(offer_instance_id(made.id)))
        stage = (decoded(status.custom_status) or {}).get("stage")
        if stage == "offered":
            break
        await asyncio.sleep(0.05)
    assert stage == "offered"
    assert texts_to(stack, rs.CUSTOMER["phone"], "reminder") == []


def _past_quiet_hours(stack, business) -> None:
    """Run at night, the offer waits for the business's quiet hours to end: go there (the fixture goes back)."""
    from shared.services.reminders import quiet_interval
    now = stack.host.clock.now()
    quiet = quiet_interval(now, business.business.quiet_hours, business.business.time_zone)
    if quiet:
        stack.host.clock.travel_to(quiet[1] + timedelta(seconds=1))


async def eventually_completed(stack, booking_id: str) -> dict:
    state = None
    for _ in range(300):
        state = await reminder_state(stack, booking_id)
        if state and state["runtime"] == "Completed":
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"reminders still running: {state}")
