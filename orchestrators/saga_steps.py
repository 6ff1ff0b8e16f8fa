"""What the booking, reschedule and cancel sagas share: retry policies, custom status, fan-out, the ending.

Orchestrator code is replayed, so everything here is deterministic: time comes from
``context.current_utc_datetime``, and the only I/O is scheduling activities. The helpers that schedule
work are generators, used with ``yield from`` inside an orchestrator.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.Task import TaskState

from shared.services.contracts import SagaResult, SagaStatus

HOLD_SECONDS_IMMEDIATE = 120  # a hold confirmed straight away only has to outlive the confirm step
HOLD_SECONDS_AWAIT = 300  # voice: long enough to read the booking back and hear "yes"
REASON_LIMIT = 300  # failure texts kept in results and custom status

NOTIFY_ACTIVITIES = {"sms": "booking_notify_sms", "email": "booking_notify_email", "crm": "booking_notify_crm",
                     "webhooks": "booking_notify_webhooks"}


class BackoffRetryOptions(df.RetryOptions):
    """``RetryOptions`` with the Durable extension's backoff fields (the Python SDK only sends the first two).

    The extension schedules the retries (a durable timer per failed attempt), so they survive restarts:
    delay ``first * backoff ** (attempt - 1)`` capped at ``max_interval``.
    """

    def __init__(self, first_ms: int, attempts: int, backoff: float = 2.0, max_interval_ms: int | None = None):
        super().__init__(first_ms, attempts)
        self.extra: dict[str, Any] = {"backoffCoefficient": backoff}
        if max_interval_ms is not None:
            self.extra["maxRetryIntervalInMilliseconds"] = max_interval_ms

    def to_json(self) -> dict[str, Any]:
        return {**super().to_json(), **self.extra}


# Notifications: 5 s, 10 s, 20 s ... capped at 5 min, 8 attempts: about 12 minutes of outage bridged.
NOTIFY_RETRY = BackoffRetryOptions(5_000, 8, 2.0, 300_000)
# Undoing a hold or applying a change must finish; a short outage should not leave half a change.
STEP_RETRY = BackoffRetryOptions(2_000, 5, 2.0, 60_000)


def hold_seconds_for(confirmation: str, requested: int | None) -> int:
    """How long a hold lives: the request's choice, else the default for its confirmation mode."""
    if requested:
        return requested
    return HOLD_SECONDS_AWAIT if confirmation == "await" else HOLD_SECONDS_IMMEDIATE


def step_input(context: df.DurableOrchestrationContext, booking_id: str, **fields: Any) -> dict[str, Any]:
    """An activity's input: the ids for its log lines, the orchestration's clock, and its own fields."""
    return {"bookingId": booking_id, "instanceId": context.instance_id,
            "now": context.current_utc_datetime.isoformat(), **fields}


def set_stage(context: df.DurableOrchestrationContext, stage: str, booking_id: str, *, host_id: str | None = None,
              hold_expires_at: datetime | None = None, outcome: str | None = None) -> None:
    """Publish where the saga is (the API and the voice turn poll it)."""
    status = SagaStatus(stage=stage, booking_id=booking_id, host_id=host_id, hold_expires_at=hold_expires_at,
                        outcome=outcome)
    context.set_custom_status(status.model_dump(mode="json"))


def failure_reason(what: str, error: BaseException) -> str:
    """A short reason for a step that failed (the activity's error, trimmed)."""
    text = " ".join(str(error).split())
    return f"{what}: {text}"[:REASON_LIMIT]


def is_yes(answer: Any) -> bool:
    """The confirm event's verdict; it arrives as JSON text (the SDK double-encodes), a dict or a bool."""
    if isinstance(answer, str):
        try:
            answer = json.loads(answer)
        except ValueError:
            return answer.strip().lower() in ("yes", "true", "confirmed")
        if isinstance(answer, str):
            return is_yes(answer)
    if isinstance(answer, dict):
        return answer.get("confirmed") is True
    return answer is True


def notify_all(context: df.DurableOrchestrationContext, booking_id: str, change: str,
               channels: dict[str, dict[str, Any]]):
    """Run the channels' notification activities in parallel, each retried on its own; channel -> outcome.

    ``task_all`` would stop at the first channel that gives up (and an orchestration that ends drops
    the others' pending retries), so the tasks are awaited one by one as they finish with ``task_any``:
    every channel runs to its own end. A channel that exhausted its retries is ``failed`` (its attempts
    and last error are recorded on the booking by the activity); the booking itself stands.
    """
    tasks = {}
    for channel, extra in channels.items():
        task = context.call_activity_with_retry(NOTIFY_ACTIVITIES[channel], NOTIFY_RETRY,
                                                step_input(context, booking_id, change=change, **extra))
        tasks[task] = channel
    outcomes: dict[str, str] = {}
    pending = list(tasks)
    while pending:
        done = yield context.task_any(pending)
        pending = [task for task in pending if task is not done]
        result = done.result if done.state is TaskState.SUCCEEDED else None
        outcomes[tasks[done]] = result.get("status", "sent") if isinstance(result, dict) else "failed"
    return outcomes


def end(context: df.DurableOrchestrationContext, booking_id: str, answer: dict[str, Any], *,
        channel: str | None = None, read_back: bool = True):
    """Finish the saga: read the booking as it stands (with its notification outcomes), record the
    telemetry event, publish ``done`` and return the :class:`SagaResult` JSON."""
    outcome = answer["outcome"]
    booking = answer.get("booking")
    if read_back:
        finished = yield context.call_activity("booking_finish", step_input(context, booking_id, outcome=outcome,
                                                                            channel=channel))
        booking = finished.get("booking") or booking
    result = SagaResult(outcome=outcome, booking_id=booking_id, booking=booking, conflict=answer.get("conflict"),
                        reason=answer.get("reason"))
    set_stage(context, "done", booking_id, host_id=(booking or {}).get("hostId"), outcome=outcome)
    return result.model_dump(mode="json")


def compensate_and_end(context: df.DurableOrchestrationContext, booking_id: str, plan: dict | None,
                       hold_outcome: str, reason: str, saga_outcome: str, *, channel: str | None,
                       host_id: str | None = None, conflict: dict | None = None):
    """Undo the hold (retried until it is done), then end with ``saga_outcome``."""
    set_stage(context, "compensating", booking_id, host_id=host_id)
    try:
        undone = yield context.call_activity_with_retry(
            "booking_compensate", STEP_RETRY,
            step_input(context, booking_id, plan=plan, outcome=hold_outcome, reason=reason))
    except Exception as error:  # noqa: BLE001 - the hold lapses by its expiry even if undoing it keeps failing
        undone = {"outcome": "failed", "reason": failure_reason("could not undo the hold", error)}
    answer = {"outcome": saga_outcome, "reason": reason, "conflict": conflict, "booking": undone.get("booking")}
    return (yield from end(context, booking_id, answer, channel=channel))
