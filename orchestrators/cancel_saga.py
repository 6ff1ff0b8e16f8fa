"""The cancel saga: cancel a booking, free its time, and tell everyone who needs to know.

1. ``compensating``: ``booking_apply_cancel`` marks the booking cancelled, releases its claims and
   deletes its Outlook event (each step safe to repeat; retried until done);
2. ``notifying`` (only for a booking that was confirmed: a hold nobody confirmed was never announced):
   the customer's text (unless ``notifyCustomer`` is false), the Dynamics appointment set Canceled,
   webhooks (``booking.cancelled``), each retried on its own;
3. ``done``: :class:`SagaResult` ``cancelled`` with the booking.

A booking saga still waiting for its customer's confirmation finds the booking cancelled and ends.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.saga_steps import STEP_RETRY, end, failure_reason, notify_all, set_stage, step_input
from orchestrators.reminders import follow_up
from shared.services.contracts import CancelInput

bp = df.Blueprint()

NOT_TOLD = "the customer was not to be told (notifyCustomer false)"


@bp.orchestration_trigger(context_name="context")
def cancel_saga(context: df.DurableOrchestrationContext):
    request = CancelInput.model_validate(context.get_input())
    booking_id = request.booking_id

    set_stage(context, "compensating", booking_id)
    try:
        cancelled = yield context.call_activity_with_retry("booking_apply_cancel", STEP_RETRY, step_input(
            context, booking_id, request=request.model_dump(mode="json")))
    except Exception as error:  # noqa: BLE001 - reported as failed; the booking row says where it stands
        return (yield from end(context, booking_id, {"outcome": "failed",
                                                     "reason": failure_reason("could not cancel the booking", error)}))
    if cancelled["outcome"] != "cancelled":
        return (yield from end(context, booking_id, cancelled, read_back=False))

    if cancelled.get("wasConfirmed"):
        set_stage(context, "notifying", booking_id, host_id=(cancelled.get("booking") or {}).get("hostId"))
        sms = {} if request.notify_customer else {"suppress": NOT_TOLD}
        yield from notify_all(context, booking_id, "cancelled", {"sms": sms, "crm": {}, "webhooks": {}})
        yield from follow_up(context, booking_id, "cancelled")  # reminders stopped, the time offered again
    return (yield from end(context, booking_id, {"outcome": "cancelled", "booking": cancelled["booking"]}))
