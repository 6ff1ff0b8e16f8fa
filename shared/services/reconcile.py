"""Outlook -> Frontdesk reconciliation: bring a booking, its claims, Dynamics and the customer in line
with what a person did to the booking's event in Outlook.

Notifications only say "this event changed"; they arrive late, twice, or out of order. So nothing here
trusts them: :func:`apply_outlook_change` reads the event's CURRENT state from Graph and the booking
that stands for it (by Outlook event id) and compares the two:

- ``cancelled``: the event is gone or cancelled -> booking cancelled, claims released;
- ``moved``: its start or end differ from the booking's -> claims moved, booking rescheduled;
- ``edited``: its subject or location differ from what Frontdesk last saw (or would write) -> remembered,
  and the Dynamics appointment rewritten;
- ``unchanged``: it says what the booking says -> nothing (Frontdesk's own write, a repeat, or a change
  already applied);
- ``not_ours``: no booking stands for it -> nothing: events Frontdesk did not make are left alone;
- ``ignored``: the booking is not confirmed (a hold whose saga is still running, or one that ended).

Frontdesk's own writes are recognised by state, not by remembering requests: the booking sagas save
the booking before they write Outlook, so the echo of their write finds the event saying what the
booking says. A change is committed by ONE ETag-conditional save of the booking that also records
the run that applied it (``outlook_sync.applied_by``): of two runs racing on the same change only one
saves, the other re-reads and finds nothing left to do, and a retried activity of the winning run
recognises its own commit. The same save puts the booking's notification channels for the change back
to ``pending``, so the booking sagas' notification activities text the customer (and fire webhooks, and
cancel the Dynamics appointment) once per change; the Dynamics appointment of a move or an edit is
rewritten here (:func:`update_crm`) with the subject and location Outlook shows. Follow-ups check that
their run is still the latest to have applied a change, so a superseded run tells nobody stale news.

A move onto time another Frontdesk booking holds drops nothing: Outlook is the truth, so the booking
moves, claims what is free of the new time, records the overlap (``outlook_sync.conflicts_with``) and
the owner is e-mailed to sort it out.

:func:`resync_mailbox` is the safety net for notifications that never came (``missed`` lifecycle events,
a lost subscription, the daily timer): a calendarView delta round per mailbox from its stored delta link,
returning the events whose booking no longer agrees with Outlook, for the orchestrator to reconcile.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from shared import clock
from shared.domain.booking import Booking, BookingStatus, Notifications
from shared.errors import ConflictError, NotFoundError, PermanentError
from shared.logs import get_logger, log_context
from shared.ports import AppointmentDraft, CalendarEvent, MailMessage, Regarding
from shared.services import notifications as texts

log = get_logger(__name__)
UTC = timezone.utc

Action = Literal["cancelled", "moved", "edited", "unchanged", "not_ours", "ignored"]
CANCEL_REASON = "Cancelled in Outlook"
NOTIFICATION_CHANNELS = ("sms", "email", "crm", "webhooks")
# Channels announced through the booking sagas' notification activities; the Dynamics appointment of a
# move is rewritten by update_crm here instead, so it keeps the subject and location Outlook shows.
ANNOUNCED = {"moved": ("sms", "webhooks"), "cancelled": ("sms", "crm", "webhooks")}
RECONCILE_ORCHESTRATOR = "reconcile_event"
RESYNC_PAST = timedelta(days=7)
RESYNC_FUTURE_MARGIN = timedelta(days=7)
RESYNC_OVERLAP = timedelta(minutes=10)  # bookings changed this long before the previous round count as new
_COMMIT_ATTEMPTS = 6
_CLAIM_ATTEMPTS = 3


# ---------------------------------------------------------------------- instance ids

def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:length]


def event_key(mailbox: str, event_id: str) -> str:
    """A short, id-safe name for one mailbox's event (Graph event ids are long and contain '/', '+', '=')."""
    return _digest(mailbox.strip().lower(), event_id, length=20)


def reconcile_instance_id(mailbox: str, event_id: str, change_type: str, etag: str | None,
                          received_at: datetime) -> str:
    """The reconcile orchestration for one change: a repeated delivery of it maps to the same instance.

    The change is identified by its type and the event's ETag (each edit gets a new one); when Graph gives
    no ETag, by the minute it arrived in, so a burst of repeats still collapses into one run.
    """
    identity = etag or received_at.astimezone(UTC).strftime("t%Y%m%d%H%M")
    return f"reconcile-{event_key(mailbox, event_id)}-{_digest(change_type or '', identity, length=12)}"


def batch_instance_id(instance_ids: list[str]) -> str:
    """The orchestration that starts a batch's reconciles: a redelivered batch maps to the same one."""
    return f"reconcile-batch-{_digest(*sorted(instance_ids), length=24)}"


# ---------------------------------------------------------------------- starting orchestrations

def _already_exists(exc: Exception) -> bool:
    text = str(exc).lower()
    return "already exists" in text or "orchestrationalreadyexists" in text


async def start_once(client, name: str, instance_id: str, payload: dict) -> str:
    """Start an orchestration under a deterministic id: 'started', 'duplicate' (still running) or 'failed'."""
    try:
        await client.start_new(name, instance_id, payload)
        return "started"
    except Exception as exc:  # the Durable SDK raises bare Exceptions carrying the extension's answer
        if _already_exists(exc):
            return "duplicate"
        log.error("could not start %s %s: %s", name, instance_id, str(exc)[:300])
        return "failed"


async def start_reconciles(client, starts: dict[str, dict]) -> dict[str, int]:
    """Start one ``reconcile_event`` per change (``{instance id: input}``), all at once; counts per outcome."""
    outcomes = await asyncio.gather(*(start_once(client, RECONCILE_ORCHESTRATOR, instance_id, payload)
                                      for instance_id, payload in starts.items()))
    return {state: outcomes.count(state) for state in ("started", "duplicate", "failed")}


# ---------------------------------------------------------------------- classification

@dataclass(frozen=True)
class Expected:
    """What the booking's event should say if nobody but Frontdesk touched it."""

    subject: str | None
    location: str | None


def expected_details(booking: Booking, business) -> Expected | None:
    """The subject and location Frontdesk last saw on the event, or would have written; None if unknown."""
    sync = booking.outlook_sync
    if sync is not None and (sync.subject is not None or sync.location is not None):
        return Expected(sync.subject, sync.location)
    try:
        event_type = business.event_type(booking.event_type_key)
    except KeyError:
        return None
    return Expected(texts.event_subject(booking, event_type, held=False), texts.event_location(booking, event_type))


def _same_text(a: str | None, b: str | None) -> bool:
    return (a or "").strip() == (b or "").strip()


def classify(booking: Booking, event: CalendarEvent | None, business) -> Action:
    """How the event differs from its (confirmed) booking; see the module docstring."""
    if event is None or event.is_cancelled:
        return "cancelled"
    if (event.start, event.end) != (booking.start, booking.end):
        return "moved"
    expected = expected_details(booking, business)
    if expected is not None and not (_same_text(event.subject, expected.subject)
                                     and _same_text(event.location, expected.location)):
        return "edited"
    return "unchanged"


# ---------------------------------------------------------------------- applying one change

def _outcome(action: Action, booking: Booking | None = None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"action": action, "bookingId": booking.id if booking else None}
    if booking is not None:
        result.update(start=booking.start.isoformat(), end=booking.end.isoformat(), status=booking.status.value)
    result.update({k: v for k, v in extra.items() if v is not None})
    return result


def _applied_outcome(booking: Booking) -> dict[str, Any]:
    sync = booking.outlook_sync
    return _outcome(sync.applied_action, booking, conflictsWith=list(sync.conflicts_with), committed=True)


async def apply_outlook_change(services, mailbox: str, event_id: str, *, run_id: str, now: datetime) -> dict[str, Any]:
    """Read the event and its booking, classify, and commit what Outlook says to the booking and its claims.

    Returns ``{"action", "bookingId", "start", "end", "status", "previousStart", "conflictsWith", ...}``.
    Safe to run again (Durable runs activities at least once): a run finding its own commit returns it again.
    """
    claimed_uncommitted: list[tuple[str, list[datetime]]] = []
    try:
        for _ in range(_COMMIT_ATTEMPTS):
            event = await services.calendar.get_event(mailbox, event_id)
            stored = await services.bookings.find_by_event_id(event_id)
            if stored is None or (stored.value.outlook_mailbox or mailbox).lower() != mailbox.lower():
                return _outcome("not_ours", None, eventId=event_id)
            booking, etag = stored.value, stored.etag
            with log_context(booking_id=booking.id):
                sync = booking.outlook_sync
                if sync is not None and sync.applied_by == run_id:
                    await _finish_claims(services, booking)
                    return _applied_outcome(booking)
                if booking.status is not BookingStatus.CONFIRMED:
                    return _outcome("ignored", booking, reason=f"booking is {booking.status.value}")
                action = classify(booking, event, services.business)
                if action == "unchanged":
                    await _remember_baseline(services, booking, etag, event, now)
                    return _outcome("unchanged", booking)
                try:
                    committed = await _commit(services, booking, etag, event, action, run_id, now,
                                              claimed_uncommitted)
                except ConflictError:
                    continue  # someone saved the booking meanwhile: look again
                log.info("applied an Outlook change to a booking: %s", action)
                return _outcome(action, committed, previousStart=booking.start.isoformat(),
                                previousEnd=booking.end.isoformat(),
                                conflictsWith=list(committed.outlook_sync.conflicts_with), committed=True)
        raise ConflictError("the booking kept changing while an Outlook change was applied", service="reconcile",
                            code="TooManyConflicts")
    finally:
        await _release_uncommitted(services, event_id, claimed_uncommitted)


async def _commit(services, booking: Booking, etag: str, event: CalendarEvent | None, action: Action,
                  run_id: str, now: datetime, claimed_uncommitted: list) -> Booking:
    subject = event.subject if event else (booking.outlook_sync.subject if booking.outlook_sync else None)
    location = event.location if event else (booking.outlook_sync.location if booking.outlook_sync else None)
    change_key = event.change_key if event else None
    if action == "cancelled":
        updated = notifications_pending(booking.cancel(now, CANCEL_REASON), ANNOUNCED[action])
        conflicts: tuple[str, ...] = ()
    elif action == "moved":
        updated = notifications_pending(booking.reschedule(event.start, event.end, now), ANNOUNCED[action])
        conflicts = await _move_claims(services, booking, updated, now)
        claimed_uncommitted.append((updated.host_id, updated.claim_granules(services.claims.granule)))
    else:
        updated = booking
        conflicts = booking.outlook_sync.conflicts_with if booking.outlook_sync else ()
    updated = updated.with_outlook_sync(now, subject=subject, location=location, change_key=change_key,
                                        applied_by=run_id, action=action, conflicts_with=conflicts)
    saved = await services.bookings.save(updated, etag)
    claimed_uncommitted.clear()
    await _finish_claims(services, saved.value)
    return saved.value


def notifications_pending(booking: Booking, channels: tuple[str, ...]) -> Booking:
    """The booking with these notification channels back to ``pending``, in the same save as the change, so
    the booking sagas' notification activities (``booking_notify_*``) announce this change once."""
    current = booking.notifications
    fresh = {channel: getattr(current, channel).model_copy(update={"status": "pending", "last_error": None})
             if channel in channels else getattr(current, channel) for channel in NOTIFICATION_CHANNELS}
    return booking.model_copy(update={"notifications": Notifications(**fresh)})


async def _finish_claims(services, booking: Booking) -> None:
    """What must follow a committed change on the claims side (idempotent): a cancellation frees its time."""
    if booking.status is BookingStatus.CANCELLED:
        await services.claims.release(booking.host_id, booking.id, booking.claim_granules(services.claims.granule))


async def _move_claims(services, old: Booking, new: Booking, now: datetime) -> tuple[str, ...]:
    """Claim the booking's new time and free its old one; returns the bookings it now overlaps (if any).

    Outlook has already moved the event, so a taken granule does not stop the move: the free part of the
    new time is claimed, the taken part stays its holder's, and the overlap is reported.
    """
    claims = services.claims
    old_granules = old.claim_granules(claims.granule)
    wanted = new.claim_granules(claims.granule)
    outcome = await claims.move(old.id, old_host_id=old.host_id, old_granules=old_granules,
                                new_host_id=new.host_id, new_granules=wanted, kind="booking", now=now)
    if outcome.won:
        return ()
    start, end = new.padded
    others = sorted({c.holder_id for c in await claims.list_claims(new.host_id, start, end, now=now)
                     if c.holder_id != old.id})
    free = [g for g in wanted if g not in set(outcome.conflicts)]
    for _ in range(_CLAIM_ATTEMPTS):
        outcome = await claims.move(old.id, old_host_id=old.host_id, old_granules=old_granules,
                                    new_host_id=new.host_id, new_granules=free, kind="booking", now=now)
        if outcome.won or not free:
            break
        free = [g for g in free if g not in set(outcome.conflicts)]
    if not free:  # all of the new time is someone else's: still let go of the old time
        await claims.release(old.host_id, old.id, old_granules)
    log.warning("a booking moved in Outlook now overlaps %d other booking(s)", len(others))
    return tuple(others)


async def _release_uncommitted(services, event_id: str, claimed: list[tuple[str, list[datetime]]]) -> None:
    """Give back granules claimed for a move that was never committed (another run won the booking)."""
    if not claimed:
        return
    stored = await services.bookings.find_by_event_id(event_id)
    if stored is None:
        return
    booking = stored.value
    keep = set(booking.claim_granules(services.claims.granule)) if booking.is_active else set()
    for host_id, granules in claimed:
        stale = [g for g in granules if host_id != booking.host_id or g not in keep]
        if stale:
            await services.claims.release(host_id, booking.id, stale)


async def _remember_baseline(services, booking: Booking, etag: str, event: CalendarEvent, now: datetime) -> None:
    """First sight of a booking's event: remember its text, so a later edit in Outlook can be told apart."""
    if booking.outlook_sync is not None:
        return
    try:
        await services.bookings.save(booking.with_outlook_sync(now, subject=event.subject, location=event.location,
                                                               change_key=event.change_key), etag)
    except ConflictError:
        pass  # someone else saved it; the next look remembers it


# ---------------------------------------------------------------------- telling others (after a commit)

async def _current(services, booking_id: str, run_id: str) -> Booking | None:
    """The booking, if ``run_id`` is still the latest run to have applied an Outlook change to it."""
    stored = await services.bookings.get(booking_id)
    if stored is None:
        return None
    sync = stored.value.outlook_sync
    if sync is None or sync.applied_by != run_id:
        return None  # superseded: a later run applied a newer change and tells people itself
    return stored.value


def _host_and_type(services, booking: Booking):
    business = services.business
    host = business.host(booking.host_id)
    event_type = business.event_type(booking.event_type_key)
    return host, event_type


def appointment_draft(booking: Booking, business) -> AppointmentDraft:
    """The booking's Dynamics appointment, with the subject and location Outlook now shows."""
    host, event_type = business.host(booking.host_id), business.event_type(booking.event_type_key)
    sync = booking.outlook_sync
    context = booking.context
    regarding = Regarding(context.dynamics_record_type, context.dynamics_record_id) \
        if context.dynamics_record_type and context.dynamics_record_id else None
    return AppointmentDraft(
        booking_id=booking.id,
        subject=(sync.subject if sync and sync.subject else texts.crm_subject(booking, event_type)),
        start=booking.start, end=booking.end,
        location=(sync.location if sync and sync.location is not None else texts.event_location(booking, event_type)),
        description=texts.crm_description(booking, business, event_type, host),
        regarding=regarding, owner_systemuser_id=host.dynamics_systemuser_id,
        routing_decision=texts.routing_summary(booking.routing))


async def update_crm(services, booking_id: str, run_id: str) -> dict[str, Any]:
    """Rewrite the booking's Dynamics appointment with its new time or the text Outlook now shows."""
    if services.crm is None:
        return {"channel": "crm", "status": "skipped", "reason": "Dynamics is not configured"}
    booking = await _current(services, booking_id, run_id)
    if booking is None or booking.status is not BookingStatus.CONFIRMED:
        return {"channel": "crm", "status": "superseded"}
    with log_context(booking_id=booking.id):
        try:
            appointment = await services.crm.upsert_appointment(appointment_draft(booking, services.business))
        except (NotFoundError, PermanentError) as exc:
            return {"channel": "crm", "status": "failed", "reason": f"{type(exc).__name__}: {exc}"[:500]}
    if booking.crm_appointment_id != appointment.id:
        await _remember_appointment(services, booking.id, appointment.id)
    return {"channel": "crm", "status": "sent"}


async def _remember_appointment(services, booking_id: str, appointment_id: str) -> None:
    for _ in range(3):
        stored = await services.bookings.get(booking_id)
        if stored is None or stored.value.crm_appointment_id == appointment_id:
            return
        try:
            now = clock.now()
            await services.bookings.save(stored.value.with_crm_appointment(appointment_id, now), stored.etag)
            return
        except ConflictError:
            continue


def conflict_email(booking: Booking, others: list[Booking], business) -> MailMessage:
    """The owner's e-mail about a booking moved in Outlook onto time other bookings hold."""
    host = business.host(booking.host_id)
    zone = host.time_zone

    def describe(item: Booking) -> str:
        try:
            name = business.event_type(item.event_type_key).name
        except KeyError:
            name = item.event_type_key
        when = f"{texts.format_when(item.start, zone)} - {texts.format_time(item.end, zone)}"
        return (f"<li>{html.escape(name)} for {html.escape(texts.one_line(item.customer.name, 80))}, "
                f"{html.escape(when)} "
                f"(booking {html.escape(item.id)}, {html.escape(item.status.value)})</li>")

    when = f"{texts.format_when(booking.start, zone)} - {texts.format_time(booking.end, zone)}"
    recipients = [host.mailbox] + ([business.business.email] if business.business.email else [])
    body = (f"<html><body><p>A booking was moved in {html.escape(host.display_name)}'s Outlook calendar onto time "
            f"that other Frontdesk bookings already hold. Frontdesk kept every booking where Outlook shows it and "
            f"texted the moved booking's customer the new time. Please move one of them in Outlook; Frontdesk "
            f"will tell that customer too.</p>"
            f"<p><b>Moved:</b></p><ul>{describe(booking)}</ul><p><b>It now overlaps:</b></p>"
            f"<ul>{''.join(describe(other) for other in others)}</ul></body></html>")
    return MailMessage(to=tuple(dict.fromkeys(r.lower() for r in recipients)),
                       subject=f"Double booking for {host.display_name} on {when}", body_html=body)


async def email_owner_about_conflict(services, booking_id: str, run_id: str) -> dict[str, Any]:
    """E-mail the host and the owner that a move in Outlook made bookings overlap."""
    booking = await _current(services, booking_id, run_id)
    if booking is None or not booking.outlook_sync.conflicts_with:
        return {"channel": "email", "status": "superseded" if booking is None else "skipped"}
    others = [stored.value for stored in [await services.bookings.get(other_id)
                                          for other_id in booking.outlook_sync.conflicts_with] if stored is not None]
    business = services.business
    message = conflict_email(booking, others, business)
    sender = business.business.email or business.host(booking.host_id).mailbox  # as the booking e-mails are sent
    with log_context(booking_id=booking.id):
        await services.mail.send_mail(sender, message)
    return {"channel": "email", "status": "sent", "overlaps": len(others)}


# ---------------------------------------------------------------------- resync (delta)

def resync_window(business, now: datetime) -> tuple[datetime, datetime]:
    """The calendar stretch a fresh delta round covers: a week back to past the furthest bookable day."""
    furthest = max((t.maximum_advance_days for t in business.event_types), default=60)
    return now - RESYNC_PAST, now + timedelta(days=furthest) + RESYNC_FUTURE_MARGIN


def _needs_reconcile(booking: Booking, event: CalendarEvent | None, business) -> bool:
    return booking.status is BookingStatus.CONFIRMED and classify(booking, event, business) != "unchanged"


async def resync_mailbox(services, mailbox: str, now: datetime) -> dict[str, Any]:
    """One calendarView delta round for a mailbox: the event ids whose booking disagrees with Outlook.

    Starts from the stored delta link (a fresh window when there is none, or when Graph no longer knows
    it) and stores the new one. Removed events are listed too: reconcile reads each one's current state,
    because an event that merely left the delta window was moved, not deleted. A delta round says
    nothing about an event made after the previous round and deleted before this one, so the host's
    bookings changed since the previous round (all of them after a fresh round) whose event the round
    did not mention are checked as well.
    """
    from shared.services.subscriptions import update_delta_state
    stored = await services.subscriptions.get(mailbox)
    record = stored.value if stored else None
    link = record.delta_link if record else None
    start, end = resync_window(services.business, now)
    restarted = False
    try:
        page = await services.calendar.delta(mailbox, start, end, link)
    except (NotFoundError, PermanentError) as exc:
        if not link:
            raise
        log.info("delta link no longer usable (%s); starting a full delta round", exc.code or exc.status)
        page = await services.calendar.delta(mailbox, start, end, None)
        restarted = True
    to_reconcile: list[str] = []
    for event in page.changed:
        found = await services.bookings.find_by_event_id(event.id)
        if found is not None and _needs_reconcile(found.value, event, services.business):
            to_reconcile.append(event.id)
    for event_id in page.removed_ids:
        found = await services.bookings.find_by_event_id(event_id)
        if found is not None and found.value.status is BookingStatus.CONFIRMED:
            to_reconcile.append(event_id)
    since = None if (link is None or restarted or record.last_resync_at is None) \
        else record.last_resync_at - RESYNC_OVERLAP
    mentioned = {event.id for event in page.changed} | set(page.removed_ids)
    to_reconcile += await _unmentioned_bookings(services, mailbox, start, end, since, mentioned)
    await update_delta_state(services.subscriptions, mailbox, delta_link=page.delta_link, resynced_at=now)
    log.info("resync of a mailbox: %d changed, %d removed, %d to reconcile", len(page.changed),
             len(page.removed_ids), len(to_reconcile))
    return {"mailbox": mailbox, "changed": len(page.changed), "removed": len(page.removed_ids),
            "reconcile": list(dict.fromkeys(to_reconcile)), "restarted": restarted}


async def _unmentioned_bookings(services, mailbox: str, start: datetime, end: datetime, since: datetime | None,
                                mentioned: set[str]) -> list[str]:
    """Event ids of the mailbox's confirmed bookings changed since ``since`` (all when None) that a delta
    round did not mention: their event may have come and gone between two rounds."""
    hosts = [h for h in services.business.hosts if h.mailbox.strip().lower() == mailbox.strip().lower()]
    found: list[str] = []
    for host in hosts:
        for item in await services.bookings.list_by_host(host.id, start, end,
                                                         statuses=[BookingStatus.CONFIRMED.value]):
            if (item.outlook_event_id and item.outlook_event_id not in mentioned
                    and (since is None or item.updated_at >= since)):
                found.append(item.outlook_event_id)
    return found


def known_mailboxes(services) -> list[str]:
    """The active hosts' mailboxes (what the daily resync walks)."""
    return list(dict.fromkeys(h.mailbox.strip().lower() for h in services.business.hosts if h.active))


