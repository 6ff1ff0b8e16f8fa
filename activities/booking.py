"""Durable activities of the booking, reschedule and cancel sagas: one per I/O step, thin on purpose.

Each activity takes the JSON its orchestrator sent (decoded by the worker), turns it into the
contract's models, calls one use case of :mod:`shared.services.booking` with the process's services,
and returns that use case's JSON-ready dict. Every input carries ``bookingId``, ``instanceId`` (the
saga's) and ``now`` (the orchestration's time), so log lines carry the ids and re-runs see the same
clock. Durable runs activities at least once; the use cases are idempotent (see their module).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import azure.durable_functions as df

bp = df.Blueprint()


@contextlib.contextmanager
def _step(payload: dict[str, Any]) -> Iterator[Any]:
    """Start-up on first use, correlation ids on every log line, and the services to work with."""
    from shared.logs import log_context
    from shared.runtime import ensure_started
    from shared.services.container import get_services
    ensure_started()
    with log_context(booking_id=payload.get("bookingId"), instance_id=payload.get("instanceId")):
        yield get_services()


def _now(payload: dict[str, Any]) -> datetime:
    from shared.services.booking import parse_instant
    return parse_instant(payload["now"])


def _plan(value: dict[str, Any] | None):
    from shared.services.booking import Plan
    return Plan.from_dict(value) if value else None


# ---------------------------------------------------------------- booking saga
# Trigger parameters are annotated ``dict``, not ``dict[str, Any]``: the Python worker refuses to load a
# function whose binding parameter has a builtin generic annotation (tests/worker checks this).

@bp.activity_trigger(input_name="payload")
async def booking_route(payload: dict) -> dict[str, Any]:
    """Choose the host from live availability (or find the booking already made)."""
    from shared.services import booking
    from shared.services.contracts import SagaInput
    with _step(payload) as services:
        return await booking.route(services, SagaInput.model_validate(payload["saga"]), _now(payload))


@bp.activity_trigger(input_name="payload")
async def booking_place_hold(payload: dict) -> dict[str, Any]:
    """Held booking row, claim, tentative Outlook event, calendar re-read."""
    from shared.services import booking
    from shared.services.contracts import SagaInput
    with _step(payload) as services:
        return await booking.place_hold(services, SagaInput.model_validate(payload["saga"]), _plan(payload["plan"]),
                                        payload.get("routing") or {}, _now(payload), int(payload["holdSeconds"]))


@bp.activity_trigger(input_name="payload")
async def booking_confirm(payload: dict) -> dict[str, Any]:
    """Claims become the booking's, the Outlook event busy with the customer's details."""
    from shared.services import booking
    with _step(payload) as services:
        return await booking.confirm(services, payload["bookingId"], _now(payload))


@bp.activity_trigger(input_name="payload")
async def booking_compensate(payload: dict) -> dict[str, Any]:
    """Release the hold: booking ended, claims released, hold event deleted."""
    from shared.services import booking
    with _step(payload) as services:
        return await booking.compensate(services, payload["bookingId"], _plan(payload.get("plan")),
                                        payload["outcome"], payload.get("reason"), _now(payload))


# ---------------------------------------------------------------- notifications (one activity per channel)

async def _notify(channel: str, payload: dict[str, Any]) -> dict[str, Any]:
    from shared.services import booking
    previous = payload.get("previousStart")
    with _step(payload) as services:
        return await booking.notify(services, channel, payload["bookingId"], payload["change"],
                                    payload["instanceId"], booking.parse_instant(previous) if previous else None,
                                    suppress=payload.get("suppress"), occurred_at=_now(payload))


@bp.activity_trigger(input_name="payload")
async def booking_notify_sms(payload: dict) -> dict[str, Any]:
    """Text the customer (date, time in their zone, business, address, how to change it)."""
    return await _notify("sms", payload)


@bp.activity_trigger(input_name="payload")
async def booking_notify_email(payload: dict) -> dict[str, Any]:
    """E-mail the host and the owner every detail of a new booking."""
    return await _notify("email", payload)


@bp.activity_trigger(input_name="payload")
async def booking_notify_crm(payload: dict) -> dict[str, Any]:
    """Write (or cancel) the Dynamics 365 appointment."""
    return await _notify("crm", payload)


@bp.activity_trigger(input_name="payload")
async def booking_notify_webhooks(payload: dict) -> dict[str, Any]:
    """POST the signed booking event to the configured webhooks."""
    return await _notify("webhooks", payload)


@bp.activity_trigger(input_name="payload")
async def booking_finish(payload: dict) -> dict[str, Any]:
    """The booking as the saga ends, and its telemetry event."""
    from shared.services import booking
    with _step(payload) as services:
        return await booking.finish(services, payload["bookingId"], payload["outcome"], payload.get("channel"))


# ---------------------------------------------------------------- reschedule and cancel sagas

@bp.activity_trigger(input_name="payload")
async def booking_prepare_reschedule(payload: dict) -> dict[str, Any]:
    """Check the new time and choose its host, changing nothing."""
    from shared.services import booking
    from shared.services.contracts import RescheduleInput
    with _step(payload) as services:
        return await booking.prepare_reschedule(services, RescheduleInput.model_validate(payload["request"]),
                                                _now(payload))


@bp.activity_trigger(input_name="payload")
async def booking_apply_reschedule(payload: dict) -> dict[str, Any]:
    """Claim the new time, then move the booking and its Outlook event."""
    from shared.services import booking
    with _step(payload) as services:
        return await booking.apply_reschedule(services, payload["bookingId"], _plan(payload["old"]),
                                              _plan(payload["new"]), payload.get("routing"), _now(payload),
                                              payload.get("oldEvent"))


@bp.activity_trigger(input_name="payload")
async def booking_apply_cancel(payload: dict) -> dict[str, Any]:
    """Cancel the booking, release its time, delete its Outlook event."""
    from shared.services import booking
    from shared.services.contracts import CancelInput
    with _step(payload) as services:
        return await booking.apply_cancel(services, CancelInput.model_validate(payload["request"]), _now(payload))
