"""Helpers of the reminder and waitlist end-to-end tests: a frozen local clock, booking, moving and cancelling
through the real sagas, and reading the SMS gateway's outbox and the orchestrations' states."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
REPAIR = "plumbing-repair"  # postal code 60614 -> territory north -> dana
DANA = "dana"
CUSTOMER = {"name": "Jordan Lee", "phone": "+13125550188", "email": "jordan.lee@example.com",
            "address": "2400 N Lincoln Ave, Chicago, IL", "postalCode": "60614"}


def local(day: date, wall: str) -> datetime:
    """``wall`` ("14:00") on ``day`` in Chicago, as UTC."""
    return datetime.combine(day, time.fromisoformat(wall), tzinfo=CHICAGO).astimezone(UTC)


def next_monday_morning(now: datetime | None = None) -> datetime:
    """Monday 10:00 Chicago, at least a day from real now: a quiet, ordinary week (no holiday hours, see
    ``local_times.ordinary_days``) to book Wednesday and Thursday in."""
    from local_times import next_wall
    today = (now or datetime.now(UTC)).astimezone(CHICAGO).date()
    return next_wall("mon", "10:00", after=datetime.combine(today + timedelta(days=1), time(0), CHICAGO))


def freeze_at(stack, moment: datetime) -> datetime:
    return stack.host.clock.freeze(moment)


def advance_to(stack, moment: datetime) -> datetime:
    """Move the frozen clock forward to ``moment``; due durable timers have fired when this returns."""
    now = stack.host.clock.now()
    assert moment >= now, (moment, now)
    return stack.host.clock.advance(moment - now)


def services():
    from shared.services.container import get_services
    return get_services()


def saga_input(booking_id: str, start: datetime, *, customer: dict | None = None, host_id: str = DANA,
               now: datetime) -> dict[str, Any]:
    from shared.services.contracts import SagaInput, fingerprint
    request = {"eventType": REPAIR, "start": start.isoformat(), "timeZone": "America/Chicago",
               "customer": customer or dict(CUSTOMER), "confirmation": "immediate", "hostId": host_id,
               "context": {"channel": "api", "initiatedBy": "e2e test"}}
    return SagaInput.model_validate({"bookingId": booking_id, "request": request, "idempotencyKey": booking_id,
                                     "fingerprint": fingerprint(request),
                                     "requestedAt": now.isoformat()}).model_dump(mode="json")


async def run(stack, orchestrator: str, instance_id: str, payload: dict, timeout: float = 30.0) -> dict:
    await stack.host.with_client(lambda client: client.start_new(orchestrator, instance_id, payload))
    status = await stack.host.wait_for_instance_async(instance_id, timeout=timeout)
    assert status.runtime_status.value == "Completed", (status.runtime_status, status.output)
    return decoded(status.output)


async def book(stack, start: datetime, *, customer: dict | None = None) -> str:
    from shared.services.contracts import BOOKING_SAGA
    booking_id = "bk_test_" + uuid.uuid4().hex[:16]
    result = await run(stack, BOOKING_SAGA, booking_id,
                       saga_input(booking_id, start, customer=customer, now=stack.host.clock.now()))
    assert result["outcome"] == "confirmed", result
    return booking_id


async def cancel(stack, booking_id: str) -> dict:
    from shared.services.contracts import CANCEL_SAGA, CancelInput
    payload = CancelInput(booking_id=booking_id, reason="customer called",
                          requested_at=stack.host.clock.now()).model_dump(mode="json")
    return await run(stack, CANCEL_SAGA, f"{booking_id}-cancel", payload)


async def reschedule(stack, booking_id: str, start: datetime) -> dict:
    from shared.services.contracts import RESCHEDULE_SAGA, RescheduleInput
    payload = RescheduleInput(booking_id=booking_id, start=start, host_id=DANA,
                              requested_at=stack.host.clock.now()).model_dump(mode="json")
    return await run(stack, RESCHEDULE_SAGA, f"{booking_id}-move-{uuid.uuid4().hex[:6]}", payload)


def decoded(value):
    return json.loads(value) if isinstance(value, str) else value


def texts_to(stack, phone: str, containing: str = "") -> list[str]:
    return [m["message"] for m in stack.acs.outbox() if m.get("to") == phone and containing in m["message"]]


async def eventually(check, timeout: float = 15.0, interval: float = 0.05):
    """Poll ``check()`` until it returns something truthy (the last value otherwise)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


async def reminder_state(stack, booking_id: str) -> dict | None:
    """The reminder orchestration's status: runtime status, custom status (what it waits for) and output."""
    from shared.services.reminders import reminder_instance_id
    status = await stack.host.with_client(lambda client: client.get_status(reminder_instance_id(booking_id)))
    if not status:
        return None
    return {"runtime": status.runtime_status.value, "custom": decoded(status.custom_status) or {},
            "output": decoded(status.output)}


async def reminders_waiting_for(stack, booking_id: str, *, not_at: str | None = None,
                                timeout: float = 15.0) -> dict | None:
    """Wait until the reminder orchestration rests on a timer for a reminder other than the one due at
    ``not_at`` (or has ended); that next reminder (or None)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        state = await reminder_state(stack, booking_id)
        if state and state["runtime"] == "Completed":
            return None
        upcoming = state["custom"].get("next") if state else None
        if upcoming and state["runtime"] == "Running" and upcoming["at"] != not_at:
            return upcoming
        assert asyncio.get_running_loop().time() < deadline, state
        await asyncio.sleep(0.05)
