"""The reschedule saga: move a confirmed booking to a new time (and maybe another host), or leave it be.

1. ``routing``: ``booking_prepare_reschedule`` checks the new time against live availability (the
   booking's own time and event do not count against it) and keeps the current host when it is free;
2. ``holding``: ``booking_apply_reschedule`` claims the new time FIRST (``ClaimStore.move``), so when
   it is taken the old booking stays exactly as it was (``conflict``); then it moves the booking and
   its Outlook event (a new event in the new host's calendar when the host changes);
3. ``notifying``: the customer's text with the new time, the Dynamics appointment rewritten, webhooks
   (``booking.rescheduled``), each retried on its own;
4. ``done``: :class:`SagaResult` ``rescheduled`` with the booking.

The API chooses the instance id (one per requested move); the saga's instance id is also the change
id that keeps webhook deliveries of this move recognisable on retries.
"""

from __future__ import annotations

import azure.durable_functions as df

from orchestrators.saga_steps import STEP_RETRY, end, failure_reason, notify_all, set_stage, step_input
from orchestrators.reminders import follow_up
from shared.services.contracts import RescheduleInput

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context")
def reschedule_saga(context: df.DurableOrchestrationContext):
    request = RescheduleInput.model_validate(context.get_input())
    booking_id = request.booking_id

    set_stage(context, "routing", booking_id)
    prepared = yield context.call_activity("booking_prepare_reschedule", step_input(
        context, booking_id, request=request.model_dump(mode="json")))
    if prepared["outcome"] == "unchanged":
        return (yield from end(context, booking_id, {"outcome": "rescheduled", "booking": prepared["booking"]},
                               read_back=False))
    if prepared["outcome"] != "ready":
        return (yield from end(context, booking_id, prepared, read_back=False))
    old, new = prepared["old"], prepared["new"]

    set_stage(context, "holding", booking_id, host_id=new["hostId"])
    try:
        moved = yield context.call_activity_with_retry("booking_apply_reschedule", STEP_RETRY, step_input(
            context, booking_id, old=old, new=new, routing=prepared.get("routing"), oldEvent=prepared.get("oldEvent")))
    except Exception as error:  # noqa: BLE001 - reported as failed; the booking row says where it stands
        return (yield from end(context, booking_id, {"outcome": "failed",
                                                     "reason": failure_reason("could not move the booking", error)}))
    if moved["outcome"] != "rescheduled":
        return (yield from end(context, booking_id, moved, read_back=moved["outcome"] == "conflict"))

    set_stage(context, "notifying", booking_id, host_id=new["hostId"])
    yield from notify_all(context, booking_id, "rescheduled",
                          {"sms": {"previousStart": old["start"]}, "crm": {}, "webhooks": {}})
    yield from follow_up(context, booking_id, "rescheduled")  # reminders re-planned for the new time
    return (yield from end(context, booking_id, {"outcome": "rescheduled", "booking": moved["booking"]}))
