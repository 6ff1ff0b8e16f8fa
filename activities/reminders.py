"""Durable activities of the reminders and of the waitlist offers: thin wrappers over their services.

- ``booking_follow_up`` (with a durable client): after a saga or reconciliation confirmed, moved or cancelled
  a booking, keeps its reminder orchestration in step (:func:`shared.services.reminders.follow_booking`) and,
  for a cancellation, starts the offer of the freed time to the waitlist.
- ``reminders_plan`` / ``reminders_send``: the next reminder of a booking; text one (at most once).
- ``waitlist_prepare_offer`` / ``waitlist_make_offers`` / ``waitlist_take_input`` / ``waitlist_close_offers``:
  the steps of ``waitlist_offer`` (see :mod:`shared.services.waitlist`).

Inputs carry ``now``, the orchestration's time, so re-runs decide the same way.
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
    from shared.logs import log_context
    from shared.runtime import ensure_started
    from shared.services.container import get_services
    ensure_started()
    with log_context(booking_id=payload.get("bookingId"), instance_id=payload.get("offerId")):
        yield get_services()


def _instant(value: str) -> datetime:
    from shared.services.booking import parse_instant
    return parse_instant(value)


@bp.activity_trigger(input_name="payload")
@bp.durable_client_input(client_name="client")
async def booking_follow_up(payload: dict, client: df.DurableOrchestrationClient) -> dict:
    """Reminders started, re-planned or stopped; a cancelled booking's time offered to the waitlist."""
    from shared.services import reminders, waitlist
    booking_id, change = payload["bookingId"], payload["change"]
    with _step(payload):
        done = {"reminders": await reminders.follow_booking(client, booking_id, change)}
        if change == "cancelled":
            done["waitlist"] = await waitlist.offer_freed_slot(client, booking_id)
        return done


@bp.activity_trigger(input_name="payload")
async def reminders_plan(payload: dict) -> dict:
    """The booking's next reminder as it stands now."""
    from shared.services import reminders
    with _step(payload) as services:
        return await reminders.plan(services, payload["bookingId"], _instant(payload["now"]))


@bp.activity_trigger(input_name="payload")
async def reminders_send(payload: dict) -> dict:
    """Text one reminder, unless the booking as it stands says not to (once, whatever the re-runs)."""
    from shared.services import reminders
    with _step(payload) as services:
        return await reminders.send_reminder(services, payload["bookingId"], payload["kind"],
                                             _instant(payload["start"]), _instant(payload["now"]))


@bp.activity_trigger(input_name="payload")
async def waitlist_prepare_offer(payload: dict) -> dict:
    """When to offer: now, or when quiet hours end."""
    from shared.services import waitlist
    with _step(payload) as services:
        return await waitlist.prepare_offer(services, payload["bookingId"], _instant(payload["now"]))


@bp.activity_trigger(input_name="payload")
async def waitlist_make_offers(payload: dict) -> dict:
    """Pick the matching waitlisted customers and text them the freed time."""
    from shared.services import waitlist
    with _step(payload) as services:
        return await waitlist.make_offers(services, payload["bookingId"], payload["offerId"],
                                          _instant(payload["now"]))


@bp.activity_trigger(input_name="payload")
async def waitlist_take_input(payload: dict) -> dict:
    """The booking (or reschedule) saga that gives the freed time to the customer who said YES."""
    from shared.services import waitlist
    with _step(payload) as services:
        return await waitlist.take_input(services, payload["offerId"], payload["entryId"], _instant(payload["now"]))


@bp.activity_trigger(input_name="payload")
async def waitlist_close_offers(payload: dict) -> dict:
    """The offer ends: the winner leaves the waitlist, the others hear the time was taken."""
    from shared.services import waitlist
    with _step(payload) as services:
        return await waitlist.close_offers(services, payload["offerId"], payload.get("winnerEntryId"),
                                           _instant(payload["now"]))
