"""Timer functions: the Graph subscription keeper (every 30 minutes) and the daily calendar resync.

Each only starts an orchestration with a well-known instance id, so a run that overlaps the previous
one (a slow Graph, a host restart firing a past-due timer) finds it still running and leaves it be.
"""

from __future__ import annotations

from datetime import datetime, timezone

import azure.durable_functions as df
import azure.functions as func

from shared import clock
from shared.logs import get_logger
from shared.runtime import ensure_started

bp = df.Blueprint()
log = get_logger(__name__)

KEEPER_INSTANCE = "subscription-keeper"
KEEPER_SCHEDULE = "0 */30 * * * *"  # Outlook subscriptions live ~3 days; renewal starts 36 h before the end
RESYNC_SCHEDULE = "0 30 3 * * *"  # 03:30 UTC, out of business hours in the Americas and Europe


def resync_instance_id(moment: datetime) -> str:
    return f"resync-daily-{moment.astimezone(timezone.utc):%Y%m%d}"


async def _start_singleton(client: df.DurableOrchestrationClient, name: str, instance_id: str) -> None:
    from shared.services.reconcile import start_once
    outcome = await start_once(client, name, instance_id, {})
    if outcome == "duplicate":
        log.info("%s is still running; not starting another", instance_id)
    elif outcome == "failed":
        raise RuntimeError(f"could not start {name}")  # the host logs it; the next tick tries again


@bp.timer_trigger(schedule=KEEPER_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def keep_subscriptions(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Create, renew, recreate or remove the hosts' Graph subscriptions (``subscription_keeper``)."""
    ensure_started()
    await _start_singleton(client, "subscription_keeper", KEEPER_INSTANCE)


@bp.timer_trigger(schedule=RESYNC_SCHEDULE, arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def resync_calendars(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """The daily calendarView delta resync of every host mailbox (``resync_all``)."""
    ensure_started()
    await _start_singleton(client, "resync_all", resync_instance_id(clock.now()))
