"""Durable activities of reconciliation and subscription keeping: thin wrappers over ``shared.services``.

Each takes a JSON input (camelCase, instants as ISO 8601 with offset: the orchestration's own clock, so
tests can move time) and returns JSON. All are idempotent (Durable runs activities at least once); see
:mod:`shared.services.reconcile` and :mod:`shared.services.subscriptions` for why each one is.
"""

from __future__ import annotations

from datetime import datetime

import azure.durable_functions as df

bp = df.Blueprint()


def _services():
    from shared.runtime import ensure_started
    from shared.services.container import get_services
    ensure_started()
    return get_services()


def _instant(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# ---------------------------------------------------------------------- one changed event

@bp.activity_trigger(input_name="change")
async def reconcile_apply(change: dict) -> dict:
    """Read the event and its booking and commit what Outlook says (claims, booking)."""
    from shared.services.reconcile import apply_outlook_change
    return await apply_outlook_change(_services(), change["mailbox"], change["eventId"], run_id=change["runId"],
                                      now=_instant(change["now"]))


@bp.activity_trigger(input_name="job")
async def reconcile_update_crm(job: dict) -> dict:
    """Rewrite the Dynamics appointment of a booking moved or edited in Outlook."""
    from shared.services.reconcile import update_crm
    return await update_crm(_services(), job["bookingId"], job["runId"])


@bp.activity_trigger(input_name="job")
async def reconcile_email_owner(job: dict) -> dict:
    """E-mail the host and the owner that a move in Outlook made bookings overlap."""
    from shared.services.reconcile import email_owner_about_conflict
    return await email_owner_about_conflict(_services(), job["bookingId"], job["runId"])


@bp.activity_trigger(input_name="batch")
@bp.durable_client_input(client_name="client")
async def reconcile_start_changes(batch: dict, client: df.DurableOrchestrationClient) -> dict:
    """Start the reconcile orchestration of every change of a notification batch (repeats are duplicates)."""
    from shared.errors import TransientError
    from shared.runtime import ensure_started
    from shared.services.reconcile import start_reconciles
    ensure_started()
    counts = await start_reconciles(client, batch["starts"])
    if counts["failed"]:  # the retry starts the rest; those already started count as duplicates then
        raise TransientError(f"{counts['failed']} reconcile orchestration(s) could not be started", service="durable")
    return counts


# ---------------------------------------------------------------------- resync

@bp.activity_trigger(input_name="job")
async def reconcile_resync_delta(job: dict) -> dict:
    """One calendarView delta round for a mailbox; the event ids that need reconciling."""
    from shared.services.reconcile import resync_mailbox
    return await resync_mailbox(_services(), job["mailbox"], _instant(job["now"]))


@bp.activity_trigger(input_name="job")
async def reconcile_list_mailboxes(job: dict) -> list:
    from shared.services.reconcile import known_mailboxes
    return known_mailboxes(_services())


# ---------------------------------------------------------------------- subscriptions

@bp.activity_trigger(input_name="job")
async def subscriptions_keep(job: dict) -> dict:
    """The keeper's pass over every host mailbox (create, renew, recreate, remove)."""
    from shared.services.subscriptions import SubscriptionKeeper
    report = await SubscriptionKeeper(_services()).keep(_instant(job["now"]))
    return report.to_dict()


@bp.activity_trigger(input_name="job")
async def subscriptions_renew(job: dict) -> dict:
    """``reauthorizationRequired``: renew one subscription (recreated when Graph no longer has it)."""
    from shared.services.subscriptions import SubscriptionKeeper
    outcome = await SubscriptionKeeper(_services()).renew(job["subscriptionId"], _instant(job["now"]))
    return {"outcome": outcome}


@bp.activity_trigger(input_name="job")
async def subscriptions_recreate(job: dict) -> dict:
    """``subscriptionRemoved``: subscribe the mailbox again."""
    from shared.services.subscriptions import SubscriptionKeeper
    created = await SubscriptionKeeper(_services()).recreate(job["mailbox"], _instant(job["now"]))
    return {"subscriptionId": created.id if created else None}
