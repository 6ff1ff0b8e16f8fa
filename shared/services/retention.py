"""Retention: delete what Frontdesk no longer needs, a bounded amount per run, resuming where the last run stopped.

What goes, and when (the ``RETENTION__*`` settings; docs/SECURITY.md explains the defaults):

| record | kept | how it is found |
|---|---|---|
| claims on a host's time | ``claim_days`` after the claimed granule | ``RowKey lt <cutoff>`` (granule start) |
| voice call state (the transcript) | ``call_days`` after its last change | ``Timestamp lt <cutoff>`` |
| Idempotency-Key records | ``idempotency_days`` after first use | ``CreatedAt lt <cutoff>`` in ``idem:`` partitions |
| Graph subscription records never renewed | ``subscription_days`` after expiry | one small partition |
| bookings, index rows, sagas' history | ``booking_days`` after the appointment | ``End lt <cutoff>``; sagas by id |
| a booking's reminders and waitlist offer | with the booking | ``reminders:<id>``, ``waitlist-offer:<id>`` |
| SMS outbox intents and message-id rows | ``sms_intent_days`` after sending | ``FirstSent`` / ``At lt <cutoff>`` |
| inbound SMS claims, pending ``C``, once markers | ``sms_inbound_days`` | ``ReceivedAt``/``ExpiresAt``/``At`` |
| shared rate-limit buckets | ``ratelimit_days`` after last use | ``At lt <cutoff>`` (epoch seconds) |
| waitlist entries and offers | at the entry's expiry; an offer a day after it lapsed | ``KeepUntil lt <now>`` |
| any other finished orchestration's history | ``durable_days`` after creation | the client's purge by time and status |
| phone self-service locks (a booking id and times) | a day after the lock lapsed | ``Until lt <cutoff>`` |
| SMS opt-outs | for good | never purged: consent records (docs/SECURITY.md) |

Every step is idempotent (deleting what is already gone is no error) and counts against one budget per run
(``max_rows_per_run`` rows or instances, ``max_seconds_per_run`` seconds). A step that runs out of budget
stops; the next run finds what is left by the same filters, and the Durable purge keeps a cursor
(``shared/adapters/store_retention.py``), so work resumes where it stopped. Purge by time names the terminal
statuses explicitly: on Azure Storage a purge without one deletes running instances too.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from shared import clock
from shared.logs import get_logger

log = get_logger(__name__)
UTC = timezone.utc

# Before any Frontdesk deployment existed: where the Durable cursor starts on a task hub never purged.
DURABLE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
FIRST_WINDOW_HOURS = 24.0
STEP_BATCH = 500  # rows asked for per query: small enough to stop soon after the budget is spent
SELF_SERVICE_LOCK_KEPT = timedelta(days=1)  # a lapsed phone self-service lock (no personal data) goes a day later
PARALLEL_DELETES = 8  # records of different partitions deleted at once (each is a few requests)


def terminal_statuses():
    """The Durable statuses that may be purged, as the SDK's enum (imported lazily)."""
    from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as Status
    return [Status.Completed, Status.Failed, Status.Terminated, Status.Canceled]


@dataclass
class Budget:
    """What one run may still do: rows (or instances) and seconds."""

    rows: int
    deadline: float
    timer: Callable[[], float] = time.monotonic

    @classmethod
    def from_settings(cls, retention, timer: Callable[[], float] = time.monotonic) -> "Budget":
        return cls(retention.max_rows_per_run, timer() + retention.max_seconds_per_run, timer)

    @property
    def left(self) -> int:
        return 0 if self.timer() >= self.deadline else max(0, self.rows)

    def spend(self, count: int) -> None:
        self.rows -= count


@dataclass
class RetentionReport:
    """What one run deleted, per kind, and whether it finished everything that was due."""

    started_at: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    unfinished: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        return "failed" if self.failed else "partial" if self.unfinished else "complete"

    def count(self, kind: str, number: int) -> None:
        if number:
            self.deleted[kind] = self.deleted.get(kind, 0) + number

    def to_dict(self) -> dict:
        return {"startedAt": self.started_at.isoformat(), "outcome": self.outcome, "deleted": dict(self.deleted),
                "unfinished": list(self.unfinished), "failed": list(self.failed), "seconds": round(self.seconds, 3)}


class Retention:
    """One purge run over Frontdesk's tables and Durable task hub."""

    def __init__(self, services, client, *, timer: Callable[[], float] = time.monotonic):
        from shared.adapters.store_retention import RetentionStateStore
        self.services = services
        self.client = client  # DurableOrchestrationClient
        self.settings = services.settings.retention
        self.state = RetentionStateStore(services.settings)
        self.timer = timer

    async def run(self, now: datetime | None = None) -> RetentionReport:
        """Purge what is due at ``now`` (the app clock by default) within this run's budget."""
        now = now or clock.now()
        began = self.timer()
        budget = Budget.from_settings(self.settings, self.timer)
        report = RetentionReport(started_at=now)
        days = lambda n: timedelta(days=n)  # noqa: E731
        steps: list[tuple[str, Callable[[], Awaitable[bool]]]] = [
            ("claims", lambda: self._claims(now - days(self.settings.claim_days), budget, report)),
            ("calls", lambda: self._calls(now - days(self.settings.call_days), budget, report)),
            ("idempotency", lambda: self._idempotency(now - days(self.settings.idempotency_days), budget, report)),
            ("subscriptions", lambda: self._subscriptions(now - days(self.settings.subscription_days), report)),
            ("bookings", lambda: self._bookings(now - days(self.settings.booking_days), budget, report)),
            ("sms_intents", lambda: self._rows("sms_intents", lambda n: self._intents().purge_before(
                now - days(self.settings.sms_intent_days), n), budget, report)),
            ("sms_inbound", lambda: self._rows("sms_inbound", lambda n: self._sms_ledger().purge_before(
                now - days(self.settings.sms_inbound_days), n), budget, report)),
            ("ratelimits", lambda: self._rows("ratelimits", lambda n: self._buckets().purge_idle(
                (now - days(self.settings.ratelimit_days)).timestamp(), n), budget, report)),
            ("waitlist", lambda: self._rows("waitlist", lambda n: self._waitlist().purge_expired(now, limit=n),
                                            budget, report)),
            ("selfservice_locks", lambda: self._rows("selfservice_locks", lambda n: self._locks().purge_lapsed(
                now - SELF_SERVICE_LOCK_KEPT, n), budget, report)),
            ("durable", lambda: self._durable(now - days(self.settings.durable_days), budget, report)),
        ]
        for name, step in steps:
            if budget.left <= 0:
                report.unfinished.append(name)
                continue
            step_began = self.timer()
            try:
                if not await step():
                    report.unfinished.append(name)
            except Exception:  # one kind failing must not keep the others from being purged
                log.exception("retention step %s failed; the next run tries again", name)
                report.failed.append(name)
            report.step_seconds[name] = self.timer() - step_began
        report.seconds = self.timer() - began
        return report

    # ------------------------------------------------------------ table rows

    async def _claims(self, before: datetime, budget: Budget, report: RetentionReport) -> bool:
        while budget.left > 0:
            asked = min(budget.left, STEP_BATCH)
            deleted = await self.services.claims.purge_before(before, asked)
            budget.spend(deleted)
            report.count("claims", deleted)
            if deleted < asked:
                return True
        return False

    async def _calls(self, before: datetime, budget: Budget, report: RetentionReport) -> bool:
        while budget.left > 0:
            asked = min(budget.left, STEP_BATCH)
            sids = await self.services.calls.list_idle(before, asked)
            # Each call is its own partition (no batch spans them): delete a few at a time instead.
            await _bounded(self.services.calls.delete(sid) for sid in sids)
            budget.spend(len(sids))
            report.count("calls", len(sids))
            if len(sids) < asked:
                return True
        return False

    async def _idempotency(self, before: datetime, budget: Budget, report: RetentionReport) -> bool:
        while budget.left > 0:
            asked = min(budget.left, STEP_BATCH)
            keys = await self.services.bookings.list_idempotency_keys(before, asked)
            for key in keys:
                await self.services.bookings.delete_idempotency_record(key)
            budget.spend(len(keys))
            report.count("idempotency", len(keys))
            if len(keys) < asked:
                return True
        return False

    async def _rows(self, kind: str, purge: Callable[[int], Awaitable[int]], budget: Budget,
                    report: RetentionReport) -> bool:
        """Call ``purge(at most n)`` until it deletes fewer than asked (done) or the budget is spent."""
        while budget.left > 0:
            asked = min(budget.left, STEP_BATCH)
            deleted = await purge(asked)
            budget.spend(deleted)
            report.count(kind, deleted)
            if deleted < asked:
                return True
        return False

    def _intents(self):
        from shared.adapters.sms_intents import SmsIntentStore
        return SmsIntentStore(self.services.settings)

    def _sms_ledger(self):
        from shared.adapters.store_sms_inbound import SmsInboundLedger
        return SmsInboundLedger(self.services.settings)

    def _buckets(self):
        from shared.adapters.store_ratelimits import TableTokenBuckets
        return TableTokenBuckets(self.services.settings)

    def _locks(self):
        from shared.adapters.store_selfservice import SelfServiceLocks
        return SelfServiceLocks(self.services.settings)

    def _waitlist(self):
        from shared.adapters.store_waitlist import WaitlistStore
        return WaitlistStore(self.services.settings)

    async def _subscriptions(self, before: datetime, report: RetentionReport) -> bool:
        report.count("subscriptions", await self.services.subscriptions.purge_expired(before))
        return True

    async def _bookings(self, before: datetime, budget: Budget, report: RetentionReport) -> bool:
        while budget.left > 0:
            asked = min(budget.left, STEP_BATCH)
            ids = await self.services.bookings.list_ended(before, asked)

            async def purge_one(booking_id: str) -> None:
                # The sagas first: their history carries the customer, and a booking row is how we find them.
                instances = await purge_booking_instances(self.client, booking_id)
                rows = await self.services.bookings.delete(booking_id)
                budget.spend(1 + instances)
                report.count("bookings", 1 if rows else 0)
                report.count("instances", instances)

            await _bounded(purge_one(booking_id) for booking_id in ids)
            if len(ids) < asked:
                return True
        return False

    # ------------------------------------------------------------ Durable history by time

    async def _durable(self, cutoff: datetime, budget: Budget, report: RetentionReport) -> bool:
        """Purge finished instances created before ``cutoff``, one creation-time window per call.

        The window starts at a day and doubles while windows come back empty (a young or tidy task hub
        is crossed in a few calls), and halves when one window purged more than the budget had left.
        """
        from shared.adapters.store_retention import DurableCursor
        state = await self.state.durable_cursor() or DurableCursor(DURABLE_EPOCH, FIRST_WINDOW_HOURS)
        cursor, window = state.cursor, state.window_hours
        while cursor < cutoff:
            if budget.left <= 0:
                return False
            end = min(cutoff, cursor + timedelta(hours=window))
            result = await self.client.purge_instance_history_by(created_time_from=cursor, created_time_to=end,
                                                                 runtime_status=terminal_statuses())
            deleted = int(getattr(result, "instances_deleted", 0) or 0)
            left = budget.left
            budget.spend(deleted)
            report.count("instances", deleted)
            window = window * 2 if deleted == 0 else max(1.0, window / 2) if deleted > left else window
            window = min(window, 24.0 * 3650)
            cursor = end
            await self.state.save_durable_cursor(DurableCursor(cursor, window))
        return True


async def _bounded(jobs, limit: int = PARALLEL_DELETES) -> None:
    """Await the jobs, at most ``limit`` at a time."""
    import asyncio
    gate = asyncio.Semaphore(limit)

    async def gated(job):
        async with gate:
            await job

    await asyncio.gather(*(gated(job) for job in jobs))


def is_saga_of(booking_id: str, instance_id: str | None) -> bool:
    """The booking's sagas are ``<id>`` (book) and ``<id>-...`` (cancel, reschedule): not ``<id>x`` of another."""
    return bool(instance_id) and (instance_id == booking_id or instance_id.startswith(booking_id + "-"))


def follow_up_ids(booking_id: str) -> list[str]:
    """The booking's other orchestrations, named after it but not prefixed by it: its reminders and the offer
    of its time to the waitlist once it was cancelled (shared/services/reminders.py, waitlist.py)."""
    from shared.services.reminders import reminder_instance_id
    from shared.services.waitlist import offer_instance_id
    return [reminder_instance_id(booking_id), offer_instance_id(booking_id)]


async def booking_instances(client, booking_id: str) -> list:
    """The statuses (without input) of every orchestration of the booking: its sagas, reminders and offer."""
    found = [status for status in await client.get_status_by(instance_id_prefix=booking_id)
             if is_saga_of(booking_id, status.instance_id)]
    for instance_id in follow_up_ids(booking_id):
        status = await client.get_status(instance_id)
        if status and getattr(status, "instance_id", None):
            found.append(status)
    return found


async def purge_booking_instances(client, booking_id: str) -> int:
    """Purge the finished orchestrations of one booking (sagas, reminders, waitlist offer); returns how many."""
    purged = 0
    for status in await booking_instances(client, booking_id):
        runtime = getattr(status.runtime_status, "value", status.runtime_status)
        if runtime in ("Completed", "Failed", "Terminated", "Canceled"):
            result = await client.purge_instance_history(status.instance_id)
            purged += int(getattr(result, "instances_deleted", 0) or 0)
    return purged


async def run_retention(services, client) -> RetentionReport:
    """The timer's job: one bounded purge run, logged with its counts and recorded for the workbook."""
    from shared.telemetry import RETENTION_RUN, record_event
    report = await Retention(services, client).run()
    deleted = report.deleted
    log.info("retention run %s in %.1f s: %s", report.outcome, report.seconds,
             ", ".join(f"{kind}={count}" for kind, count in sorted(deleted.items())) or "nothing due")
    record_event(RETENTION_RUN, outcome=report.outcome, seconds=round(report.seconds, 3),
                 **{f"deleted_{kind}": count for kind, count in deleted.items()})
    return report
