"""Helpers of the saga end-to-end tests: free times, saga inputs, starting and awaiting sagas, reading stores."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
REPAIR = "plumbing-repair"  # postal code 60614 -> territory north -> dana
DANA, PRIYA = "dana", "priya"
CUSTOMER = {"name": "Jordan Lee", "phone": "+13125550188", "email": "jordan.lee@example.com",
            "address": "2400 N Lincoln Ave, Chicago, IL", "postalCode": "60614",
            "notes": "Water under the sink <script>alert(1)</script> & dripping"}


def free_slots(config, event_type: str, host_id: str, *, days_ahead: int = 2, now: datetime | None = None,
               span_days: int = 10) -> list[datetime]:
    """Starts the engine offers on an empty calendar, at least ``days_ahead`` days from now."""
    from shared.domain.availability import find_slots
    now = now or datetime.now(UTC)
    start = now + timedelta(days=days_ahead)
    slots = find_slots(config.event_type(event_type), [config.host(host_id)], {}, {}, start,
                       start + timedelta(days=span_days), now, blocking_show_as=config.blocking_show_as,
                       granule_minutes=config.claim_granule_minutes)
    return [slot.start for slot in slots]


def new_booking_id() -> str:
    return "bk_test_" + uuid.uuid4().hex[:16]


def saga_input(booking_id: str, start: datetime, *, event_type: str = REPAIR, host_id: str | None = None,
               confirmation: str = "immediate", hold_seconds: int | None = None, customer: dict | None = None,
               context: dict | None = None, time_zone: str = "America/Chicago") -> dict[str, Any]:
    """A SagaInput as the booking API would build it, as JSON."""
    from shared.services.contracts import SagaInput, fingerprint
    request = {"eventType": event_type, "start": start.isoformat(), "timeZone": time_zone,
               "customer": customer or dict(CUSTOMER), "confirmation": confirmation,
               "context": context or {"channel": "api", "initiatedBy": "e2e test"}}
    if host_id:
        request["hostId"] = host_id
    if hold_seconds:
        request["holdSeconds"] = hold_seconds
    return SagaInput.model_validate({"bookingId": booking_id, "request": request, "idempotencyKey": booking_id,
                                     "fingerprint": fingerprint(request),
                                     "requestedAt": datetime.now(UTC).isoformat()}).model_dump(mode="json")


async def start(stack, orchestrator: str, instance_id: str, payload: dict[str, Any]) -> str:
    return await stack.host.with_client(lambda client: client.start_new(orchestrator, instance_id, payload))


async def finished(stack, instance_id: str, timeout: float = 30.0):
    status = await stack.host.wait_for_instance_async(instance_id, timeout=timeout)
    assert status.runtime_status.value == "Completed", (status.runtime_status, status.output)
    return output(status)


async def run(stack, orchestrator: str, instance_id: str, payload: dict[str, Any], timeout: float = 30.0) -> dict:
    """Start a saga and return its SagaResult JSON once it completes."""
    await start(stack, orchestrator, instance_id, payload)
    return await finished(stack, instance_id, timeout)


async def book(stack, payload: dict[str, Any], timeout: float = 30.0) -> dict:
    from shared.services.contracts import BOOKING_SAGA
    return await run(stack, BOOKING_SAGA, payload["bookingId"], payload, timeout)


async def stage_reached(stack, instance_id: str, stage: str, timeout: float = 20.0):
    status = await stack.host.wait_for_instance_async(
        instance_id, timeout=timeout, until=lambda s: (custom(s) or {}).get("stage") == stage
        or s.runtime_status.value in ("Completed", "Failed", "Terminated"))
    assert (custom(status) or {}).get("stage") == stage, (status.runtime_status, status.custom_status, status.output)
    return custom(status)


async def confirm(stack, instance_id: str, yes: bool = True) -> None:
    from shared.services.contracts import CONFIRM_EVENT
    await stack.host.with_client(lambda client: client.raise_event(instance_id, CONFIRM_EVENT, {"confirmed": yes}))


def output(status) -> dict:
    value = status.output
    return json.loads(value) if isinstance(value, str) else value


def custom(status) -> dict | None:
    value = status.custom_status
    return json.loads(value) if isinstance(value, str) else value


def services():
    from shared.services.container import get_services
    return get_services()


async def stored_booking(booking_id: str):
    stored = await services().bookings.get(booking_id)
    return stored.value if stored else None


async def claims_of(host_id: str, booking_id: str, around: datetime) -> list:
    """The live claims ``booking_id`` holds on ``host_id`` within a day of ``around``."""
    claims = await services().claims.list_claims(host_id, around - timedelta(days=1), around + timedelta(days=1),
                                                 now=datetime.now(UTC))
    return [claim for claim in claims if claim.holder_id == booking_id]


def ours(events: list[dict], booking_id: str) -> list[dict]:
    """Outlook events carrying this booking's transactionId (the emulator's raw Graph JSON)."""
    return [event for event in events if (event.get("transactionId") or "").startswith(booking_id)]


def sms_to(stack, phone: str) -> list[dict]:
    return [message for message in stack.acs.outbox() if message.get("to") == phone]


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``check()`` (sync) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


def restart_host(stack):
    """Lose the worker mid-flight: a new development host resumes from storage (see LocalStack.restart_host)."""
    return stack.restart_host()


