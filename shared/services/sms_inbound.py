"""Two-way SMS: what Frontdesk does with a text a customer sends, and with a carrier's delivery report.

Both gateways end here (triggers/sms_inbound.py checks the request and parses the gateway's shape):

- **Keywords** (:func:`classify`, pure). STOP and its carrier synonyms (STOPALL, UNSUBSCRIBE, CANCEL, END,
  QUIT, OPTOUT, REVOKE) and START (UNSTOP, YES) are recorded through ``OptOutStore.apply_inbound`` whatever
  else the text means: gateways honour them at the carrier level, so Frontdesk must agree. The gateways
  answer STOP and START themselves; Frontdesk adds no reply (it could not text an opted-out number anyway).
  HELP / INFO answers with the business's name and number.
- ``C`` (or a sentence starting "cancel ...": a bare CANCEL is a carrier opt-out word and is treated as one)
  asks to cancel the sender's next upcoming booking. It changes nothing by itself: Frontdesk answers
  "Reply C again to confirm cancelling your ... on Tue, Dec 8 at 10:00 AM CST (or YES)" and remembers the question
  for ``SMS__CANCEL_CONFIRM_MINUTES``. Only another message -- ``C`` or ``YES`` within that time, from the same
  number, while the booking is still confirmed and upcoming -- starts the cancel saga (the one
  ``POST /api/bookings/{id}/cancel`` starts), and the owner is e-mailed. A duplicate delivery of the first
  ``C`` is dropped before it gets here, so one stray ``C`` can never cancel.
- ``R`` (or RESCHEDULE) answers with the booking's manage link (shared/services/manage_links.py), or the
  business's number when links are not configured.
- Anything else is forwarded to the owner by e-mail with the booking's context (service, time, technician)
  and acknowledged. A number with no upcoming booking gets "We couldn't find an upcoming visit for this
  number; call us at ..." and the owner still gets the message.

Delivery reports (:func:`handle_report`) find the text through its gateway message id (recorded when the
gateway accepted it, shared/adapters/sms_intents.py), record the outcome on the booking's SMS notification,
and e-mail the owner once per booking and number when the failure is permanent (landline, blocked,
unreachable, unsubscribed).

Logs carry booking ids and masked numbers, never a full number or the text itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from shared import clock
from shared.domain.booking import Booking, BookingStatus
from shared.errors import ExternalServiceError
from shared.logs import get_logger, log_context, mask_phone
from shared.ports import MailMessage
from shared.services import waitlist

log = get_logger(__name__)

Provider = Literal["twilio", "acs"]
Command = Literal["opt_out", "opt_in", "help", "cancel", "yes", "reschedule", "text"]
StartCancel = Callable[[Booking, str], Awaitable[None]]
AnswerOffer = Callable[[str, str], Awaitable[str | None]]  # (sender, text) -> reply to a waitlist offer, or None

HELP_WORDS = frozenset({"HELP", "INFO"})
CANCEL_WORDS = frozenset({"C"})
RESCHEDULE_WORDS = frozenset({"R", "RESCHEDULE"})
CANCEL_REASON = "cancelled by the customer by text"
MAX_FORWARDED_CHARS = 1600  # Twilio's longest concatenated message


@dataclass(frozen=True, slots=True)
class InboundText:
    """A text a customer sent to the business's number."""

    provider: Provider
    message_id: str  # Twilio MessageSid, ACS messageId (or the Event Grid event id)
    sender: str  # E.164
    text: str
    received_at: datetime


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What the carrier said about a text Frontdesk sent: ``delivered`` True/False, or None while in transit."""

    provider: Provider
    message_id: str
    delivered: bool | None
    permanent: bool = False
    detail: str = ""


# ---------------------------------------------------------------- pure rules

def _word(text: str | None) -> str:
    return re.sub(r"[^A-Z]", "", (text or "").strip().upper())


def classify(text: str | None) -> Command:
    """What a text asks for. Carrier keywords win: CANCEL alone is an opt-out (as every US carrier and both
    gateways treat it), YES is ``yes`` (a confirmation here; the caller also records it as an opt-in)."""
    from shared.adapters.optouts import classify_keyword
    word = _word(text)
    keyword = classify_keyword(text)
    if keyword == "opt_out":
        return "opt_out"
    if word == "YES":
        return "yes"
    if keyword == "opt_in":
        return "opt_in"
    if word in HELP_WORDS:
        return "help"
    if word in CANCEL_WORDS:
        return "cancel"
    first = (text or "").strip().split(maxsplit=1)
    if len(first) == 2 and _word(first[0]) == "CANCEL":
        return "cancel"  # "cancel my appointment": not the bare carrier keyword
    if word in RESCHEDULE_WORDS:
        return "reschedule"
    return "text"


def is_confirmation(text: str | None) -> bool:
    """A text that confirms a pending cancellation: ``C`` again or ``YES``."""
    return _word(text) in CANCEL_WORDS | {"YES"}


def next_upcoming(bookings: list[Booking], now: datetime) -> Booking | None:
    """The earliest confirmed booking that has not started yet."""
    upcoming = [b for b in bookings if b.status is BookingStatus.CONFIRMED and b.start > now]
    return min(upcoming, key=lambda b: (b.start, b.id), default=None)


# Twilio error codes that mean this number will not get texts from us (docs: twilio.com/docs/api/errors).
TWILIO_PERMANENT = {
    30003: "unreachable destination handset",
    30004: "message blocked",
    30005: "unknown destination handset",
    30006: "landline or unreachable carrier",
    21610: "the recipient unsubscribed (STOP)",
    21614: "not a mobile number",
    21211: "invalid phone number",
}
TWILIO_DELIVERED = {"delivered", "read"}
TWILIO_FAILED = {"undelivered", "failed"}
# ACS delivery report details that will not change on a retry.
ACS_PERMANENT_MARKERS = ("blocked", "landline", "unreachable", "invalid", "unknown", "not a mobile", "opted out",
                         "opt-out", "not supported", "does not exist", "unsubscribed")


def twilio_report(message_id: str, status: str, error_code: str | None) -> DeliveryReport:
    """A Twilio status callback (``MessageStatus``, ``ErrorCode``) as a :class:`DeliveryReport`."""
    status = (status or "").lower()
    if status in TWILIO_DELIVERED:
        return DeliveryReport("twilio", message_id, True)
    if status not in TWILIO_FAILED:
        return DeliveryReport("twilio", message_id, None)
    code = int(error_code) if (error_code or "").isdigit() else None
    reason = TWILIO_PERMANENT.get(code) if code is not None else None
    detail = f"Twilio {status}" + (f" ({code}: {reason})" if reason else f" (error {code})" if code else "")
    return DeliveryReport("twilio", message_id, False, permanent=reason is not None, detail=detail)


def acs_report(message_id: str, delivery_status: str, details: str | None) -> DeliveryReport:
    """An ACS ``SMSDeliveryReportReceived`` (``deliveryStatus``, ``deliveryStatusDetails``) as a report."""
    status = (delivery_status or "").lower()
    if status == "delivered":
        return DeliveryReport("acs", message_id, True)
    if status != "failed":
        return DeliveryReport("acs", message_id, None)
    text = (details or "").strip()
    permanent = any(marker in text.lower() for marker in ACS_PERMANENT_MARKERS)
    return DeliveryReport("acs", message_id, False, permanent=permanent, detail=f"ACS failed ({text[:200]})")


def booking_of_text_key(key: str | None) -> str | None:
    """The booking id in a booking text's key (``booking:<id>:<change>:<change id>:sms``), or None."""
    match = re.match(r"^booking:(.+?):(created|rescheduled|cancelled):", key or "")
    return match.group(1) if match else None


# ---------------------------------------------------------------- wording

def _business_phone(config) -> str:
    from shared.services.notifications import display_phone
    return display_phone(config.business.phone) or "the office"


def help_text(config) -> str:
    from shared.services.notifications import one_line
    return (f"{one_line(config.business.name, 80)}: appointment texts. Call {_business_phone(config)} for help. "
            "Reply C to cancel your next visit, R to change it, STOP to opt out.")


def _visit(booking: Booking, config) -> str:
    from shared.services.notifications import format_when, one_line
    event_type = config.event_types_by_key.get(booking.event_type_key)
    name = one_line(event_type.name, 60) if event_type else "visit"
    return f"{name} on {format_when(booking.start, booking.time_zone)}"


def confirm_prompt(booking: Booking, config, minutes: int) -> str:
    return (f"Reply C again to confirm cancelling your {_visit(booking, config)} (or YES). "
            f"Nothing changes if you don't reply within {minutes} minutes.")


def no_booking_text(config) -> str:
    return f"We couldn't find an upcoming visit for this number; call us at {_business_phone(config)}."


# ---------------------------------------------------------------- the owner's e-mail

def _owner_rows(booking: Booking | None, config, sender: str) -> list[tuple[str, str]]:
    from shared.services.notifications import display_phone, format_when
    rows = [("From", display_phone(sender) or sender)]
    if booking is None:
        return rows + [("Booking", "none upcoming for this number")]
    event_type = config.event_types_by_key.get(booking.event_type_key)
    host = config.hosts_by_id.get(booking.host_id)
    return rows + [("Customer", booking.customer.name),
                   ("Service", event_type.name if event_type else booking.event_type_key),
                   ("When", format_when(booking.start, host.time_zone if host else booking.time_zone)),
                   ("Technician", host.display_name if host else booking.host_id),
                   ("Booking id", booking.id)]


def owner_message(config, subject: str, intro: str, booking: Booking | None, sender: str,
                  text: str | None = None) -> MailMessage:
    """An e-mail to the business about a customer's text; every value escaped."""
    cells = "".join(f"<tr><th align=\"left\">{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                    for k, v in _owner_rows(booking, config, sender))
    quoted = (f"<blockquote style=\"white-space:pre-wrap\">{html.escape(text[:MAX_FORWARDED_CHARS])}</blockquote>"
              if text is not None else "")
    body = f"<html><body><p>{html.escape(intro)}</p>{quoted}<table>{cells}</table></body></html>"
    host = config.hosts_by_id.get(booking.host_id) if booking is not None else None
    to = [config.business.email] if config.business.email else [host.mailbox if host else config.hosts[0].mailbox]
    return MailMessage(to=tuple(to), subject=subject, body_html=body)


async def mail_owner(services, message: MailMessage, booking: Booking | None) -> None:
    """Send from the office mailbox, falling back to the host's (as the new-booking e-mail does)."""
    from shared.errors import NotFoundError
    config = services.business
    host = config.hosts_by_id.get(booking.host_id) if booking is not None else None
    senders = [m for m in (config.business.email, host.mailbox if host else config.hosts[0].mailbox) if m]
    for index, sender in enumerate(senders):
        try:
            await services.mail.send_mail(sender, message)
            return
        except NotFoundError:
            if index == len(senders) - 1:
                raise
            log.warning("the business e-mail is not a mailbox; sending from the host's")


# ---------------------------------------------------------------- inbound texts

class InboundSms:
    """Acts on inbound texts and delivery reports for one set of services."""

    def __init__(self, services, ledger=None, intents=None):
        from shared.adapters.sms_intents import SmsIntentStore
        from shared.adapters.store_sms_inbound import SmsInboundLedger
        self.services = services
        self.ledger = ledger or SmsInboundLedger(services.settings)
        self.intents = intents or SmsIntentStore(services.settings)

    async def receive(self, message: InboundText, start_cancel: StartCancel,
                      answer_offer: AnswerOffer | None = None) -> str | None:
        """Act on one inbound text once; the reply to send back, or None. Repeats change nothing (None).

        ``answer_offer`` takes a YES to a freed time offered from the waitlist (``waitlist.handle_waitlist_reply``
        with the trigger's durable client); an open offer wins over a pending cancel question.
        """
        with log_context(sms_message_id=message.message_id):
            if not await self.ledger.claim(message.provider, message.message_id, now=clock.now()):
                log.info("inbound text %s from %s was already handled", message.message_id,
                         mask_phone(message.sender))
                return None
            try:
                return await self._act(message, start_cancel, answer_offer)
            except BaseException:
                await self.ledger.release(message.provider, message.message_id)
                raise

    async def _act(self, message: InboundText, start_cancel: StartCancel,
                   answer_offer: AnswerOffer | None) -> str | None:
        services, config = self.services, self.services.business
        command = classify(message.text)
        await services.opt_outs.apply_inbound(message.sender, message.text, provider=message.provider,
                                              at=message.received_at)
        log.info("inbound text from %s: %s", mask_phone(message.sender), command)
        if command in ("opt_out", "opt_in"):
            return None  # the gateway answers these keywords itself
        if command == "help":
            return help_text(config)
        now = clock.now()
        accepts_offer = answer_offer is not None and waitlist.is_acceptance(message.text)
        if accepts_offer and await waitlist.has_open_offer(services, message.sender, now):
            return await answer_offer(message.sender, message.text)
        if is_confirmation(message.text):
            done = await self._confirm_cancel(message, now, start_cancel)
            if done is not None:
                return done or None
            if command == "yes":  # no question pending: a late YES to an offer hears it was taken or expired
                return await answer_offer(message.sender, message.text) if accepts_offer else None
        stored = await services.bookings.find_by_phone(message.sender)
        booking = next_upcoming([item.value for item in stored], now)
        if booking is None:
            await self._forward(message, None, "A text from a number with no upcoming visit")
            return no_booking_text(config)
        with log_context(booking_id=booking.id):
            if command == "cancel":
                return await self._ask_cancel(message, booking, now)
            if command == "reschedule":
                return self._manage_reply(booking)
            await self._forward(message, booking, "A customer replied by text")
            from shared.services.notifications import one_line
            return f"Thanks, we've passed your message on to {one_line(config.business.name, 80)}."

    async def _ask_cancel(self, message: InboundText, booking: Booking, now: datetime) -> str:
        from shared.adapters.store_sms_inbound import PendingCancel
        minutes = self.services.settings.sms.cancel_confirm_minutes
        await self.ledger.ask_cancel(message.sender, PendingCancel(booking.id, message.message_id,
                                                                   now + timedelta(minutes=minutes)))
        log.info("asked %s to confirm cancelling", mask_phone(message.sender))
        return confirm_prompt(booking, self.services.business, minutes)

    async def _confirm_cancel(self, message: InboundText, now: datetime, start_cancel: StartCancel) -> str | None:
        """Cancel when a question is pending, current and asked by another message; '' when done, None when
        there was nothing to confirm."""
        pending = await self.ledger.pending_cancel(message.sender)
        if pending is None or pending.asked_by == message.message_id:
            return None
        if pending.expires_at <= now:
            await self.ledger.take_cancel(message.sender)
            return None
        stored = await self.services.bookings.get(pending.booking_id)
        booking = stored.value if stored is not None else None
        if (booking is None or booking.status is not BookingStatus.CONFIRMED or booking.start <= now
                or booking.customer.phone != message.sender):
            await self.ledger.take_cancel(message.sender)
            return None
        if not await self.ledger.take_cancel(message.sender):
            return ""  # a concurrent confirmation took it: that one cancels
        with log_context(booking_id=booking.id):
            await start_cancel(booking, CANCEL_REASON)
            log.info("cancel saga started for a confirmed text from %s", mask_phone(message.sender))
            config = self.services.business
            try:
                await mail_owner(self.services, owner_message(
                    config, f"Cancelled by text: {_visit(booking, config)}",
                    "The customer cancelled this visit by text (C, then C or YES to confirm). Frontdesk is freeing "
                    "the time, removing the Outlook event and cancelling the Dynamics appointment.", booking,
                    message.sender), booking)
            except ExternalServiceError as exc:
                # The cancellation stands (the saga runs); handling the text again would not tell the owner
                # either, since the question was consumed. Outlook and Dynamics show the cancellation.
                log.warning("the owner could not be e-mailed about a cancellation by text: %s", type(exc).__name__)
        return ""  # the cancel saga texts the customer that it is cancelled

    def _manage_reply(self, booking: Booking) -> str:
        from shared.services import manage_links
        config = self.services.business
        link = manage_links.link_for(self.services.settings, booking)
        if link:
            return f"Change or cancel your {_visit(booking, config)}: {link}"
        return f"To change your {_visit(booking, config)}, call us at {_business_phone(config)}."

    async def _forward(self, message: InboundText, booking: Booking | None, intro: str) -> None:
        config = self.services.business
        from shared.services.notifications import display_phone
        subject = f"Text from {display_phone(message.sender) or message.sender}" + (
            f" about {_visit(booking, config)}" if booking else "")
        await mail_owner(self.services, owner_message(config, subject, intro, booking, message.sender,
                                                      message.text), booking)
        log.info("forwarded a text from %s to the owner", mask_phone(message.sender))

    # ------------------------------------------------------------ delivery reports

    async def report(self, report: DeliveryReport) -> str:
        """Record a delivery report on its booking; returns what happened (for logs and tests)."""
        if report.delivered is None:
            return "in_transit"
        booking_id = booking_of_text_key(await self.intents.key_of_message(report.message_id))
        if booking_id is None:
            log.info("delivery report for a text that is not a booking's (%s)", report.message_id)
            return "unknown_message"
        from shared.services.booking import update_booking
        now = clock.now()
        delivery = "delivered" if report.delivered else "failed"
        with log_context(booking_id=booking_id):
            booking = await update_booking(self.services, booking_id, lambda b: b.record_delivery(
                "sms", delivery, now, detail=report.detail or None, permanent=report.permanent))
            if booking is None:
                return "unknown_booking"
            log.info("sms delivery report: %s%s", delivery, " (permanent)" if report.permanent else "")
            if delivery == "failed" and report.permanent:
                await self._tell_owner_undeliverable(booking, report, now)
        return delivery

    async def _tell_owner_undeliverable(self, booking: Booking, report: DeliveryReport, now: datetime) -> None:
        phone = booking.customer.phone or ""
        marker = f"undeliverable:{booking.id}:{phone}"
        if not await self.ledger.once(marker, now=now):
            return
        config = self.services.business
        try:
            await mail_owner(self.services, owner_message(
                config, f"Could not text the customer: {_visit(booking, config)}",
                f"Frontdesk's text to this customer could not be delivered ({report.detail}). The number may be "
                "a landline, blocked or unreachable: please call them.", booking, phone), booking)
        except BaseException:
            # Not told after all: let the next report try again.
            await self.ledger.forget_once(marker)
            raise
        log.info("owner told the customer's number cannot get texts")
