"""The booking use cases behind the saga activities: route, hold, confirm, compensate, notify, reschedule, cancel.

Each function takes what an activity receives (decoded JSON, turned into contract models by the
activity), does its I/O through the ports of :func:`shared.services.container.get_services`, and
returns a JSON-ready dict with an ``outcome``. ``now`` is the orchestration's time (deterministic, the
same on every re-run of an activity); notification timestamps use the real clock.

Durable runs activities at least once, so every function is idempotent, converging on the state it
is meant to produce:

- **place_hold**: the booking row (status ``held``, idempotency key and fingerprint) is written
  BEFORE the claim so it is always findable; a re-run finds its own row, re-claims (a repeated claim
  refreshes its own granules), and re-creates the Outlook event with ``transactionId`` = booking id,
  which Graph answers with the event already made;
- **confirm / compensate / cancel / reschedule**: each step checks where the booking already is
  (transitions repeated are no-ops; releases and deletes of what is gone succeed);
- **notifications**: each channel's outcome is recorded on the booking; a channel already ``sent``
  or ``skipped`` for the current change is not sent again. A later change (reschedule, cancel) sets
  the channels it uses back to ``pending`` in the same save that makes it, so it notifies anew. A text
  accepted by the gateway whose outcome was never recorded (the process died in between) is not sent
  again: the SMS sender records an intent keyed by booking, change and channel before sending and
  checks with the gateway on a retry (:mod:`shared.adapters.sms_intents`). The Dynamics appointment id is
  derived from the booking id (an upsert), and webhook deliveries carry an id that is the same on
  every retry of one change, so those two repeat harmlessly.

Outcomes: ``routed`` / ``held`` / ``confirmed`` / ``rescheduled`` / ``cancelled`` when the step did its
job; ``conflict`` (with a :class:`~shared.services.contracts.Conflict`: the availability reason such as
``busy``, ``held``, ``notice``, ``outside_working_hours``, or ``nobody_eligible``); ``invalid``;
``not_found``; ``existing`` (the booking already exists: its state is the answer); ``expired`` /
``failed`` for a hold that ended. Failures of outside services raise :mod:`shared.errors` errors; the
orchestrator compensates.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from shared import clock
from shared.domain.availability import host_availability
from shared.domain.booking import Booking, BookingStatus, Notifications
from shared.domain.business import BusinessConfig, EventType, Host
from shared.domain.claims import granules, padded_interval
from shared.domain.routing import RoutingContext, host_loads, pool_hosts, resolve_host
from shared.domain.timezones import UnknownTimeZoneError, zone
from shared.errors import ConflictError, ExternalServiceError, NotFoundError, OptedOutError, TransientError
from shared.logs import get_logger, redact
from shared.ports import AppointmentDraft, Attendee, CalendarEvent, EventDraft, Regarding
from shared.services import manage_links
from shared.services import notifications as texts
from shared.services import webhooks
from shared.services.contracts import CancelInput, Conflict, RescheduleInput, SagaInput

log = get_logger(__name__)
UTC = timezone.utc

MAX_SAVE_ATTEMPTS = 8
ACTIVE = (BookingStatus.HELD.value, BookingStatus.CONFIRMED.value)
CONFLICT_PREFIX = "conflict:"
NEVER_CONFIRMED = "the booking was never confirmed, so nobody was told about it"
NOTIFICATION_CHANNELS = ("sms", "email", "crm", "webhooks")
Change = Literal["created", "rescheduled", "cancelled"]
Channel = Literal["sms", "email", "crm", "webhooks"]


# ---------------------------------------------------------------- small shared pieces

@dataclass(frozen=True, slots=True)
class Plan:
    """Where a booking sits (or is going): host, time and buffers; JSON-ready with :meth:`to_dict`."""

    host_id: str
    start: datetime
    end: datetime
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)

    def granules(self, granule: timedelta) -> list[datetime]:
        return granules(self.start, self.end, self.buffer_before, self.buffer_after, granule)

    def padded(self) -> tuple[datetime, datetime]:
        return padded_interval(self.start, self.end, self.buffer_before, self.buffer_after)

    def to_dict(self) -> dict[str, Any]:
        return {"hostId": self.host_id, "start": self.start.isoformat(), "end": self.end.isoformat(),
                "bufferBeforeMinutes": self.buffer_before_minutes, "bufferAfterMinutes": self.buffer_after_minutes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Plan":
        return cls(data["hostId"], parse_instant(data["start"]), parse_instant(data["end"]),
                   int(data.get("bufferBeforeMinutes", 0)), int(data.get("bufferAfterMinutes", 0)))

    @classmethod
    def of(cls, booking: Booking) -> "Plan":
        return cls(booking.host_id, booking.start, booking.end, booking.buffer_before_minutes,
                   booking.buffer_after_minutes)


def parse_instant(value: str | datetime) -> datetime:
    """An ISO 8601 instant with an offset (as activities receive them) as an aware UTC datetime."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("instants must carry an offset")
    return moment.astimezone(UTC)


def booking_json(booking: Booking | None) -> dict[str, Any] | None:
    """The booking as the API shows it (camelCase, ISO 8601)."""
    return None if booking is None else booking.model_dump(mode="json")


def _conflict(reason: str, plan: Plan | None = None, host_ids: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    """A ``conflict`` answer: why the time cannot be had, for which time, and which hosts were considered."""
    conflict = Conflict(reason=reason, start=plan.start if plan else None, end=plan.end if plan else None,
                        host_ids=tuple(host_ids))
    return {"outcome": "conflict", "conflict": conflict.model_dump(mode="json"), **extra}


def _invalid(reason: str) -> dict[str, Any]:
    return {"outcome": "invalid", "reason": reason}


def _protect(booking: Booking) -> None:
    """Mask the customer's name and address in every log line of this activity."""
    redact(booking.customer.name, booking.customer.address)


async def update_booking(services, booking_id: str, change: Callable[[Booking], Booking]) -> Booking | None:
    """Apply ``change`` to the stored booking with optimistic concurrency; the saved booking, or None if absent.

    ``change`` returning its argument unchanged saves nothing. A stale ETag (another activity of the
    same saga saved in between, e.g. a parallel notification) re-reads and re-applies.
    """
    for _ in range(MAX_SAVE_ATTEMPTS):
        stored = await services.bookings.get(booking_id)
        if stored is None:
            return None
        updated = change(stored.value)
        if updated is stored.value:
            return stored.value
        try:
            return (await services.bookings.save(updated, stored.etag)).value
        except ConflictError as exc:
            if exc.code != "StaleETag":
                raise
    raise TransientError(f"booking {booking_id} kept changing while being saved; try again", service="bookings",
                         code="BookingContention")


CHANGE_CHANNELS: dict[str, tuple[str, ...]] = {"created": NOTIFICATION_CHANNELS,
                                               "rescheduled": ("sms", "crm", "webhooks"),
                                               "cancelled": ("sms", "crm", "webhooks")}


def _pending_notifications(booking: Booking, change: Change) -> Booking:
    """The booking with the channels a change notifies back to ``pending`` (attempt counts kept)."""
    current = booking.notifications
    fresh = {channel: getattr(current, channel).model_copy(update={"status": "pending", "last_error": None})
             if channel in CHANGE_CHANNELS[change] else getattr(current, channel)
             for channel in NOTIFICATION_CHANNELS}
    return booking.model_copy(update={"notifications": Notifications(**fresh)})


def _skipped_notifications(booking: Booking, change: Change, why: str, now: datetime) -> Booking:
    """The booking with the channels a change would notify recorded as skipped, and why."""
    current = booking.notifications
    skipped = {channel: getattr(current, channel).model_copy(update={"status": "skipped", "last_error": why,
                                                                     "at": now})
               if channel in CHANGE_CHANNELS[change] else getattr(current, channel)
               for channel in NOTIFICATION_CHANNELS}
    return booking.model_copy(update={"notifications": Notifications(**skipped)})


class _Lookup:
    """The configuration objects a booking refers to."""

    def __init__(self, config: BusinessConfig, booking: Booking):
        self.config = config
        self.event_type: EventType = config.event_type(booking.event_type_key)
        self.host: Host = config.host(booking.host_id)


# ---------------------------------------------------------------- reading the live situation

async def _busy_by_host(services, hosts: Sequence[Host], lo: datetime, hi: datetime) -> dict[str, list]:
    """Outlook busy blocks per host, through the availability service's short cache.

    A cached read is safe here: the hold re-reads the calendar live after claiming, so a human who
    booked in the last seconds is still caught before anything is promised.
    """
    from shared.services.availability import get_availability_service
    return await get_availability_service(services).busy_by_host(hosts, lo, hi)


async def _claims_by_host(services, hosts: Sequence[Host], lo: datetime, hi: datetime, *, now: datetime,
                          exclude: str | None) -> dict[str, list[Any]]:
    """Live claims and active bookings per host, as the engine takes them, without ``exclude``'s own."""
    from shared.services.availability import get_availability_service
    claims = await get_availability_service(services).claims_by_host(hosts, lo, hi, now=now)
    if exclude is None:
        return claims
    return {host_id: [c for c in items if (getattr(c, "booking_id", None) or getattr(c, "id", None)) != exclude]
            for host_id, items in claims.items()}


async def _loads(services, hosts: Sequence[Host], now: datetime, time_zone: str, exclude: str | None):
    """Round robin's inputs: each host's active bookings around this week."""
    if len(hosts) < 2:
        return {}
    lo, hi = now - timedelta(days=8), now + timedelta(days=8)
    booked = await asyncio.gather(*(services.bookings.list_by_host(host.id, lo, hi, statuses=ACTIVE)
                                    for host in hosts))
    by_host = {host.id: [b for b in items if b.id != exclude] for host, items in zip(hosts, booked)}
    return host_loads(by_host, now, time_zone)


async def _availability(services, config: BusinessConfig, event_type: EventType, hosts: Sequence[Host],
                        start: datetime, *, now: datetime, exclude: Booking | None = None) -> dict[str, str | None]:
    """Host id -> None (free at ``start``) or why not, from live Outlook busy times and live claims."""
    end = start + event_type.duration
    padded_lo, padded_hi = padded_interval(start, end, event_type.buffer_before, event_type.buffer_after)
    # Claims over whole days either side, so daily limits count every booking of the local day.
    busy, claims = await asyncio.gather(
        _busy_by_host(services, hosts, padded_lo - timedelta(minutes=5), padded_hi + timedelta(minutes=5)),
        _claims_by_host(services, hosts, start - timedelta(days=2), end + timedelta(days=2), now=now,
                        exclude=exclude.id if exclude else None))
    if exclude is not None and exclude.host_id in busy:
        # getSchedule carries no event ids: the booking's own Outlook event is the block exactly at its time.
        busy[exclude.host_id] = [b for b in busy[exclude.host_id] if (b.start, b.end) != (exclude.start, exclude.end)]
    return host_availability(event_type, hosts, start, busy, claims, now=now,
                             blocking_show_as=config.blocking_show_as,
                             granule_minutes=config.claim_granule_minutes)


def _why_nobody(availability: dict[str, str | None]) -> str:
    """One reason for a time nobody can take: the shared one, else the most telling."""
    reasons = {reason for reason in availability.values() if reason}
    if len(reasons) == 1:
        return reasons.pop()
    for reason in ("held", "busy", "daily_limit", "time_off", "notice", "advance", "outside_working_hours"):
        if reason in reasons:
            return reason
    return "nobody_eligible"


def _requested_decision(event_type: EventType, host_id: str, reason: str | None) -> dict[str, Any]:
    """The routing record when the booking named its host (no policy chose)."""
    exclusions = [] if reason is None else [{"hostId": host_id, "reason": reason, "detail": reason,
                                             "policy": "requested"}]
    return {"eventType": event_type.key, "hostId": None if reason else host_id, "policy": "requested",
            "candidates": [host_id], "exclusions": exclusions, "steps": [], "ranking": [],
            "reason": f"requested: the booking named {host_id}" if reason is None
            else f"requested host {host_id} is not free ({reason})"}


def _missing_fields(event_type: EventType, request) -> list[str]:
    customer = request.customer
    values = {"name": customer.name, "phone": customer.phone, "email": customer.email, "address": customer.address,
              "postal_code": customer.postal_code, "notes": customer.notes}
    return [name for name in event_type.required_fields if not values.get(name)]


# ---------------------------------------------------------------- booking saga: route

def _existing_answer(booking: Booking, saga: SagaInput | None) -> dict[str, Any]:
    """What a saga answers when its booking already exists (a replayed or repeated request)."""
    if (saga is not None and saga.fingerprint and booking.request_fingerprint
            and saga.fingerprint != booking.request_fingerprint):
        return _invalid("this booking id (idempotency key) was already used for a different request")
    return {"outcome": "existing", "answer": status_answer(booking)}


def status_answer(booking: Booking) -> dict[str, Any]:
    """The saga answer that describes a booking as it stands."""
    if booking.status in (BookingStatus.CONFIRMED, BookingStatus.HELD):
        return {"outcome": booking.status.value, "booking": booking_json(booking)}
    return ended_outcome(booking)


async def route(services, saga: SagaInput, now: datetime) -> dict[str, Any]:
    """Choose the host for the requested time from live availability, and record why."""
    config: BusinessConfig = services.business
    request = saga.request
    existing = await services.bookings.get(saga.booking_id)
    if existing is not None:
        return _existing_answer(existing.value, saga)
    try:
        event_type = config.event_type(request.event_type)
    except KeyError:
        return _invalid(f"unknown event type {request.event_type!r}")
    if missing := _missing_fields(event_type, request):
        return _invalid(f"{event_type.key} needs the customer's " + ", ".join(missing))
    if request.time_zone:
        try:
            zone(request.time_zone)
        except UnknownTimeZoneError:
            return _invalid(f"unknown time zone {request.time_zone!r}")
    start = request.start
    end = start + event_type.duration
    context = RoutingContext(postal_code=request.customer.postal_code, crm_owner_id=request.context.owner_id,
                             account_team=request.account_team)
    if request.host_id:
        hosts = [host for host in config.eligible_hosts(event_type) if host.id == request.host_id]
        if not hosts:
            return _invalid(f"host {request.host_id!r} does not take {event_type.key}")
    else:
        hosts = list(pool_hosts(config, event_type, context))
    plan_of = lambda host_id: Plan(host_id, start, end, event_type.buffer_before_minutes,  # noqa: E731
                                   event_type.buffer_after_minutes)
    if not hosts:
        return _conflict("nobody_eligible", plan_of(""), routing=None)
    availability, loads = await asyncio.gather(
        _availability(services, config, event_type, hosts, start, now=now),
        _loads(services, hosts, now, config.business.time_zone, saga.booking_id))
    if request.host_id:
        reason = availability[request.host_id]
        decision = _requested_decision(event_type, request.host_id, reason)
        if reason is not None:
            return _conflict(reason, plan_of(request.host_id), [request.host_id], routing=decision)
    else:
        resolved = resolve_host(config, event_type, context, available=availability, loads=loads)
        decision = resolved.to_dict()
        if not resolved.ok:
            return _conflict(_why_nobody(availability), plan_of(hosts[0].id), [h.id for h in hosts],
                             routing=decision)
    host_id = decision["hostId"]
    log.info("routed %s to %s (%s)", event_type.key, host_id, decision.get("policy"))
    return {"outcome": "routed", "hostId": host_id, "routing": decision, "plan": plan_of(host_id).to_dict()}


# ---------------------------------------------------------------- booking saga: hold

def _new_booking(saga: SagaInput, plan: Plan, routing: dict, host: Host, now: datetime,
                 hold_seconds: int) -> Booking:
    request = saga.request
    return Booking(
        id=saga.booking_id, status=BookingStatus.HELD, event_type_key=request.event_type, host_id=plan.host_id,
        start=plan.start, end=plan.end, buffer_before_minutes=plan.buffer_before_minutes,
        buffer_after_minutes=plan.buffer_after_minutes, time_zone=request.time_zone or host.time_zone,
        customer=request.customer, context=request.context, routing=routing,
        hold_expires_at=now + timedelta(seconds=hold_seconds), idempotency_key=saga.idempotency_key,
        request_fingerprint=saga.fingerprint, created_at=now, updated_at=now)


def _event_draft(booking: Booking, look: _Lookup, *, held: bool, transaction_id: str | None = None) -> EventDraft:
    attendees = ()
    teams = look.event_type.location_kind == "teams"
    if teams and booking.customer.email:
        # A Teams consultation invites the customer, so they get the join link from Outlook.
        attendees = (Attendee(booking.customer.name, booking.customer.email),)
    return EventDraft(
        subject=texts.event_subject(booking, look.event_type, held=held), start=booking.start, end=booking.end,
        time_zone=look.host.time_zone, show_as="tentative" if held else "busy",
        body_html=texts.event_body_html(booking, look.config, look.event_type, look.host, held=held),
        location=texts.event_location(booking, look.event_type), attendees=attendees if not held else (),
        online_meeting=teams and not held, transaction_id=transaction_id, booking_id=booking.id,
        categories=("Frontdesk",))


async def _intruders(services, booking: Booking, look: _Lookup, own_event_id: str) -> list[CalendarEvent]:
    """Events someone else put over the booking's padded time (the re-read after claiming)."""
    lo, hi = booking.padded
    events = await services.calendar.list_events(look.host.mailbox, lo, hi)
    blocking = set(look.config.blocking_show_as)
    return [event for event in events
            if event.id != own_event_id and event.booking_id != booking.id and not event.is_cancelled
            and event.show_as in blocking and event.start < hi and event.end > lo]


async def place_hold(services, saga: SagaInput, plan: Plan, routing: dict, now: datetime,
                     hold_seconds: int) -> dict[str, Any]:
    """Write the held booking, claim its granules, put a tentative event in Outlook, and re-read the calendar."""
    config: BusinessConfig = services.business
    host = config.host(plan.host_id)
    fresh = _new_booking(saga, plan, routing, host, now, hold_seconds)
    _protect(fresh)
    try:
        booking = (await services.bookings.create(fresh)).value
    except ConflictError as exc:
        if exc.code == "IdempotencyKeyReused":
            return _invalid("this idempotency key was already used for a different request")
        if exc.code != "BookingExists":
            raise
        stored = await services.bookings.get(saga.booking_id)
        if stored is None:
            raise TransientError("booking vanished while being created; try again", service="bookings") from exc
        booking = stored.value
        if booking.status is not BookingStatus.HELD or booking.host_id != plan.host_id:
            return _existing_answer(booking, saga)  # a re-run after the hold already ended (or a different saga)
    look = _Lookup(config, booking)

    outcome = await services.claims.claim(booking.host_id, booking.claim_granules(services.claims.granule),
                                          booking.id, "hold", booking.hold_expires_at, now=now)
    if not outcome.won:
        log.info("hold lost: %d granule(s) held by another booking", len(outcome.conflicts))
        booking = await _end_hold(services, booking.id, "failed", CONFLICT_PREFIX + "held", now)
        return _conflict("held", plan, [plan.host_id], booking=booking_json(booking))

    event = await services.calendar.create_event(look.host.mailbox, _event_draft(booking, look, held=True,
                                                                                   transaction_id=booking.id))
    booking = await update_booking(services, booking.id,
                                   lambda b: b.with_outlook_event(event.id, look.host.mailbox, now)
                                   if b.status is BookingStatus.HELD else b)
    if booking.status is not BookingStatus.HELD:
        # Cancelled while the event was being made: take the event and the claims back out.
        await compensate(services, booking.id, plan, "cancelled", None, now)
        return {"outcome": "existing", "answer": status_answer(booking)}
    if intruders := await _intruders(services, booking, look, event.id):
        log.info("someone booked over the hold in Outlook (%d event(s)); releasing it", len(intruders))
        result = await compensate(services, booking.id, plan, "failed", CONFLICT_PREFIX + "busy", now)
        return _conflict("busy", plan, [plan.host_id], booking=result["booking"])
    return {"outcome": "held", "booking": booking_json(booking),
            "holdExpiresAt": booking.hold_expires_at.isoformat() if booking.hold_expires_at else None}


# ---------------------------------------------------------------- booking saga: confirm

_ENDED_OUTCOME = {BookingStatus.CANCELLED: "cancelled", BookingStatus.EXPIRED: "expired",
                  BookingStatus.FAILED: "failed"}


def ended_outcome(booking: Booking) -> dict[str, Any]:
    """The saga answer for a booking that already ended (a lost claim reads as the conflict it was)."""
    if booking.status is BookingStatus.FAILED and (booking.failure_reason or "").startswith(CONFLICT_PREFIX):
        reason = booking.failure_reason[len(CONFLICT_PREFIX):]
        return _conflict(reason, Plan.of(booking), [booking.host_id], booking=booking_json(booking))
    return {"outcome": _ENDED_OUTCOME.get(booking.status, booking.status.value), "booking": booking_json(booking)}


async def confirm(services, booking_id: str, now: datetime) -> dict[str, Any]:
    """Make the hold the customer's: claims become a booking, the Outlook event busy with the details."""
    stored = await services.bookings.get(booking_id)
    if stored is None:
        return {"outcome": "failed", "reason": "the held booking no longer exists", "booking": None}
    booking = stored.value
    _protect(booking)
    if booking.status is BookingStatus.CONFIRMED:
        return {"outcome": "confirmed", "booking": booking_json(booking)}
    if booking.status is not BookingStatus.HELD:
        return ended_outcome(booking)
    look = _Lookup(services.business, booking)
    won = await services.claims.confirm(booking.host_id, booking.id, booking.claim_granules(services.claims.granule),
                                        now=now)
    if not won.won:
        # The hold lapsed and someone took over part of it before the customer confirmed.
        result = await compensate(services, booking.id, Plan.of(booking), "failed", CONFLICT_PREFIX + "held", now)
        return _conflict("held", Plan.of(booking), [booking.host_id], booking=result["booking"])
    draft = _event_draft(booking, look, held=False)
    try:
        if booking.outlook_event_id:
            await services.calendar.update_event(booking.outlook_mailbox or look.host.mailbox,
                                                 booking.outlook_event_id, draft)
        else:
            raise NotFoundError("the booking has no Outlook event", service="graph")
    except NotFoundError:
        # Someone deleted the tentative hold in Outlook: they do not want this time taken.
        result = await compensate(services, booking.id, Plan.of(booking), "failed", CONFLICT_PREFIX + "busy", now)
        return _conflict("busy", Plan.of(booking), [booking.host_id], booking=result["booking"])
    booking = await update_booking(services, booking.id, lambda b: b.confirm(now))
    log.info("booking confirmed")
    return {"outcome": "confirmed", "booking": booking_json(booking)}


# ---------------------------------------------------------------- compensation

def _ended(booking: Booking, outcome: str, reason: str | None, now: datetime) -> Booking:
    if booking.status is not BookingStatus.HELD:
        return booking
    if outcome == "expired":
        return booking.expire(now)
    if outcome == "cancelled":
        return booking.cancel(now, reason)
    return booking.fail(now, reason or "failed")


async def _end_hold(services, booking_id: str, outcome: str, reason: str | None, now: datetime) -> Booking | None:
    return await update_booking(services, booking_id, lambda b: _ended(b, outcome, reason, now))


async def _delete_events(services, booking_id: str, plan: Plan | None, event_id: str | None = None,
                         mailbox: str | None = None) -> None:
    """Delete the booking's Outlook event; without a recorded id, find it by its booking marker in the plan's time.

    The create may have reached Outlook even though its answer never came back, so a missing id does not
    mean there is no event.
    """
    config: BusinessConfig = services.business
    if event_id:
        await services.calendar.delete_event(mailbox or config.host(plan.host_id).mailbox, event_id)
        return
    if plan is None or plan.host_id not in config.hosts_by_id:
        return
    mailbox = config.host(plan.host_id).mailbox
    lo, hi = plan.padded()
    for event in await services.calendar.list_events(mailbox, lo, hi):
        if event.booking_id == booking_id or event.transaction_id == booking_id:
            await services.calendar.delete_event(mailbox, event.id)


async def compensate(services, booking_id: str, plan: Plan | None, outcome: Literal["expired", "cancelled", "failed"],
                     reason: str | None, now: datetime) -> dict[str, Any]:
    """Undo a hold: end the booking (expired / cancelled / failed), release its claims, delete its event.

    A confirmed booking is never undone here. The booking is ended first, so nobody reads a live hold
    whose time is already released; a failure deleting the event raises after the claims are released,
    and the activity's retry finishes the job.
    """
    booking = await _end_hold(services, booking_id, outcome, reason, now)
    if booking is not None:
        _protect(booking)
        if booking.status is BookingStatus.CONFIRMED:
            return {"outcome": "confirmed", "booking": booking_json(booking)}
        plan = Plan.of(booking)
    if plan is not None and plan.host_id in services.business.hosts_by_id:
        released = await services.claims.release(plan.host_id, booking_id, plan.granules(services.claims.granule))
        log.info("compensated (%s): released %d claim granule(s)", outcome, released)
        await _delete_events(services, booking_id, plan, booking.outlook_event_id if booking else None,
                             booking.outlook_mailbox if booking else None)
    return {"outcome": booking.status.value if booking is not None else outcome, "booking": booking_json(booking)}


# ---------------------------------------------------------------- notifications

@dataclass(frozen=True, slots=True)
class _Notice:
    """One change to tell a channel about: what happened, the saga that made it, when, and the old time."""

    change: Change
    change_id: str
    occurred_at: datetime
    previous_start: datetime | None = None


async def _send_sms(services, booking: Booking, look: _Lookup, notice: _Notice) -> tuple[str, str | None]:
    if not booking.customer.phone:
        return "skipped", "no phone number"
    body = texts.sms_text(notice.change, booking, look.config, look.event_type, look.host, notice.previous_start,
                          manage_url=manage_links.link_for(services.settings, booking))
    # The same key on every retry of this change's text: the sender records it before sending (at most once).
    key = f"booking:{booking.id}:{notice.change}:{notice.change_id}:sms"
    receipt = await services.sms.send_sms(booking.customer.phone, body, tag=f"booking-{notice.change}", key=key)
    if receipt.status == "skipped":
        return "skipped", "SMS is disabled (SMS__PROVIDER=none)"
    return "sent", None


async def _send_email(services, booking: Booking, look: _Lookup, notice: _Notice) -> tuple[str, str | None]:
    if notice.change != "created":
        return "skipped", f"no owner e-mail for {notice.change} bookings"
    message = texts.owner_email(booking, look.config, look.event_type, look.host)
    office = look.config.business.email
    if office:
        try:
            await services.mail.send_mail(office, message)
            return "sent", None
        except NotFoundError:
            # The office address is a group or alias, not a mailbox Graph can send from.
            log.warning("the business e-mail is not a mailbox; sending the owner e-mail from the host's")
    await services.mail.send_mail(look.host.mailbox, message)
    return "sent", "sent from the host's mailbox" if office else None


async def _write_crm(services, booking: Booking, look: _Lookup, notice: _Notice) -> tuple[str, str | None]:
    crm = services.crm
    if crm is None:
        return "skipped", "Dynamics 365 is not configured"
    from shared.adapters.dataverse import appointment_id_for
    if notice.change == "cancelled":
        try:
            await crm.cancel_appointment(booking.crm_appointment_id or appointment_id_for(booking.id))
        except NotFoundError:
            return "skipped", "no Dynamics appointment to cancel"
        return "sent", None
    context = booking.context
    regarding = (Regarding(context.dynamics_record_type, context.dynamics_record_id)
                 if context.dynamics_record_type and context.dynamics_record_id else None)
    draft = AppointmentDraft(
        booking_id=booking.id, subject=texts.crm_subject(booking, look.event_type), start=booking.start,
        end=booking.end, location=texts.event_location(booking, look.event_type),
        description=texts.crm_description(booking, look.config, look.event_type, look.host), regarding=regarding,
        owner_systemuser_id=look.host.dynamics_systemuser_id, routing_decision=texts.routing_summary(booking.routing))
    note = None
    try:
        appointment = await crm.upsert_appointment(draft)
    except NotFoundError as exc:
        # A regarding record or host user that is gone must not cost the business its CRM appointment.
        missing_owner = "systemuser" in str(exc).lower()
        note = ("the host's Dynamics user does not exist; written without an owner" if missing_owner
                else "the Dynamics record it was booked from does not exist; written without it")
        log.warning("Dynamics appointment: %s", note)
        draft = dataclasses.replace(draft, description=f"{draft.description}\n\nNote: {note}.",
                                    **{"owner_systemuser_id" if missing_owner else "regarding": None})
        appointment = await crm.upsert_appointment(draft)
    await update_booking(services, booking.id, lambda b: b.with_crm_appointment(appointment.id, _real_now()))
    return "sent", note


async def _fire_webhooks(services, booking: Booking, look: _Lookup, notice: _Notice) -> tuple[str, str | None]:
    settings = services.settings
    if not webhooks.targets(settings):
        return "skipped", "no webhooks configured"
    payload = webhooks.build_payload(webhooks.EVENT_FOR_CHANGE[notice.change], booking_json(booking),
                                     notice.change_id, notice.occurred_at)
    count = await webhooks.deliver(settings, payload)
    return "sent", f"delivered to {count} target(s)"


_SENDERS = {"sms": _send_sms, "email": _send_email, "crm": _write_crm, "webhooks": _fire_webhooks}
_EXPECTED_STATUS = {"created": BookingStatus.CONFIRMED, "rescheduled": BookingStatus.CONFIRMED,
                    "cancelled": BookingStatus.CANCELLED}


def _real_now() -> datetime:
    return clock.now()


async def notify(services, channel: Channel, booking_id: str, change: Change, change_id: str,
                 previous_start: datetime | None = None, *, suppress: str | None = None,
                 occurred_at: datetime | None = None) -> dict[str, Any]:
    """Send one channel's notification for a change of the booking, once, and record how it went.

    Returns ``{"channel", "status": sent|skipped|failed, "note"}``. A retryable failure is recorded
    and re-raised (the activity's retry policy tries again); a permanent one is recorded and returned;
    an opted-out customer is ``skipped``. Already ``sent``/``skipped`` for this change: nothing is sent.
    ``suppress`` records the channel as skipped for that reason without sending (e.g. a cancel the
    customer is not to be told about). ``occurred_at`` is when the change happened (the saga's clock,
    so every retry of a webhook delivery carries the same time).
    """
    if channel not in _SENDERS:
        raise ValueError(f"unknown notification channel {channel!r}")
    stored = await services.bookings.get(booking_id)
    if stored is None:
        return {"channel": channel, "status": "skipped", "note": "the booking does not exist"}
    booking = stored.value
    _protect(booking)
    recorded = getattr(booking.notifications, channel)
    if recorded.status in ("sent", "skipped"):
        return {"channel": channel, "status": recorded.status, "note": "already done for this change"}
    if suppress:
        status, note = "skipped", suppress
    elif booking.status is not _EXPECTED_STATUS[change]:
        status, note = "skipped", f"the booking is {booking.status.value} now"
    else:
        look = _Lookup(services.business, booking)
        try:
            notice = _Notice(change, change_id, occurred_at or _real_now(), previous_start)
            status, note = await _SENDERS[channel](services, booking, look, notice)
        except OptedOutError:
            status, note = "skipped", "the customer opted out of texts"
        except ExternalServiceError as exc:
            await _record(services, booking_id, channel, "failed", str(exc))
            log.warning("%s notification failed (%s): %s", channel, "will retry" if exc.retryable else "permanent",
                        type(exc).__name__)
            if exc.retryable:
                raise
            return {"channel": channel, "status": "failed", "note": str(exc)[:300]}
    await _record(services, booking_id, channel, status, note if status == "skipped" else None)
    log.info("%s notification %s", channel, status)
    return {"channel": channel, "status": status, "note": note}


async def _record(services, booking_id: str, channel: Channel, status: str, error: str | None) -> None:
    def change(booking: Booking) -> Booking:
        if booking.status is BookingStatus.HELD:
            return booking
        return booking.record_notification(channel, status, _real_now(), error)
    await update_booking(services, booking_id, change)


# ---------------------------------------------------------------- reschedule

async def prepare_reschedule(services, request: RescheduleInput, now: datetime) -> dict[str, Any]:
    """Check the new time and choose its host (the current one when free), without changing anything."""
    stored = await services.bookings.get(request.booking_id)
    if stored is None:
        return {"outcome": "not_found", "reason": f"no booking {request.booking_id}"}
    booking = stored.value
    _protect(booking)
    if booking.status is not BookingStatus.CONFIRMED:
        return _invalid(f"only a confirmed booking can be rescheduled; this one is {booking.status.value}")
    config: BusinessConfig = services.business
    look = _Lookup(config, booking)
    event_type = look.event_type
    end = request.start + event_type.duration
    old = Plan.of(booking)
    eligible = config.eligible_hosts(event_type)
    if request.host_id:
        hosts = [host for host in eligible if host.id == request.host_id]
        if not hosts:
            return _invalid(f"host {request.host_id!r} does not take {event_type.key}")
    else:
        context = RoutingContext(postal_code=booking.customer.postal_code, crm_owner_id=booking.context.owner_id)
        pool = list(pool_hosts(config, event_type, context)) or list(eligible)
        # The customer keeps their technician when they can: the current host first.
        hosts = sorted(pool, key=lambda host: host.id != booking.host_id)
    new_plan = lambda host_id: Plan(host_id, request.start, end, event_type.buffer_before_minutes,  # noqa: E731
                                    event_type.buffer_after_minutes)
    if (request.start, request.host_id or booking.host_id) == (booking.start, booking.host_id):
        return {"outcome": "unchanged", "booking": booking_json(booking)}
    availability = await _availability(services, config, event_type, hosts, request.start, now=now,
                                       exclude=booking)
    routing = booking.routing
    if availability.get(booking.host_id, "not_available") is None and not request.host_id:
        chosen = booking.host_id
    elif request.host_id:
        chosen = request.host_id if availability[request.host_id] is None else None
        if chosen is None:
            return _conflict(availability[request.host_id], new_plan(request.host_id), [request.host_id])
        routing = _requested_decision(event_type, chosen, None)
    else:
        context = RoutingContext(postal_code=booking.customer.postal_code, crm_owner_id=booking.context.owner_id)
        loads = await _loads(services, hosts, now, config.business.time_zone, booking.id)
        resolved = resolve_host(config, event_type, context, available=availability, loads=loads)
        if not resolved.ok:
            return _conflict(_why_nobody(availability), new_plan(booking.host_id), [h.id for h in hosts])
        chosen, routing = resolved.host_id, resolved.to_dict()
    return {"outcome": "ready", "old": old.to_dict(), "new": new_plan(chosen).to_dict(), "routing": routing,
            "oldEvent": {"id": booking.outlook_event_id, "mailbox": booking.outlook_mailbox}}


def _moved(booking: Booking, new: Plan, routing: dict, event_id: str | None, mailbox: str | None,
           now: datetime) -> Booking:
    """The booking at its new time (and event), its move's notifications pending; unchanged if already there."""
    if (booking.start, booking.end, booking.host_id) == (new.start, new.end, new.host_id) and \
            (event_id is None or booking.outlook_event_id == event_id):
        return booking
    moved = booking.reschedule(new.start, new.end, now, host_id=new.host_id)
    if event_id and mailbox:
        moved = moved.with_outlook_event(event_id, mailbox, now)
    moved = moved.model_copy(update={"routing": routing or moved.routing})
    return _pending_notifications(moved, "rescheduled")


async def apply_reschedule(services, booking_id: str, old: Plan, new: Plan, routing: dict | None,
                           now: datetime, old_event: dict | None = None) -> dict[str, Any]:
    """Claim the new time first (the old one stays the customer's if it is taken), then move booking and event.

    The booking is saved before Outlook changes, so the change notification Outlook sends finds the
    booking already where the event is going (and reconciliation recognises Frontdesk's own change).
    ``old_event`` (the event the booking had before the move) is deleted when the move made a new
    one, also on a re-run after a crash between saving the booking and deleting it.
    """
    stored = await services.bookings.get(booking_id)
    if stored is None:
        return {"outcome": "not_found", "reason": f"no booking {booking_id}"}
    booking = stored.value
    _protect(booking)
    already_there = (booking.start, booking.end, booking.host_id) == (new.start, new.end, new.host_id)
    if booking.status is not BookingStatus.CONFIRMED:
        return _invalid(f"only a confirmed booking can be rescheduled; this one is {booking.status.value}")
    if not already_there and (booking.start, booking.end, booking.host_id) != (old.start, old.end, old.host_id):
        return _conflict("changed", new, [new.host_id], booking=booking_json(booking))
    granule = services.claims.granule
    outcome = await services.claims.move(booking_id, old_host_id=old.host_id, old_granules=old.granules(granule),
                                         new_host_id=new.host_id, new_granules=new.granules(granule),
                                         kind="booking", now=now)
    if not outcome.won:
        log.info("reschedule lost the new time to another booking; the old time stays")
        return _conflict("held", new, [new.host_id], booking=booking_json(booking))
    config: BusinessConfig = services.business
    new_host = config.host(new.host_id)
    old_event = old_event or {"id": booking.outlook_event_id, "mailbox": booking.outlook_mailbox}
    if new.host_id == booking.host_id and booking.outlook_event_id:
        booking = await update_booking(services, booking_id, lambda b: _moved(b, new, routing, None, None, now))
        look = _Lookup(config, booking)
        try:
            await services.calendar.update_event(booking.outlook_mailbox or new_host.mailbox,
                                                 booking.outlook_event_id, _event_draft(booking, look, held=False))
            await _retire_event(services, booking, old_event, old.host_id)
            return {"outcome": "rescheduled", "booking": booking_json(booking)}
        except NotFoundError:
            log.info("the booking's Outlook event is gone; creating it again")
    # Another calendar (or the event vanished): create the event there, then retire the old one.
    target = booking.reschedule(new.start, new.end, now, host_id=new.host_id)
    look = _Lookup(config, target)
    transaction = f"{booking_id}-{new.host_id}-{new.start.strftime('%Y%m%dT%H%M%SZ')}"
    event = await services.calendar.create_event(new_host.mailbox, _event_draft(target, look, held=False,
                                                                               transaction_id=transaction))
    booking = await update_booking(services, booking_id,
                                   lambda b: _moved(b, new, routing, event.id, new_host.mailbox, now))
    await _retire_event(services, booking, old_event, old.host_id)
    return {"outcome": "rescheduled", "booking": booking_json(booking)}


async def _retire_event(services, booking: Booking, old_event: dict, old_host_id: str) -> None:
    """Delete the event the booking had before a move, unless it is still the booking's event."""
    event_id = old_event.get("id")
    if event_id and event_id != booking.outlook_event_id:
        mailbox = old_event.get("mailbox") or services.business.host(old_host_id).mailbox
        await services.calendar.delete_event(mailbox, event_id)


# ---------------------------------------------------------------- cancel

async def apply_cancel(services, request: CancelInput, now: datetime) -> dict[str, Any]:
    """Cancel the booking, release its time and delete its Outlook event (each safe to repeat)."""
    stored = await services.bookings.get(request.booking_id)
    if stored is None:
        return {"outcome": "not_found", "reason": f"no booking {request.booking_id}"}
    booking = stored.value
    _protect(booking)
    if booking.status in (BookingStatus.EXPIRED, BookingStatus.FAILED):
        return _invalid(f"the booking already ended ({booking.status.value}); there is nothing to cancel")
    # A hold nobody confirmed was never announced, so its cancellation is not announced either; a booking
    # cancelled before (a repeated cancel, a re-run) lets the notifications finish what they had not done.
    was_held = booking.status is BookingStatus.HELD

    def cancelled(b: Booking) -> Booking:
        if b.status is BookingStatus.CANCELLED:
            return b
        if b.status is BookingStatus.HELD:
            return _skipped_notifications(b.cancel(now, request.reason), "cancelled", NEVER_CONFIRMED, now)
        return _pending_notifications(b.cancel(now, request.reason), "cancelled")

    booking = await update_booking(services, booking.id, cancelled)
    released = await services.claims.release(booking.host_id, booking.id, booking.claim_granules(services.claims.granule))
    await _delete_events(services, booking.id, Plan.of(booking), booking.outlook_event_id, booking.outlook_mailbox)
    log.info("booking cancelled; released %d claim granule(s)", released)
    return {"outcome": "cancelled", "booking": booking_json(booking), "wasConfirmed": not was_held}


# ---------------------------------------------------------------- the end of a saga

async def finish(services, booking_id: str, outcome: str, channel: str | None) -> dict[str, Any]:
    """The booking as it stands when a saga ends (with its notification outcomes), and the telemetry event."""
    from shared.telemetry import BOOKING_OUTCOME, BOOKING_OUTCOMES, record_event
    stored = await services.bookings.get(booking_id)
    booking = stored.value if stored else None
    if outcome in BOOKING_OUTCOMES:
        record_event(BOOKING_OUTCOME, outcome=outcome, channel=channel or (booking.context.channel if booking
                                                                           else None), booking_id=booking_id)
    return {"booking": booking_json(booking)}
