"""The booking saga: route -> hold -> (await the customer's yes, racing a timer) -> confirm -> notify.

Instance id = booking id (``booking_id_for(client, idempotency key)``), so a retried request joins the
same saga and a booking is never made twice. Steps (custom status :class:`SagaStatus` at each):

1. ``routing``: ``booking_route`` picks the host from live availability (or finds the booking already
   made, whose state is then the answer);
2. ``holding``: ``booking_place_hold`` writes the held booking, claims the time, puts a tentative event
   in Outlook and re-reads the calendar. A lost claim or someone booking over it is a ``conflict``;
   an error (Graph still failing after the adapter's retries) compensates;
3. ``held`` (``confirmation == "await"``): wait for the ``confirm`` event racing a durable timer at
   the hold's expiry; "no" compensates as ``declined``, the timer as ``expired``;
4. ``confirming``: ``booking_confirm`` turns the hold into the booking; failure compensates;
5. ``notifying``: SMS, owner e-mail, Dynamics appointment and webhooks in parallel, each retried on
   its own; none of them can undo the booking (their outcomes are recorded on it);
6. ``done``: :class:`SagaResult` with the booking as it stands.
"""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

from orchestrators.saga_steps import (compensate_and_end, end, failure_reason, hold_seconds_for, is_yes, notify_all,
                                      set_stage, step_input)
from orchestrators.reminders import follow_up
from shared.services.contracts import CONFIRM_EVENT, SagaInput

bp = df.Blueprint()

NOTIFY_ON_CREATE = {"sms": {}, "email": {}, "crm": {}, "webhooks": {}}


@bp.orchestration_trigger(context_name="context")
def booking_saga(context: df.DurableOrchestrationContext):
    saga = SagaInput.model_validate(context.get_input())
    booking_id, request = saga.booking_id, saga.request
    channel = request.context.channel

    set_stage(context, "routing", booking_id)
    routed = yield context.call_activity("booking_route", step_input(context, booking_id,
                                                                     saga=saga.model_dump(mode="json")))
    if routed["outcome"] == "existing":
        return (yield from end(context, booking_id, routed["answer"], read_back=False))
    if routed["outcome"] != "routed":
        return (yield from end(context, booking_id, routed, channel=channel))
    host_id, plan = routed["hostId"], routed["plan"]

    set_stage(context, "holding", booking_id, host_id=host_id)
    try:
        held = yield context.call_activity("booking_place_hold", step_input(
            context, booking_id, saga=saga.model_dump(mode="json"), plan=plan, routing=routed["routing"],
            holdSeconds=hold_seconds_for(request.confirmation, request.hold_seconds)))
    except Exception as error:  # noqa: BLE001 - any failed step is undone, whatever the cause
        return (yield from compensate_and_end(context, booking_id, plan, "failed",
                                              failure_reason("could not hold the time", error), "failed",
                                              channel=channel, host_id=host_id))
    if held["outcome"] == "existing":
        return (yield from end(context, booking_id, held["answer"], read_back=False))
    if held["outcome"] != "held":
        return (yield from end(context, booking_id, held, channel=channel))

    if request.confirmation == "await":
        expires_at = datetime.fromisoformat(held["holdExpiresAt"])
        set_stage(context, "held", booking_id, host_id=host_id, hold_expires_at=expires_at)
        timeout = context.create_timer(expires_at)
        answer = context.wait_for_external_event(CONFIRM_EVENT)
        winner = yield context.task_any([answer, timeout])
        if winner == answer:
            timeout.cancel()
            if not is_yes(answer.result):
                return (yield from compensate_and_end(context, booking_id, plan, "cancelled", "declined by the customer",
                                                      "declined", channel=channel, host_id=host_id))
        else:
            return (yield from compensate_and_end(context, booking_id, plan, "expired",
                                                  "the hold expired before it was confirmed", "expired",
                                                  channel=channel, host_id=host_id))

    set_stage(context, "confirming", booking_id, host_id=host_id)
    try:
        confirmed = yield context.call_activity("booking_confirm", step_input(context, booking_id))
    except Exception as error:  # noqa: BLE001
        return (yield from compensate_and_end(context, booking_id, plan, "failed",
                                              failure_reason("could not confirm the booking", error), "failed",
                                              channel=channel, host_id=host_id))
    if confirmed["outcome"] != "confirmed":
        return (yield from end(context, booking_id, confirmed, channel=channel))

    set_stage(context, "notifying", booking_id, host_id=host_id)
    yield from notify_all(context, booking_id, "created", NOTIFY_ON_CREATE)
    yield from follow_up(context, booking_id, "confirmed")  # reminders before the visit
    return (yield from end(context, booking_id, {"outcome": "confirmed", "booking": confirmed["booking"]},
                           channel=channel))
