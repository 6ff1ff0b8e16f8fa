"""Durable orchestrators of the reminders before a visit and of the freed-slot offers to the waitlist.

``booking_reminders`` (instance ``reminders:<booking id>``, one per booking; started or told by the
``booking_follow_up`` activity when a saga or reconciliation confirms, moves or cancels the booking):

1. ``reminders_plan`` re-reads the booking and names the next reminder (none: the booking is cancelled,
   gone, past, or has no reminder left; the orchestration ends);
2. a durable timer at that moment races the ``booking_changed`` event. Timers are at most 5 days here and
   simply re-plan when they fire early (a chain, within Durable's 6-day limit on Azure Storage);
3. the timer: ``reminders_send`` re-reads the booking and texts once (its key makes a re-run harmless);
   the event: the timer is dropped;
4. ``continue_as_new`` with the same input: the next generation plans from the booking as it now stands.

``waitlist_offer`` (instance ``waitlist-offer:<cancelled booking id>``): a booking was cancelled, so its time
is offered by text to matching waitlisted customers (``waitlist_make_offers``), waiting first for quiet
hours to end; their YES replies arrive as ``waitlist_accept`` events (raised by
``shared.services.waitlist.handle_waitlist_reply``) and are taken in order of arrival: the first books
through the booking saga (or moves the customer's later booking through the reschedule saga), a sub-
orchestration that claims the time like every booking, so nobody else can have it; if that booking fails
(the time went another way) the next YES gets its chance. When the offer ends (booked or expired after
30 minutes) ``waitlist_close_offers`` tells everyone else it was taken or lets the offers lapse.

Deterministic: time is ``context.current_utc_datetime``; the only I/O is activities and sub-orchestrations.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import azure.durable_functions as df

from orchestrators.saga_steps import NOTIFY_RETRY, STEP_RETRY

bp = df.Blueprint()

CHANGED_EVENT = "booking_changed"  # shared.services.reminders.CHANGED_EVENT
ACCEPT_EVENT = "waitlist_accept"  # shared.services.waitlist.ACCEPT_EVENT
LONGEST_TIMER = timedelta(days=5)


def _now(context: df.DurableOrchestrationContext) -> datetime:
    moment = context.current_utc_datetime
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def _decoded(value):
    """An external event's payload (the SDK may hand it over as JSON text, even twice encoded)."""
    for _ in range(2):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                break
    return value


def follow_up(context: df.DurableOrchestrationContext, booking_id: str, change: str):
    """After a booking was confirmed, moved or cancelled: keep its reminders in step and, when cancelled,
    offer its time to the waitlist (``booking_follow_up``). Retried; a failure never undoes the change."""
    try:
        result = yield context.call_activity_with_retry("booking_follow_up", NOTIFY_RETRY, {
            "bookingId": booking_id, "change": change, "instanceId": context.instance_id})
    except Exception:  # noqa: BLE001 - reminders and offers are a courtesy; the booking change stands
        result = {"failed": True}
    return result


@bp.orchestration_trigger(context_name="context")
def booking_reminders(context: df.DurableOrchestrationContext):
    """Input ``{"bookingId"}``; texts the booking's reminders as they fall due, re-planning on every change."""
    job = context.get_input()
    booking_id = job["bookingId"]
    now = _now(context)
    plan = yield context.call_activity_with_retry("reminders_plan", STEP_RETRY,
                                                  {"bookingId": booking_id, "now": now.isoformat()})
    upcoming = plan.get("next")
    if not upcoming:
        context.set_custom_status({"bookingId": booking_id, "next": None, "why": plan.get("why")})
        return {"bookingId": booking_id, "outcome": "done", "why": plan.get("why")}
    due = datetime.fromisoformat(upcoming["at"])
    wake = min(due, now + LONGEST_TIMER)
    context.set_custom_status({"bookingId": booking_id, "next": upcoming, "wakeAt": wake.isoformat()})
    timer = context.create_timer(wake)
    changed = context.wait_for_external_event(CHANGED_EVENT)
    winner = yield context.task_any([timer, changed])
    if winner == changed:
        timer.cancel()
    elif wake >= due:
        try:
            yield context.call_activity_with_retry("reminders_send", NOTIFY_RETRY, {
                "bookingId": booking_id, "kind": upcoming["kind"], "start": upcoming["start"],
                "now": _now(context).isoformat()})
        except Exception:  # noqa: BLE001 - a reminder that could not be sent must not stop the next ones
            pass
    context.continue_as_new(job)


@bp.orchestration_trigger(context_name="context")
def waitlist_offer(context: df.DurableOrchestrationContext):
    """Input ``{"bookingId"}`` (the cancelled booking); output who got the freed time, if anyone."""
    job = context.get_input()
    booking_id = job["bookingId"]
    offer_id = context.instance_id
    first = yield context.call_activity_with_retry("waitlist_prepare_offer", STEP_RETRY, {
        "bookingId": booking_id, "offerId": offer_id, "now": _now(context).isoformat()})
    if first.get("waitUntil"):  # quiet hours on the business's clock: offer when they end
        context.set_custom_status({"stage": "waiting", "until": first["waitUntil"]})
        yield context.create_timer(datetime.fromisoformat(first["waitUntil"]))
    made = yield context.call_activity_with_retry("waitlist_make_offers", STEP_RETRY, {
        "bookingId": booking_id, "offerId": offer_id, "now": _now(context).isoformat()})
    if not made.get("offered"):
        context.set_custom_status({"stage": "done", "outcome": made.get("why")})
        return {"offerId": offer_id, "outcome": "none", "why": made.get("why")}
    expires_at = datetime.fromisoformat(made["expiresAt"])
    context.set_custom_status({"stage": "offered", "offered": made["offered"], "expiresAt": made["expiresAt"]})
    timer = context.create_timer(expires_at)
    winner_entry = None
    tried: list[str] = []
    while winner_entry is None:
        accept = context.wait_for_external_event(ACCEPT_EVENT)
        done = yield context.task_any([accept, timer])
        if done == timer:
            break
        reply = _decoded(accept.result) or {}
        entry_id = reply.get("entryId")
        if not entry_id or entry_id in tried:
            continue
        tried.append(entry_id)
        take = yield context.call_activity_with_retry("waitlist_take_input", STEP_RETRY, {
            "offerId": offer_id, "entryId": entry_id, "now": _now(context).isoformat()})
        if not take.get("saga"):
            continue
        try:
            result = yield context.call_sub_orchestrator(take["saga"], take["input"], take["instanceId"])
        except Exception:  # noqa: BLE001 - a failed saga is a lost chance, not a lost offer
            result = {"outcome": "failed"}
        result = _decoded(result) or {}
        if result.get("outcome") in ("confirmed", "rescheduled"):
            winner_entry = entry_id
    if winner_entry is not None:
        timer.cancel()
    closed = yield context.call_activity_with_retry("waitlist_close_offers", NOTIFY_RETRY, {
        "offerId": offer_id, "winnerEntryId": winner_entry, "now": _now(context).isoformat()})
    outcome = "taken" if winner_entry else "expired"
    context.set_custom_status({"stage": "done", "outcome": outcome})
    return {"offerId": offer_id, "outcome": outcome, "winnerEntryId": winner_entry, "closed": closed}
