"""Reminder texts before a visit: when they are due, and sending one exactly once.

Each event type lists its reminders (``EventType.reminders``, default ``["evening_before", "2h"]``; ``[]``
turns them off): ``evening_before`` is 18:00 on the customer's wall clock the day before the visit, and a
lead time (``90m``, ``2h``, ``1d``) is that long before the start.

**Quiet hours** (``Business.quiet_hours``, default ``21:00-08:00`` on the customer's clock, the booking's
``time_zone``): a reminder due inside them is moved *earlier*, to one minute before they begin (20:59),
so the customer still hears before the visit and nobody's phone buzzes at night. A moved reminder that
lands within :data:`MERGE_WINDOW` after another reminder of the same booking is dropped (the evening text
already said it: a 9:00 visit gets one text at 18:00, not a second one at 20:59). A reminder whose moment
has passed when it is planned (a booking made at 22:00 for 8:00) is not sent late.

**Sending** (:func:`send_reminder`, run by the ``reminders_send`` activity) re-reads the booking and sends
nothing for a booking that is gone, cancelled, moved (the reminder was planned for another start), past,
or when the orchestration's clock is inside quiet hours (a timer that fired late after an outage). The
text goes through the at-most-once SMS path with the key ``reminder:<booking>:<kind>:<start>``, so a
restarted host or a re-run activity never texts twice, and a moved booking gets its reminders anew.
An opted-out number (STOP) is skipped by the SMS sender before any gateway is called.

The durable side lives in ``orchestrators/reminders.py`` (one ``booking_reminders`` instance per booking,
id :func:`reminder_instance_id`) and ``activities/reminders.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from shared.domain.booking import Booking, BookingStatus
from shared.domain.business import Business, EventType
from shared.domain.timezones import wall_to_utc, zone
from shared.errors import OptedOutError, PermanentError
from shared.logs import get_logger

log = get_logger(__name__)
UTC = timezone.utc

EVENING_BEFORE = "evening_before"
EVENING_AT = time(18, 0)
MERGE_WINDOW = timedelta(hours=3)
BEFORE_QUIET = timedelta(minutes=1)
LATE_GRACE = timedelta(hours=3)  # a reminder whose timer fired this late (host down) is no longer worth sending
INSTANCE_PREFIX = "reminders:"
ORCHESTRATOR = "booking_reminders"
CHANGED_EVENT = "booking_changed"
LIVE = ("Running", "Pending", "ContinuedAsNew")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder of one booking: which (``kind``), for which start, and when it goes out."""

    kind: str
    start: datetime
    at: datetime
    moved_for_quiet_hours: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "start": self.start.isoformat(), "at": self.at.isoformat(),
                "movedForQuietHours": self.moved_for_quiet_hours}


def reminder_instance_id(booking_id: str) -> str:
    """The reminder orchestration's instance id: one per booking, so starting it twice finds the first."""
    return f"{INSTANCE_PREFIX}{booking_id}"


def send_key(booking_id: str, kind: str, start: datetime) -> str:
    """The at-most-once key of a reminder text: the same on every retry and restart, new for a new start."""
    return f"reminder:{booking_id}:{kind}:{start.astimezone(UTC).strftime('%Y%m%dT%H%MZ')}"


# ---------------------------------------------------------------- when (pure)

def _nominal(kind: str, start: datetime, time_zone: str) -> datetime:
    if kind == EVENING_BEFORE:
        tz = zone(time_zone)
        day_before = start.astimezone(tz).date() - timedelta(days=1)
        return wall_to_utc(datetime.combine(day_before, EVENING_AT), tz)
    amount, unit = int(kind[:-1]), _UNITS[kind[-1]]
    return start - timedelta(**{unit: amount})


def _parse_range(quiet_hours: str) -> tuple[time, time]:
    first, last = quiet_hours.split("-")
    return time.fromisoformat(first), time.fromisoformat(last)


def quiet_interval(instant: datetime, quiet_hours: str | None, time_zone: str) -> tuple[datetime, datetime] | None:
    """The quiet-hours interval (UTC) that contains ``instant`` on the customer's clock, or None."""
    if not quiet_hours:
        return None
    begin, end = _parse_range(quiet_hours)
    if begin == end:
        return None
    tz = zone(time_zone)
    local_day = instant.astimezone(tz).date()
    for day in (local_day - timedelta(days=1), local_day):
        lo = wall_to_utc(datetime.combine(day, begin), tz)
        hi_day = day + timedelta(days=1) if end <= begin else day
        hi = wall_to_utc(datetime.combine(hi_day, end), tz)
        if lo <= instant < hi:
            return lo, hi
    return None


def in_quiet_hours(instant: datetime, business: Business, time_zone: str) -> bool:
    return quiet_interval(instant, business.quiet_hours, time_zone) is not None


def planned_reminders(booking: Booking, event_type: EventType, business: Business) -> list[Reminder]:
    """Every reminder of the booking as it stands, quiet hours applied, earliest first (ignores "now")."""
    planned: list[Reminder] = []
    for kind in event_type.reminders:
        at = _nominal(kind, booking.start, booking.time_zone)
        quiet = quiet_interval(at, business.quiet_hours, booking.time_zone)
        moved = quiet is not None
        if moved:
            at = quiet[0] - BEFORE_QUIET
        if at >= booking.start:
            continue
        planned.append(Reminder(kind, booking.start, at, moved))
    planned.sort(key=lambda r: (r.at, r.kind))
    kept: list[Reminder] = []
    for reminder in planned:
        if reminder.moved_for_quiet_hours and any(reminder.at - other.at < MERGE_WINDOW for other in kept):
            continue
        if any(other.at == reminder.at for other in kept):
            continue  # two kinds on the same minute: one text
        kept.append(reminder)
    return kept


def next_reminder(booking: Booking | None, event_type: EventType | None, business: Business,
                  now: datetime) -> tuple[Reminder | None, str]:
    """The next reminder to send after ``now`` and why there is none when there is none."""
    if booking is None or event_type is None:
        return None, "the booking does not exist"
    if booking.status is not BookingStatus.CONFIRMED:
        return None, f"the booking is {booking.status.value}"
    if booking.start <= now:
        return None, "the visit has begun"
    if not event_type.reminders:
        return None, "reminders are off for this event type"
    for reminder in planned_reminders(booking, event_type, business):
        if reminder.at > now:
            return reminder, "due"
    return None, "no reminder left before the visit"


# ---------------------------------------------------------------- the activities' use cases (I/O)

async def _booking_and_type(services, booking_id: str) -> tuple[Booking | None, EventType | None]:
    stored = await services.bookings.get(booking_id)
    if stored is None:
        return None, None
    booking = stored.value
    try:
        return booking, services.business.event_type(booking.event_type_key)
    except KeyError:
        return booking, None


async def plan(services, booking_id: str, now: datetime) -> dict[str, Any]:
    """``{"next": Reminder JSON or None, "why"}`` for the booking as stored now."""
    booking, event_type = await _booking_and_type(services, booking_id)
    reminder, why = next_reminder(booking, event_type, services.business.business, now)
    return {"next": reminder.to_dict() if reminder else None, "why": why}


def _skip(note: str) -> dict[str, Any]:
    log.info("reminder not sent: %s", note)
    return {"status": "skipped", "note": note}


async def send_reminder(services, booking_id: str, kind: str, start: datetime, now: datetime) -> dict[str, Any]:
    """Text the reminder ``kind`` planned for ``start``, unless the booking as it stands says not to.

    Returns ``{"status": sent|skipped, "note"}``; a retryable gateway failure raises (the activity retries
    it; the at-most-once key keeps a retry from texting twice).
    """
    from shared.services import manage_links
    from shared.services import notifications as texts
    booking, event_type = await _booking_and_type(services, booking_id)
    if booking is None or event_type is None:
        return _skip("the booking does not exist")
    from shared.logs import redact
    redact(booking.customer.name, booking.customer.address)
    if booking.status is not BookingStatus.CONFIRMED:
        return _skip(f"the booking is {booking.status.value}")
    if booking.start != start:
        return _skip("the booking has moved since this reminder was planned")
    if now >= booking.start:
        return _skip("the visit has begun")
    business = services.business.business
    if in_quiet_hours(now, business, booking.time_zone):
        return _skip("quiet hours on the customer's clock")
    if kind not in event_type.reminders:
        return _skip(f"{kind} reminders are no longer configured")
    if not booking.customer.phone:
        return _skip("no phone number")
    config = services.business
    host = config.hosts_by_id.get(booking.host_id)
    body = texts.reminder_text(booking, config, event_type, host, now,
                               manage_url=manage_links.link_for(services.settings, booking))
    try:
        receipt = await services.sms.send_sms(booking.customer.phone, body, tag="booking-reminder",
                                              key=send_key(booking.id, kind, start))
    except OptedOutError:
        return _skip("the customer opted out of texts")
    except PermanentError as exc:
        return _skip(f"the text could not be sent: {exc}"[:300])
    if receipt.status == "skipped":
        return _skip("SMS is disabled (SMS__PROVIDER=none)")
    log.info("reminder %s sent", kind)
    return {"status": "sent", "note": None}


# ---------------------------------------------------------------- starting, moving, stopping (durable client)

def _runtime(status) -> str | None:
    value = getattr(status, "runtime_status", None)
    return getattr(value, "value", value)


async def follow_booking(client, booking_id: str, change: str) -> str:
    """Keep the booking's reminder orchestration in step after ``change`` (confirmed, rescheduled, moved,
    cancelled): a running one is told to plan again (it re-reads the booking: a cancelled booking ends it, a
    moved one re-arms for the new start); none running and the booking live: one is started. Idempotent.
    Returns what was done: ``told``, ``started`` or ``nothing``."""
    instance_id = reminder_instance_id(booking_id)
    # Telling first costs one request in the usual case (the saga waits on this activity before it ends).
    try:
        await client.raise_event(instance_id, CHANGED_EVENT, {"change": change})
        return "told"
    except Exception:  # noqa: BLE001 - the SDK raises a bare Exception for 404 (never started) and 410 (ended)
        pass
    if change == "cancelled":
        return "nothing"
    try:
        await client.start_new(ORCHESTRATOR, instance_id, {"bookingId": booking_id})
    except Exception:  # noqa: BLE001 - started concurrently (a re-run activity): tell that one instead
        again = await client.get_status(instance_id)
        if not again or _runtime(again) not in LIVE:
            raise
        await client.raise_event(instance_id, CHANGED_EVENT, {"change": change})
        return "told"
    return "started"
