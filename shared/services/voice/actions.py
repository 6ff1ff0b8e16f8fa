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
  cannot be sent in time stays on the call record and is sent again when the call ends.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.domain.dialog import (CheckHold, ConfirmHold, FindSlots, HoldUpdate, PlaceHold, ReleaseHold,
                                  SlotsFound, TakeMessage)
from shared.domain.dialog.offers import fitting, widened
from shared.domain.routing import RoutingContext
from shared.domain.understanding import search_window
from shared.errors import ExternalServiceError
from shared.logs import get_logger

log = get_logger(__name__)
UTC = timezone.utc

FIND_BUDGET_SECONDS = 4.0
START_BUDGET_SECONDS = 3.0
POLL_BUDGET_SECONDS = 1.5
REPLACE_WAIT_SECONDS = 1.5
MAIL_BUDGET_SECONDS = 4.0
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
                   ConfirmHold: self.confirm, ReleaseHold: self.release, TakeMessage: self.take_message}[type(action)]
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
        time_zone = self.config.business.time_zone
        event_type = self.config.event_type(action.event_type)
        context = RoutingContext(postal_code=action.postal_code)
        horizon = min(event_type.maximum_advance, SEARCH_HORIZON if not action.urgent else event_type.maximum_advance)
        start, end = search_window(action.times, self.now, horizon)
        # Times are offered as they will be when the caller picks one: a time that falls inside the minimum
        # notice while the caller thinks it over would otherwise be refused at the hold ("just taken").
        as_of = self.now + OFFER_KEEPS_FOR
        if end > start:  # the caller's own window first: usually a day or two, cheap to read
            result = await self.availability.slots(event_type, start, end, context=context, now=as_of)
            if (found := fitting(action.times, result.slots, action.exclude, time_zone)) is not None:
                return found
        result = await self.availability.slots(event_type, self.now, self.now + horizon, context=context,
                                               now=as_of)
        return widened(action.times, result.slots, action.exclude, start, time_zone)

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


def hold_update(key: str, status, *, confirming: bool) -> HoldUpdate:
    """The dialog's view of a booking saga's status (None: not started yet)."""
    if not status:
        return HoldUpdate(key, "pending")
    runtime = _runtime(status)
    custom = _decoded(getattr(status, "custom_status", None)) or {}
    stage = custom.get("stage") if isinstance(custom, dict) else None
    if runtime == "Completed":
        output = _decoded(getattr(status, "output", None)) or {}
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


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


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
