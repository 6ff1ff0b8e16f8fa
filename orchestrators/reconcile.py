"""Durable orchestrators of Outlook -> Frontdesk reconciliation and of the Graph subscriptions.

- ``reconcile_event``: one changed event. Commits what Outlook says (``reconcile_apply``), then, only if
  this run committed a change, tells people with retries: the customer's text, webhooks and (cancelled)
  Dynamics through the booking sagas' own notification activities (``notify_all``: same texts, each
  channel recorded on the booking and sent once per change); the Dynamics appointment of a move or an
  edit rewritten with what Outlook shows; the owner e-mailed when a move made bookings overlap. A
  follow-up that still fails after its retries is recorded in the output, never undoes the change.
- ``reconcile_batch``: a batch of notifications from one POST; starts each change's ``reconcile_event``.
- ``resync_mailbox``: a calendarView delta round for one mailbox, then ``reconcile_event`` for each event
  whose booking disagrees with Outlook (heals notifications that never came).
- ``resync_all``: the daily resync of every host mailbox.
- ``subscription_keeper``: the keeper's pass (create / renew / recreate / remove), then a resync of each
  mailbox whose subscription is new.
- ``subscription_lifecycle``: Graph's lifecycle events: ``reauthorizationRequired`` renews,
  ``subscriptionRemoved`` recreates and resyncs, ``missed`` resyncs.

Deterministic: time is ``context.current_utc_datetime`` (passed to activities, so a test moving the
development host's clock moves the keeper's "now"), ids come from ``context.new_uuid()`` and the inputs.
"""

from __future__ import annotations

import hashlib
from datetime import timezone

import azure.durable_functions as df

from orchestrators.reminders import follow_up
from orchestrators.saga_steps import NOTIFY_RETRY, STEP_RETRY, BackoffRetryOptions, notify_all

bp = df.Blueprint()

APPLY_RETRY = STEP_RETRY
KEEPER_RETRY = BackoffRetryOptions(5_000, 3, 2.0, 60_000)


def _now(context: df.DurableOrchestrationContext) -> str:
    moment = context.current_utc_datetime
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _child_id(parent: str, key: str) -> str:
    return f"{parent}:{hashlib.sha256(key.encode('utf-8')).hexdigest()[:16]}"


def _failure(name: str, exc: Exception) -> dict:
    return {"activity": name, "status": "failed", "reason": str(exc)[:500]}


# ---------------------------------------------------------------------- one changed event

@bp.orchestration_trigger(context_name="context")
def reconcile_event(context: df.DurableOrchestrationContext):
    """Input ``{"mailbox", "eventId", "changeType"}``; output the action taken and its follow-ups."""
    change = context.get_input()
    run_id = context.new_uuid()  # one per execution: a repeated delivery started later is another run
    outcome = yield context.call_activity_with_retry("reconcile_apply", APPLY_RETRY, {
        "mailbox": change["mailbox"], "eventId": change["eventId"], "runId": run_id, "now": _now(context)})
    action = outcome["action"]
    context.set_custom_status({"action": action, "bookingId": outcome.get("bookingId")})
    if not outcome.get("committed"):
        return outcome
    booking_id = outcome["bookingId"]
    job = {"bookingId": booking_id, "runId": run_id}
    told: dict = {}
    if action == "moved":
        told = yield from notify_all(context, booking_id, "rescheduled", {
            "sms": {"previousStart": outcome.get("previousStart")}, "webhooks": {}})
    elif action == "cancelled":
        told = yield from notify_all(context, booking_id, "cancelled", {"sms": {}, "crm": {}, "webhooks": {}})
    if action in ("moved", "cancelled"):  # reminders re-planned or stopped; a deleted visit's time offered again
        yield from follow_up(context, booking_id, action)
    follow_ups = ["reconcile_update_crm"] if action in ("moved", "edited") else []
    if action == "moved" and outcome.get("conflictsWith"):
        follow_ups.append("reconcile_email_owner")
    for name in follow_ups:
        try:
            result = yield context.call_activity_with_retry(name, NOTIFY_RETRY, job)
            told[result.get("channel", name)] = result.get("status")
        except Exception as exc:  # retries exhausted: recorded; the change itself stands
            told[name] = _failure(name, exc)["status"]
    return {**outcome, "notified": told}


@bp.orchestration_trigger(context_name="context")
def reconcile_batch(context: df.DurableOrchestrationContext):
    """Input ``{"starts": {instance id: reconcile_event input}}``: a notification batch, persisted by this
    orchestration's start so the endpoint answers at once; each change then gets its own orchestration."""
    return (yield context.call_activity_with_retry("reconcile_start_changes", APPLY_RETRY, context.get_input()))


# ---------------------------------------------------------------------- resync

@bp.orchestration_trigger(context_name="context")
def resync_mailbox(context: df.DurableOrchestrationContext):
    """Input ``{"mailbox", "reason"}``: a delta round, then one reconcile per event that disagrees."""
    job = context.get_input()
    delta = yield context.call_activity_with_retry("reconcile_resync_delta", APPLY_RETRY,
                                                   {"mailbox": job["mailbox"], "now": _now(context)})
    results = []
    if delta["reconcile"]:
        children = [context.call_sub_orchestrator("reconcile_event", {
            "mailbox": job["mailbox"], "eventId": event_id, "changeType": "resync"},
            _child_id(context.instance_id, event_id)) for event_id in delta["reconcile"]]
        try:
            results = yield context.task_all(children)
        except Exception as exc:
            results = [_failure("reconcile_event", exc)]
    return {**delta, "reason": job.get("reason"), "results": results}


def _resync_children(context: df.DurableOrchestrationContext, mailboxes: list[str], reason: str):
    return [context.call_sub_orchestrator("resync_mailbox", {"mailbox": mailbox, "reason": reason},
                                          _child_id(context.instance_id, mailbox)) for mailbox in mailboxes]


@bp.orchestration_trigger(context_name="context")
def resync_all(context: df.DurableOrchestrationContext):
    """The daily resync: every active host mailbox."""
    mailboxes = yield context.call_activity("reconcile_list_mailboxes", {})
    try:
        results = (yield context.task_all(_resync_children(context, mailboxes, "daily"))) if mailboxes else []
    except Exception as exc:
        results = [_failure("resync_mailbox", exc)]
    return {"mailboxes": len(mailboxes), "results": results}


# ---------------------------------------------------------------------- subscriptions

@bp.orchestration_trigger(context_name="context")
def subscription_keeper(context: df.DurableOrchestrationContext):
    """The keeper's pass; mailboxes subscribed afresh are resynchronised (their changes may be lost)."""
    report = yield context.call_activity_with_retry("subscriptions_keep", KEEPER_RETRY, {"now": _now(context)})
    resyncs = []
    if report["needsResync"]:
        try:
            resyncs = yield context.task_all(_resync_children(context, report["needsResync"], "subscribed"))
        except Exception as exc:
            resyncs = [_failure("resync_mailbox", exc)]
    return {**report, "resyncs": resyncs}


@bp.orchestration_trigger(context_name="context")
def subscription_lifecycle(context: df.DurableOrchestrationContext):
    """Input ``{"subscriptionId", "mailbox", "lifecycleEvent"}`` from the lifecycle endpoint."""
    job = context.get_input()
    event, mailbox = job["lifecycleEvent"], job["mailbox"]
    outcome: dict = {"lifecycleEvent": event}
    resync = event == "missed"
    if event == "reauthorizationRequired":
        renewed = yield context.call_activity_with_retry("subscriptions_renew", KEEPER_RETRY, {
            "subscriptionId": job["subscriptionId"], "now": _now(context)})
        outcome.update(renewed)
        resync = renewed["outcome"] == "recreated"
    elif event == "subscriptionRemoved":
        outcome.update((yield context.call_activity_with_retry("subscriptions_recreate", KEEPER_RETRY, {
            "mailbox": mailbox, "now": _now(context)})))
        resync = True
    if resync:
        outcome["resync"] = yield context.call_sub_orchestrator(
            "resync_mailbox", {"mailbox": mailbox, "reason": event}, _child_id(context.instance_id, mailbox))
    return outcome
