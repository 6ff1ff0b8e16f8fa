"""What the dialog asks for, done: find times, hold, confirm or release through the booking saga, take messages.

Each action is bounded in time, and all the actions of one webhook together by ``ACTIONS_BUDGET_SECONDS``
counted from the webhook's start (the language step included), so no webhook comes near Twilio's 15 seconds:

- :class:`FindSlots` reads live availability (``shared.services.availability``) for the caller's words
  (``search_window`` / ``accepts``); when nothing fits it widens step by step (the caller's part of the day
  on other days, then any time), never offering what the caller ruled out (4 s at most);
- :class:`PlaceHold` starts ``booking_saga`` with ``confirmation="await"`` and returns at once -- the
  dialog says a filler and redirects (the instance id is the booking id, derived from the hold key, so
  a retried webhook joins the same saga). A hold that replaces an earlier one of the same call waits
  (briefly) for that one to be released first, or is deferred to the next poll;
- :class:`CheckHold` reads the saga's custom status, waiting at most ~1.5 s for it to move;
- :class:`ConfirmHold` / :class:`ReleaseHold` raise the ``confirm`` event (``{"confirmed": true|false}``);
  an event for a saga that already ended is harmless and ignored;
- :class:`TakeMessage` e-mails the owner (business e-mail) with everything the caller said; a message that
  cannot be sent in time stays on the call record and is sent again when the call ends;
- :class:`FindBookings` finds the caller's upcoming bookings by phone (the hashed phone index,
  ``BookingStore.find_by_phone``: one partition query, no scan) or by reference (a point read of the id),
  each with its phone self-service lock (``SelfServiceLocks``);
- :class:`ChangeBooking` starts (or joins) the cancel or reschedule saga under the booking API's own
  instance ids (so a cancel asked by phone, link and API at once is one cancel) and waits briefly for it;
- :class:`LockSelfService` locks a booking's changes by phone for an hour and e-mails the owner.
"""

from __future__ import annotations

import asyncio
import html
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.domain.dialog import (BookingsFound, ChangeBooking, ChangeUpdate, CheckHold, ConfirmHold, FindBookings,
                                  FindSlots, FoundBooking, HoldUpdate, JoinWaitlist, LockSelfService, PlaceHold,
                                  ReleaseHold, SlotsFound, TakeMessage, WaitlistJoined, zip_digest)
from shared.domain.dialog.offers import fitting, widened
from shared.domain.routing import RoutingContext
from shared.domain.understanding import search_window
from shared.errors import ExternalServiceError
from shared.logs import get_logger
from shared.services.contracts import cancel_instance_id, decoded, reschedule_instance_id

log = get_logger(__name__)
UTC = timezone.utc

FIND_BUDGET_SECONDS = 4.0
START_BUDGET_SECONDS = 3.0
POLL_BUDGET_SECONDS = 1.5
REPLACE_WAIT_SECONDS = 1.5
MAIL_BUDGET_SECONDS = 4.0
LOOKUP_BUDGET_SECONDS = 3.0
CHANGE_WAIT_SECONDS = 3.0  # the cancel or reschedule saga usually ends in well under this; else poll again
ACTIONS_BUDGET_SECONDS = 8.0  # all actions of one webhook together, counted from the webhook's start
MIN_BUDGET_SECONDS = 0.2
SEARCH_HORIZON = timedelta(days=14)
OFFER_KEEPS_FOR = timedelta(minutes=10)  # an offered time still keeps the notice this long after it was said
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}


def booking_id_of(key: str) -> str:
    """The booking id (and saga instance id) of the hold ``<CallSid>/<attempt>``."""
    from shared.services.contracts import booking_id_for
    return booking_id_for("voice", key)


class ActionRunner:
    """Executes dialog actions for one webhook; ``client`` is the Durable client binding of that webhook."""

    def __init__(self, services, availability, client, *, now: datetime, call_sid: str, hold_seconds: int = 300,
                 deadline: float | None = None):
        self.services = services
        self.hold_seconds = hold_seconds
        self.deadline = deadline if deadline is not None else time.monotonic() + ACTIONS_BUDGET_SECONDS
        self.availability = availability
        self.client = client
        self.now = now
        self.call_sid = call_sid
        self.config = services.business
        self.mail_failed: list[dict[str, Any]] = []

    def budget(self, own: float) -> float:
        """An action's time limit: its own, cut to what is left of the webhook's (never below a sliver)."""
        return max(MIN_BUDGET_SECONDS, min(own, self.deadline - time.monotonic()))

    async def run(self, action):
        """Do ``action``; its answer as a dialog event (or None when it has none)."""
        handler = {FindSlots: self.find_slots, PlaceHold: self.place_hold, CheckHold: self.check_hold,
                   ConfirmHold: self.confirm, ReleaseHold: self.release, TakeMessage: self.take_message,
                   FindBookings: self.find_bookings, ChangeBooking: self.change_booking,
                   LockSelfService: self.lock_self_service, JoinWaitlist: self.join_waitlist}[type(action)]
        return await handler(action)

    # ------------------------------------------------------------ times

    async def find_slots(self, action: FindSlots) -> SlotsFound:
        try:
            async with asyncio.timeout(self.budget(FIND_BUDGET_SECONDS)):
                return await self._find_slots(action)
        except (ExternalServiceError, TimeoutError, LookupError) as exc:
            log.warning("could not read availability for the caller (%s)", type(exc).__name__)
            return SlotsFound((), matched=False, failed=True)

    async def _find_slots(self, action: FindSlots) -> SlotsFound:
        if action.booking_id:
            return await self._find_move_slots(action)
        time_zone = self.config.business.time_zone
        event_type = self.config.event_type(action.event_type)
        context = RoutingContext(postal_code=action.postal_code)
        horizon = min(event_type.maximum_advance, SEARCH_HORIZON if not action.urgent else event_type.maximum_advance)
        start, end = search_window(action.times, self.now, horizon)
        keeps = lasting_offers(event_type, self.now, urgent=action.urgent)
        if end > start:  # the caller's own window first: usually a day or two, cheap to read
            result = await self.availability.slots(event_type, start, end, context=context, now=self.now)
            if (found := fitting(action.times, keeps(result.slots), action.exclude, time_zone)) is not None:
                return found
        result = await self.availability.slots(event_type, self.now, self.now + horizon, context=context,
                                               now=self.now)
        return widened(action.times, keeps(result.slots), action.exclude, start, time_zone)

    async def _find_move_slots(self, action: FindSlots) -> SlotsFound:
        """Times to move a booking to: its own routing (ZIP, CRM owner), its own time not counted as taken;
        times its current technician is free for first, then the rest of the pool (the reschedule saga
        keeps the current host whenever they are free, as the API and the manage page do)."""
        stored = await self.services.bookings.get(action.booking_id)
        if stored is None:
            raise LookupError("the booking is gone")
        booking = stored.value
        time_zone = self.config.business.time_zone
        event_type = self.config.event_type(booking.event_type_key)
        context = RoutingContext(postal_code=booking.customer.postal_code, crm_owner_id=booking.context.owner_id)
        start, end = search_window(action.times, self.now, min(event_type.maximum_advance, SEARCH_HORIZON))
        horizon_end = self.now + min(event_type.maximum_advance, SEARCH_HORIZON)
        result = await self.availability.slots(event_type, self.now, horizon_end, context=context, now=self.now,
                                               exclude_booking_id=booking.id)
        slots = lasting_offers(event_type, self.now, urgent=False)(result.slots)  # still bookable when chosen
        exclude = (*action.exclude, booking.start)
        same = [slot for slot in slots if booking.host_id in slot.host_ids]
        for pool in (same, slots):
            inside = [slot for slot in pool if start <= slot.start < end] if end > start else pool
            if (found := fitting(action.times, inside, exclude, time_zone)) is not None:
                return found
        for pool in (same, slots):
            widened_found = widened(action.times, pool, exclude, start, time_zone)
            if widened_found.slots:
                return widened_found
        return SlotsFound((), matched=False)

    # ------------------------------------------------------------ existing bookings (calls to change one)

    async def find_bookings(self, action: FindBookings) -> BookingsFound:
        try:
            async with asyncio.timeout(self.budget(LOOKUP_BUDGET_SECONDS)):
                if action.kind == "reference":
                    stored = await self.services.bookings.get(action.value)
                    found = [stored] if stored is not None else []
                elif action.kind == "name_zip":
                    name, _, postal_code = action.value.rpartition("|")
                    found = await self.services.bookings.find_by_name_and_postal_code(name, postal_code)
                else:
                    found = await self.services.bookings.find_by_phone(action.value)
                upcoming = [item.value for item in found if item.value.end > self.now]
                bookings = tuple([await self._found(booking) for booking in upcoming])
        except (ExternalServiceError, TimeoutError) as exc:
            log.warning("could not look up the caller's bookings (%s)", type(exc).__name__)
            return BookingsFound(action.kind, (), failed=True)
        log.info("caller's bookings looked up by %s: %d upcoming", action.kind, len(bookings))
        return BookingsFound(action.kind, bookings)

    async def _found(self, booking) -> FoundBooking:
        from shared.adapters.store_selfservice import SelfServiceLocks
        host = self.config.hosts_by_id.get(booking.host_id)
        first = host.display_name.split()[0] if host is not None and host.kind == "person" else None
        locked = await SelfServiceLocks(self.services.settings).locked_until(booking.id, self.now)
        return FoundBooking(booking_id=booking.id, event_type=booking.event_type_key, start=booking.start,
                            end=booking.end, status=booking.status.value, version=booking.version, technician=first,
                            zip_digest=zip_digest(booking.id, booking.customer.postal_code),
                            locked=locked is not None)

    async def change_booking(self, action: ChangeBooking) -> ChangeUpdate:
        """Start (or, on a poll, look at) the cancel or reschedule saga; wait briefly for its outcome."""
        from shared.services.contracts import CANCEL_SAGA, RESCHEDULE_SAGA, CancelInput, RescheduleInput
        if action.kind == "cancel":
            instance = cancel_instance_id(action.booking_id)
            orchestrator = CANCEL_SAGA
            payload = CancelInput(booking_id=action.booking_id, reason="cancelled by the customer by phone",
                                  requested_at=self.now)
        else:
            instance = reschedule_instance_id(action.booking_id, action.start, action.version)
            orchestrator = RESCHEDULE_SAGA
            payload = RescheduleInput(booking_id=action.booking_id, start=action.start, requested_at=self.now)
        try:
            async with asyncio.timeout(self.budget(CHANGE_WAIT_SECONDS + START_BUDGET_SECONDS)):
                status = await self.client.get_status(instance)
                if action.first and (not status or _runtime(status) in TERMINAL and not _changed(status)):
                    await self.client.start_new(orchestrator, instance, payload.model_dump(mode="json", by_alias=True))
                    log.info("%s saga started by phone for %s", action.kind, action.booking_id)
                update = await self._change_outcome(action.booking_id, instance)
        except TimeoutError:
            return ChangeUpdate(action.booking_id, "pending")
        except Exception as exc:  # noqa: BLE001 - the SDK raises bare Exceptions; the caller must hear an outcome
            log.warning("could not change the booking by phone (%s)", type(exc).__name__)
            return ChangeUpdate(action.booking_id, "failed", "the booking system did not answer")
        if update.status == "done":
            await self._tell_owner_of_change(action)
        return update

    async def _tell_owner_of_change(self, action: ChangeBooking) -> None:
        """The sagas e-mail the office only about new bookings; a change made by phone is told here."""
        from shared.services.notifications import format_when
        stored = await self.services.bookings.get(action.booking_id)
        if stored is None:
            return
        booking = stored.value
        zone = self.config.business.time_zone
        service = self.config.event_types_by_key.get(booking.event_type_key)
        name = service.name if service is not None else booking.event_type_key
        was = format_when(action.was, zone) if action.was else "its old time"
        if action.kind == "cancel":
            subject = f"Cancelled by phone: {name} on {was}"
            said = f"The customer called and cancelled their {name} on {was}."
        else:
            subject = f"Moved by phone: {name} from {was} to {format_when(booking.start, zone)}"
            said = f"The customer called and moved their {name} from {was} to {format_when(booking.start, zone)}."
        host = self.config.hosts_by_id.get(booking.host_id)
        rows = (("Booking", booking.id), ("Customer", booking.customer.name), ("With", host.display_name if host
                                                                                else booking.host_id),
                ("Verified by", "caller id or reference and ZIP code"), ("Call", self.call_sid))
        table = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in rows)
        message = owner_notice(self.config, subject, f"<p>{html.escape(said)} Outlook, Dynamics and the customer's "
                                                     f"text are already updated.</p><table>{table}</table>")
        try:
            async with asyncio.timeout(self.budget(MAIL_BUDGET_SECONDS)):
                await self.services.mail.send_mail(self._sender(), message)
        except (ExternalServiceError, TimeoutError) as exc:
            log.error("could not tell the office about a change by phone (%s)", type(exc).__name__)
            self.mail_failed.append(message_json(message))

    async def _change_outcome(self, booking_id: str, instance: str) -> ChangeUpdate:
        delay = 0.1
        while True:
            status = await self.client.get_status(instance)
            runtime = _runtime(status) if status else None
            if runtime in TERMINAL:
                output = decoded(getattr(status, "output", None)) or {}
                outcome = output.get("outcome") if isinstance(output, dict) else None
                if outcome in ("cancelled", "rescheduled", "unchanged"):
                    return ChangeUpdate(booking_id, "done", outcome)
                if outcome == "conflict":
                    return ChangeUpdate(booking_id, "conflict", outcome)
                reason = output.get("reason") if isinstance(output, dict) else None
                return ChangeUpdate(booking_id, "failed", str(reason or outcome or runtime))
            await asyncio.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    async def lock_self_service(self, action: LockSelfService) -> None:
        """Lock the booking's changes by phone and tell the owner (a failure is logged; the call goes on)."""
        from shared.adapters.store_selfservice import SelfServiceLocks
        from shared.services.notifications import display_phone, format_when
        try:
            async with asyncio.timeout(self.budget(MAIL_BUDGET_SECONDS)):
                until = await SelfServiceLocks(self.services.settings).lock(action.booking_id, self.now,
                                                                           action.reason)
                zone = self.config.business.time_zone
                rows = (("Booking", action.booking_id), ("Why", action.reason),
                        ("Caller id", display_phone(action.caller) if action.caller else "withheld"),
                        ("Locked until", format_when(until, zone)), ("Call", self.call_sid))
                table = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                                for k, v in rows)
                message = owner_notice(self.config, f"Phone changes locked for booking {action.booking_id}",
                                       "<p>Someone calling about this booking gave a wrong ZIP code three times, so "
                                       "the phone receptionist will not change it until the time below. The "
                                       f"booking itself is unchanged.</p><table>{table}</table>")
                await self.services.mail.send_mail(self._sender(), message)
            log.warning("phone self-service locked for %s after wrong ZIP codes", action.booking_id)
        except (ExternalServiceError, TimeoutError) as exc:
            log.error("could not lock phone self-service or tell the owner (%s)", type(exc).__name__)

    async def join_waitlist(self, action: JoinWaitlist) -> WaitlistJoined:
        """Put the call's confirmed booking on the waitlist for a time before it (within 14 days)."""
        from shared.domain.booking import Customer
        from shared.services import waitlist
        details = action.details
        end = min(action.start, self.now + waitlist.MAX_WINDOW)
        if end <= self.now:
            return WaitlistJoined(action.key, False)
        try:
            request = waitlist.WaitlistRequest(
                event_type=action.event_type, window_start=self.now, window_end=end,
                time_zone=self.config.business.time_zone, booking_id=booking_id_of(action.key),
                customer=Customer(name=details.name or "Caller", phone=details.phone, email=details.email,
                                  address=details.address, postal_code=details.postal_code))
            async with asyncio.timeout(self.budget(LOOKUP_BUDGET_SECONDS)):
                await waitlist.join_waitlist(self.services, request, self.now, channel="voice")
        except (ValueError, ExternalServiceError, TimeoutError) as exc:  # WaitlistError is a ValueError
            log.warning("could not put the caller on the waitlist (%s: %s)", type(exc).__name__, exc)
            return WaitlistJoined(action.key, False)
        log.info("caller's booking put on the waitlist for an earlier time")
        return WaitlistJoined(action.key, True)

    # ------------------------------------------------------------ holds (the booking saga)

    async def place_hold(self, action: PlaceHold) -> HoldUpdate:
        if action.replaces and not await self._ended(booking_id_of(action.replaces),
                                                     self.budget(REPLACE_WAIT_SECONDS)):
            return HoldUpdate(action.key, "deferred")
        booking_id = booking_id_of(action.key)
        payload = self._saga_input(action, booking_id)
        try:
            async with asyncio.timeout(self.budget(START_BUDGET_SECONDS)):
                await self._start(booking_id, payload)
        except Exception as exc:  # the SDK raises bare Exceptions; a caller must hear an outcome, not an error
            log.warning("could not start the booking saga (%s)", type(exc).__name__)
            return HoldUpdate(action.key, "failed", "the booking system did not answer")
        log.info("booking saga started for %s", action.event_type)
        return HoldUpdate(action.key, "pending")

    async def _start(self, booking_id: str, payload: dict[str, Any]) -> None:
        from shared.services.contracts import BOOKING_SAGA
        try:
            await self.client.start_new(BOOKING_SAGA, booking_id, payload)
        except Exception:
            # A retried webhook: the saga already exists under this id, which is all we wanted.
            if not await self.client.get_status(booking_id):
                raise

    def _saga_input(self, action: PlaceHold, booking_id: str) -> dict[str, Any]:
        from shared.domain.booking import BookingContext, Customer
        from shared.services.contracts import BookingRequest, SagaInput, fingerprint
        details = action.details
        customer = Customer(name=details.name or "Caller", phone=details.phone, email=details.email,
                            address=details.address, postal_code=details.postal_code, notes=action.notes)
        request = BookingRequest(
            event_type=action.event_type, start=action.start, time_zone=self.config.business.time_zone,
            customer=customer, confirmation="await", hold_seconds=self.hold_seconds,
            context=BookingContext(channel="voice", initiated_by=f"phone receptionist (call {self.call_sid})"))
        body = request.model_dump(mode="json", by_alias=True)
        saga = SagaInput(booking_id=booking_id, request=request, idempotency_key=f"voice/{action.key}",
                         fingerprint=fingerprint(body), requested_at=self.now)
        return saga.model_dump(mode="json", by_alias=True)

    async def check_hold(self, action: CheckHold) -> HoldUpdate:
        booking_id = booking_id_of(action.key)
        deadline = time.monotonic() + self.budget(POLL_BUDGET_SECONDS)
        delay = 0.05
        while True:
            try:
                status = await self.client.get_status(booking_id)
            except Exception as exc:  # noqa: BLE001 - a failed read is "not yet": the next poll reads again
                log.warning("could not read the booking saga's status (%s)", type(exc).__name__)
                status = None
            update = hold_update(action.key, status, confirming=action.confirming)
            if update.status != "pending" or time.monotonic() + delay > deadline:
                return update
            await asyncio.sleep(delay)
            delay = min(delay * 1.6, 0.3)

    async def _ended(self, booking_id: str, wait: float) -> bool:
        """Whether the saga ``booking_id`` has ended (or never started), waiting up to ``wait`` seconds."""
        deadline = time.monotonic() + wait
        while True:
            status = await self.client.get_status(booking_id)
            if not status or _runtime(status) in TERMINAL:
                return True
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)

    async def confirm(self, action: ConfirmHold) -> None:
        await self._raise(action.key, True)

    async def release(self, action: ReleaseHold) -> None:
        await self._raise(action.key, False)

    async def _raise(self, key: str, confirmed: bool) -> None:
        from shared.services.contracts import CONFIRM_EVENT
        try:
            async with asyncio.timeout(self.budget(START_BUDGET_SECONDS)):
                await self.client.raise_event(booking_id_of(key), CONFIRM_EVENT, {"confirmed": confirmed})
        except Exception as exc:  # noqa: BLE001 - a saga that already ended (lost, expired) has nothing to hear
            log.info("confirmation %s not delivered (%s); the saga has ended or will time out",
                     "yes" if confirmed else "no", type(exc).__name__)

    # ------------------------------------------------------------ messages

    async def take_message(self, action: TakeMessage) -> None:
        message = owner_message(action, self.config, self.now, self.call_sid)
        sender = self._sender()
        try:
            async with asyncio.timeout(self.budget(MAIL_BUDGET_SECONDS)):
                await self.services.mail.send_mail(sender, message)
            log.info("message for the office sent (%s)", "urgent" if action.urgent else "normal")
        except (ExternalServiceError, TimeoutError) as exc:
            log.error("could not e-mail the caller's message (%s); it stays on the call record to be retried",
                      type(exc).__name__)
            self.mail_failed.append(message_json(message))

    def _sender(self) -> str:
        """The office mailbox (the business e-mail), else the first person's, as the booking e-mails do."""
        business = self.config.business
        if business.email:
            return business.email
        people = [host.mailbox for host in self.config.hosts if host.kind == "person"]
        return (people or [self.config.hosts[0].mailbox])[0]


def _changed(status) -> bool:
    """Whether a finished cancel or reschedule saga changed the booking (else a new attempt starts afresh)."""
    output = decoded(getattr(status, "output", None)) or {}
    return isinstance(output, dict) and output.get("outcome") in ("cancelled", "rescheduled")


def owner_notice(config, subject: str, body_html: str):
    """A short e-mail to the office (the business e-mail, else the first person's mailbox)."""
    from shared.ports import MailMessage
    recipients = (config.business.email,) if config.business.email else ()
    if not recipients:
        recipients = tuple(host.mailbox for host in config.hosts if host.kind == "person")[:1]
    return MailMessage(to=recipients, subject=subject[:250], body_html=f"<html><body>{body_html}</body></html>",
                       reply_to=())


def hold_update(key: str, status, *, confirming: bool) -> HoldUpdate:
    """The dialog's view of a booking saga's status (None: not started yet)."""
    if not status:
        return HoldUpdate(key, "pending")
    runtime = _runtime(status)
    custom = decoded(getattr(status, "custom_status", None)) or {}
    stage = custom.get("stage") if isinstance(custom, dict) else None
    if runtime == "Completed":
        output = decoded(getattr(status, "output", None)) or {}
        outcome = output.get("outcome") if isinstance(output, dict) else None
        mapped = {"confirmed": "confirmed", "conflict": "lost", "expired": "expired", "declined": "released",
                  "cancelled": "released", "held": "held"}.get(outcome, "failed")
        reason = output.get("reason") if isinstance(output, dict) else None
        if mapped == "held" and confirming:
            mapped = "pending"
        return HoldUpdate(key, mapped, reason or outcome)
    if runtime in TERMINAL:
        return HoldUpdate(key, "failed", f"the booking saga {str(runtime).lower()}")
    if stage == "held":
        return HoldUpdate(key, "pending" if confirming else "held")
    if stage == "notifying":
        return HoldUpdate(key, "confirmed")
    return HoldUpdate(key, "pending")


def _runtime(status) -> str | None:
    value = getattr(status, "runtime_status", None)
    return getattr(value, "value", value)


def lasting_offers(event_type, now: datetime, *, urgent: bool):
    """A filter keeping the times that still keep the minimum notice ``OFFER_KEEPS_FOR`` from now.

    Times are offered as they will be when the caller picks one: a time that falls inside the notice while
    the caller thinks it over would be refused at the hold ("just taken"). Claims are still read as of now
    (a hold about to lapse is not free yet). An emergency is offered the earliest time regardless.
    """
    earliest = now + event_type.minimum_notice + (timedelta(0) if urgent else OFFER_KEEPS_FOR)
    return lambda slots: [slot for slot in slots if slot.start >= earliest]


def owner_message(action: TakeMessage, config, now: datetime, call_sid: str):
    """The e-mail to the office: urgent ones say so first; everything the caller said is escaped."""
    from shared.ports import MailMessage
    from shared.services.notifications import display_phone, format_when
    details = action.details
    callback = details.phone or action.caller
    who = details.name or "A caller"
    subject = f"{'URGENT: ' if action.urgent else ''}Call back {who} - {action.reason}"[:250]
    time_zone = config.business.time_zone
    service = None
    if details.event_type and details.event_type in config.event_types_by_key:
        service = config.event_type(details.event_type).name
    rows = [
        ("Why", action.reason),
        ("Name", details.name),
        ("Call back", display_phone(callback)),
        ("Caller id", display_phone(action.caller)),
        ("Needs", " / ".join(part for part in (service, details.service_phrase) if part) or None),
        ("Address", details.address),
        ("ZIP code", details.postal_code),
        ("E-mail", details.email),
        ("Message", action.body),
        ("Called", format_when(now, time_zone)),
        ("Call", call_sid),
    ]
    table = "".join(f"<tr><th align='left'>{html.escape(label)}</th><td>{html.escape(str(value))}</td></tr>"
                    for label, value in rows if value)
    heard = "".join(f"<li>{html.escape(line)}</li>" for line in action.heard)
    body = (f"<html><body><p>{'<strong>Urgent.</strong> ' if action.urgent else ''}Frontdesk's phone receptionist "
            f"took a message for {html.escape(config.business.name)}. Please call back.</p>"
            f"<table>{table}</table>"
            + (f"<p>What the caller said:</p><ul>{heard}</ul>" if heard else "") + "</body></html>")
    recipients = (config.business.email,) if config.business.email else ()
    if not recipients:
        recipients = tuple(host.mailbox for host in config.hosts if host.kind == "person")[:1]
    return MailMessage(to=recipients, subject=subject, body_html=body, reply_to=())


def message_json(message) -> dict[str, Any]:
    return {"to": list(message.to), "subject": message.subject, "bodyHtml": message.body_html}
