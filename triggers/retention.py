"""The hourly retention purge (shared/services/retention.py): old rows and Durable history, a bounded amount per run.

A timer trigger runs on one instance at a time (the Functions host holds a lease per timer), and the
purge is idempotent with a budget per run, so a run cut short or overlapping a redeploy is simply
continued by the next one.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared.runtime import ensure_started

bp = df.Blueprint()

RETENTION_SCHEDULE = "0 15 * * * *"  # hourly at :15, off the subscription keeper's :00/:30


@bp.timer_trigger(schedule=RETENTION_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def purge_expired_records(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Delete claims, calls, idempotency records, stale subscriptions, bookings and Durable history past retention."""
    ensure_started()
    from shared.services.container import get_services
    from shared.services.retention import run_retention
    await run_retention(get_services(), client)
