"""Helpers of the reconciliation end-to-end tests: real bookings, a person editing Outlook, waiting for quiet.

Bookings are made by the real booking saga (the same path the API takes), so every Outlook write in a
test is Frontdesk's own; a test then acts as the technician through the Graph emulator's ``/_emulator``
API, whose subscriptions really POST change notifications to the development host.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

UTC = timezone.utc
REPAIR = "plumbing-repair"  # 60 min, 15 min buffers either side, onsite
CUSTOMER = {"name": "Robin Okafor", "phone": "+13125550177", "email": "robin.okafor@example.com",
            "address": "3300 N Broadway, Chicago, IL", "postalCode": "60657", "notes": "Leaking valve"}
WATCHED_PREFIXES = ("reconcile-", "resync", "lifecycle-", "subscription-", "bk_rc_")


def services():
    from shared.services.container import get_services
    return get_services()


def free_slots(business, host_id: str, *, days_ahead: int = 3, span_days: int = 10,
               event_type: str = REPAIR) -> list[datetime]:
    """Starts the engine offers for the host on an empty calendar, from the local midnight ``days_ahead`` days
    out: the first is the start of a working day at any hour the suite runs, so a test can add hours to it."""
    from zoneinfo import ZoneInfo

    from shared.domain.availability import find_slots
    now = datetime.now(UTC)
    local_day = (now.astimezone(ZoneInfo(business.business.time_zone)) + timedelta(days=days_ahead)).date()
    start = datetime.combine(local_day, datetime.min.time(), ZoneInfo(business.business.time_zone)).astimezone(UTC)
    slots = find_slots(business.event_type(event_type), [business.host(host_id)], {}, {}, start,
                       start + timedelta(days=span_days), now, blocking_show_as=business.blocking_show_as,
                       granule_minutes=business.claim_granule_minutes)
    return [slot.start for slot in slots]


def on_a_later_day(slots: list[datetime], after: datetime) -> datetime:
    """The first of ``slots`` on a later local day than ``after`` (a day later may be a Sunday, or a Saturday
    before the technician starts)."""
    from zoneinfo import ZoneInfo
    zone = ZoneInfo("America/Chicago")
    return next(s for s in slots if s.astimezone(zone).date() > after.astimezone(zone).date())


def saga_input(booking_id: str, start: datetime, host_id: str, *, customer: dict | None = None) -> dict[str, Any]:
    from shared.services.contracts import SagaInput, fingerprint
    request = {"eventType": REPAIR, "start": start.isoformat(), "timeZone": "America/Chicago", "hostId": host_id,
               "customer": customer or dict(CUSTOMER), "context": {"channel": "api", "initiatedBy": "reconcile e2e"}}
    return SagaInput.model_validate({"bookingId": booking_id, "request": request, "idempotencyKey": booking_id,
                                     "fingerprint": fingerprint(request),
                                     "requestedAt": datetime.now(UTC).isoformat()}).model_dump(mode="json")


def output(status) -> Any:
    value = status.output
    return json.loads(value) if isinstance(value, str) else value


async def run_orchestration(stack, name: str, instance_id: str, payload: Any, timeout: float = 30.0) -> Any:
    await stack.host.with_client(lambda client: client.start_new(name, instance_id, payload))
    status = await stack.host.wait_for_instance_async(instance_id, timeout=timeout)
    assert status.runtime_status.value == "Completed", (status.runtime_status, status.output)
    return output(status)


async def book(stack, business, start: datetime, host_id: str = "dana", *, customer: dict | None = None):
    """A confirmed booking made by the booking saga, after every echo of its Outlook writes was handled."""
    from shared.services.contracts import BOOKING_SAGA
    booking_id = "bk_rc_" + uuid.uuid4().hex[:16]
    result = await run_orchestration(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, start, host_id,
                                                                                  customer=customer))
    assert result["outcome"] == "confirmed", result
    await settle(stack)
    return await booking(booking_id)


async def booking(booking_id: str):
    stored = await services().bookings.get(booking_id)
    assert stored is not None, f"booking {booking_id} is gone"
    return stored.value


async def claims_of(booking) -> list:
    """The live claims the booking holds on its host within two days of it."""
    found = await services().claims.list_claims(booking.host_id, booking.start - timedelta(days=2),
                                                booking.end + timedelta(days=2), now=datetime.now(UTC))
    return [claim for claim in found if claim.holder_id == booking.id]


def graph_time(instant: datetime) -> dict[str, str]:
    return {"dateTime": instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def move_in_outlook(stack, booking, start: datetime, end: datetime | None = None) -> dict:
    """The technician drags the booking's event to ``start`` (keeping its length unless ``end`` is given)."""
    end = end or start + (booking.end - booking.start)
    return stack.graph.edit_event(booking.outlook_mailbox, booking.outlook_event_id,
                                  {"start": graph_time(start), "end": graph_time(end)})


def sms_to(stack, phone: str) -> list[dict]:
    return [message for message in stack.acs.outbox() if message.get("to") == phone]


def appointment(stack, booking_id: str) -> dict | None:
    from shared.adapters.dataverse import appointment_id_for
    return stack.dataverse.record("appointments", appointment_id_for(booking_id))


async def running(stack) -> list[str]:
    """Instance ids of this folder's orchestrations that have not finished."""
    from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as Status
    found = await stack.host.with_client(lambda client: client.get_status_by(
        runtime_status=[Status.Running, Status.Pending]))
    return [s.instance_id for s in found if s.instance_id.startswith(WATCHED_PREFIXES)]


async def settle(stack, timeout: float = 30.0) -> None:
    """Wait until Graph has delivered everything and every orchestration it started has finished."""
    deadline = time.monotonic() + timeout
    quiet_rounds = 0
    while quiet_rounds < 2:  # twice in a row: a finishing reconcile must not have started anything new
        assert time.monotonic() < deadline, f"still busy after {timeout:g} s: {await running(stack)}"
        await asyncio.to_thread(stack.graph.wait_idle, timeout)
        quiet_rounds = quiet_rounds + 1 if not await running(stack) else 0
        await asyncio.sleep(0.05)


async def reconcile_outputs(stack, since: datetime) -> list[dict]:
    """What each reconcile orchestration started since ``since`` decided (its output)."""
    found = await stack.host.with_client(lambda client: client.get_status_by(created_time_from=since))
    return [output(s) for s in found if s.name == "reconcile_event" and s.runtime_status.value == "Completed"]


def expire_all_subscriptions(stack) -> None:
    """Make Graph forget every subscription (nothing is delivered to the app any more)."""
    for subscription in stack.graph.subscriptions():
        stack.graph.expire_subscription(subscription["id"])


def subscription_of(stack, mailbox: str) -> dict:
    return next(s for s in stack.graph.subscriptions() if s["resource"].lower() == f"users/{mailbox}/events")


async def keep_subscriptions(stack) -> dict:
    """Run the keeper's timer now and wait for its orchestration (resyncs included)."""
    from triggers.schedules import KEEPER_INSTANCE
    await asyncio.to_thread(stack.host.invoke, "keep_subscriptions")
    status = await stack.host.wait_for_instance_async(KEEPER_INSTANCE, timeout=60)
    assert status.runtime_status.value == "Completed", (status.runtime_status, status.output)
    return output(status)


def client_state(stack) -> str:
    from shared.services.subscriptions import client_state_for
    return client_state_for(stack.env["GRAPH__CLIENT_STATE_SECRET"])
